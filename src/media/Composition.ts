/**
 * The picture behind a draft card: a text-free plate, drawn the way a storyboard artist blocks a panel —
 * a sky and a ground, a horizon, silhouettes of a figure, a tower, a foreground shoulder — composed by the
 * shot's framing (wide, close-up, low angle...) and placed by its camera move, in tones of the palette.
 * The Ken Burns motion moves this plate; the lettering never moves (see `Card.ts`).
 *
 * The plate is drawn in one grey `geq` expression at a reduced size (`DRAW_PIXELS`): each shape lays its
 * *level* (figure 0 … light 255) over what is below it, antialiased. A `lutrgb` then maps levels to the
 * palette's tones (a table of 256 entries per channel, so the colour costs nothing per pixel), and the result
 * is scaled up to the frame: soft edges suit a sketch, and `geq` costs per pixel.
 *
 * Surprises:
 * - `geq` runs its expression in slice threads that share the `st()`/`ld()` registers: with more than one
 *   filter thread the registers race and the picture fills with streaks. The command runs the filtergraph in
 *   one thread (`Encode.graphThreads`).
 * - Tones stay dark and within a narrow band of brightness (`MAX_LUMA`): white lettering must read over any
 *   part of the plate, and the border check of the film (test/media/border.ts) tells lettering from picture
 *   by brightness.
 */
import type { CameraMove } from "../Shot.ts"
import { drawGrey } from "./Expr.ts"

/** Colours of a shot: today one per sentence; the director's places and characters will set them. */
export interface Palette {
  /** The place's colour (#rrggbb): sky, ground and light are tones of it. */
  readonly key: string
  /** The character's colour (#rrggbb) for figures; a deep tone of the key without one. */
  readonly figure?: string | undefined
}

export interface CompositionInput {
  /** The framing, as the planner or an LLM names it ("wide", "close-up", "low-angle"...). */
  readonly shotType: string
  readonly camera: CameraMove
  readonly palette: Palette
  /** The shot's place in its sentence (1-based): neighbours differ in composition and tone. */
  readonly index: number
  /** The band of the frame the lettering leaves open (fractions of the height): subjects are staged in it. */
  readonly stage?: { readonly top: number; readonly bottom: number } | undefined
}

/** Pixels drawn per plate (then scaled to the frame): about 320x180. */
const DRAW_PIXELS = 320 * 180
/** No tone of the plate is brighter than this (0–255 luma), so white lettering always stands out. */
export const MAX_LUMA = 140

type Rgb = readonly [number, number, number]

const parseHex = (colour: string | undefined): Rgb | undefined => {
  const hex = /^#?([0-9a-f]{6})$/i.exec((colour ?? "").trim())?.[1]
  return hex === undefined ? undefined : ([0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as unknown as Rgb)
}

const luma = ([r, g, b]: Rgb) => 0.299 * r + 0.587 * g + 0.114 * b

/** The colour scaled so its luma is `target` (and no channel passes 255). */
const toLuma = (c: Rgb, target: number): Rgb => {
  const l = Math.max(1, luma(c))
  const k = Math.min(target / l, 255 / Math.max(1, ...c))
  return c.map((v) => Math.round(v * k)) as unknown as Rgb
}

const mix = (a: Rgb, b: Rgb, t: number): Rgb => a.map((v, i) => Math.round(v * (1 - t) + b[i]! * t)) as unknown as Rgb

const WARM: Rgb = [255, 214, 150]

export interface Tones {
  readonly skyTop: Rgb
  readonly skyLow: Rgb
  readonly ground: Rgb
  readonly far: Rgb
  readonly figure: Rgb
  readonly light: Rgb
}

/** The plate's tones from the palette; `index` shifts them a little so shots of a sentence differ. */
export const tones = (palette: Palette, index: number): Tones => {
  const key = parseHex(palette.key) ?? [0x33, 0x55, 0x77]
  const figure = parseHex(palette.figure)
  const lift = [0, 10, -6, 6][(index - 1) % 4] ?? 0
  return {
    skyTop: toLuma(key, 52 + lift),
    skyLow: toLuma(mix(key, WARM, 0.35), 92 + lift),
    ground: toLuma(key, 34 + lift / 2),
    far: toLuma(mix(key, WARM, 0.1), 62 + lift),
    figure: figure !== undefined ? toLuma(figure, 26) : toLuma(key, 14),
    light: toLuma(mix(key, WARM, 0.75), MAX_LUMA - 10)
  }
}

/** Where each tone sits on the grey scale `geq` draws in; `lutrgb` maps the scale back to colours. */
const levels: Readonly<Record<keyof Tones, number>> = { figure: 0, ground: 70, far: 110, skyTop: 150, skyLow: 200, light: 255 }

/** A `lutrgb` channel expression: piecewise linear between the tones at their levels. */
const lut = (t: Tones, i: 0 | 1 | 2): string => {
  const stops = (Object.keys(levels) as Array<keyof Tones>).map((k) => [levels[k], t[k][i]] as const).sort((a, b) => a[0] - b[0])
  let expression = String(stops[stops.length - 1]![1])
  for (let k = stops.length - 2; k >= 0; k--) {
    const [l0, c0] = stops[k]!
    const [l1, c1] = stops[k + 1]!
    expression = `if(lt(val,${l1}),${c0}+(${c1 - c0})*(val-${l0})/${l1 - l0},${expression})`
  }
  return expression
}

// --- shapes -----------------------------------------------------------------------------------------
// Coverage expressions in [0, 1] over the drawing's pixels X, Y, antialiased over about one pixel.

type Cov = string
const n = (v: number) => (Math.round(v * 100) / 100).toString()

interface Canvas {
  readonly w: number
  readonly h: number
  /** The open band's top and height in pixels: vertical positions 0–1 of a scene run over it. */
  readonly top: number
  readonly band: number
  /** The short side of the band: figure sizes follow it, so a 9:16 or 1:1 frame shows the same figure. */
  readonly s: number
  /** Mirror horizontally (the subject on the side the camera moves to). */
  readonly flip: boolean
}

const px = (c: Canvas, u: number) => (c.flip ? 1 - u : u) * c.w
const py = (c: Canvas, v: number) => c.top + v * c.band
const cover = (signedDistance: string) => `clip((${signedDistance})+0.5,0,1)`

const disc = (c: Canvas, u: number, v: number, r: number): Cov =>
  cover(`${n(r * c.s)}-hypot(X-${n(px(c, u))},Y-${n(py(c, v))})`)

const ellipse = (c: Canvas, u: number, v: number, rx: number, ry: number): Cov => {
  const a = rx * c.s
  const b = ry * c.s
  return cover(`(1-hypot((X-${n(px(c, u))})/${n(a)},(Y-${n(py(c, v))})/${n(b)}))*${n(Math.min(a, b))}`)
}

/** A box from (u0, v0) to (u1, v1) in frame fractions. */
const box = (c: Canvas, u0: number, v0: number, u1: number, v1: number): Cov => {
  const [x0, x1] = [px(c, u0), px(c, u1)].sort((a, b) => a - b) as [number, number]
  return cover(`min(min(X-${n(x0)},${n(x1)}-X),min(Y-${n(py(c, v0))},${n(py(c, v1))}-Y))`)
}

/** A tapering shape: at v0 it spans half-width w0 around u, at v1 half-width w1 (a tower, a road). */
const taper = (c: Canvas, u: number, v0: number, w0: number, v1: number, w1: number): Cov => {
  const y0 = py(c, v0)
  const y1 = py(c, v1)
  const cx = px(c, u)
  const a = w0 * c.s
  const slope = (w1 * c.s - a) / (y1 - y0)
  const half = `(${n(a)}+(Y-${n(y0)})*${n(slope)})`
  return cover(`min(${half}-abs(X-${n(cx)}),min(Y-${n(y0)},${n(y1)}-Y))`)
}

/** Below the line through (u0, v0) and (u1, v1): ground, a hill's side. */
const below = (c: Canvas, u0: number, v0: number, u1: number, v1: number): Cov => {
  const x0 = px(c, u0)
  const y0 = py(c, v0)
  const slope = (py(c, v1) - y0) / (px(c, u1) - x0)
  return cover(`Y-(${n(y0)}+(X-${n(x0)})*${n(slope)})`)
}

/** A line from (u0, v0) to (u1, v1), `t` (in short-side fractions) thick. */
const line = (c: Canvas, u0: number, v0: number, u1: number, v1: number, t: number): Cov => {
  const [x0, y0, x1, y1] = [px(c, u0), py(c, v0), px(c, u1), py(c, v1)]
  const len = Math.hypot(x1 - x0, y1 - y0)
  const dx = (x1 - x0) / len
  const dy = (y1 - y0) / len
  const along = `((X-${n(x0)})*${n(dx)}+(Y-${n(y0)})*${n(dy)})`
  return cover(`min(${n((t * c.s) / 2)}-abs((X-${n(x0)})*${n(dy)}-(Y-${n(y0)})*${n(dx)}),min(${along},${n(len)}-${along}))`)
}

const union = (...covs: ReadonlyArray<Cov>): Cov => covs.reduce((a, b) => `max(${a},${b})`)
const faint = (cov: Cov, alpha: number): Cov => `${cov}*${n(alpha)}`

/** Short-side units as fractions of the height and the width (figures keep their shape at any aspect). */
const dv = (c: Canvas, d: number) => (d * c.s) / c.band
const du = (c: Canvas, d: number) => (d * c.s) / c.w

/** A standing figure: head, shoulders tapering to the feet at (u, v); `size` is its height. */
const figure = (c: Canvas, u: number, v: number, size: number): Cov => {
  const r = size * 0.13
  return union(disc(c, u, v - dv(c, size - r), r), taper(c, u, v - dv(c, size - 2.1 * r), size * 0.17, v, size * 0.11))
}

/** Head and shoulders, the head at (u, v) with radius r; the shoulders run off the bottom of the frame. */
const bust = (c: Canvas, u: number, v: number, r: number): Cov =>
  union(disc(c, u, v, r), ellipse(c, u, v + dv(c, 2.7 * r), r * 2.1, r * 1.7))

/** A tower with a lit top: its foot at (u, v), `size` tall. */
const tower = (c: Canvas, u: number, v: number, size: number): { body: Cov; light: Cov } => {
  const top = v - dv(c, size)
  return {
    body: union(
      taper(c, u, top + dv(c, size * 0.14), size * 0.07, v, size * 0.12),
      box(c, u - du(c, size * 0.08), top, u + du(c, size * 0.08), top + dv(c, size * 0.16))
    ),
    light: faint(disc(c, u, top + dv(c, size * 0.08), size * 0.16), 0.55)
  }
}

// --- compositions -----------------------------------------------------------------------------------

interface Layer {
  readonly tone: keyof Tones
  readonly cov: Cov
}

interface Scene {
  /** Where sky meets ground, as a fraction of the height; undefined for a plain backdrop. */
  readonly horizon: number | undefined
  readonly layers: ReadonlyArray<Layer>
}

const framings = ["wide", "aerial", "medium", "close-up", "detail", "over-the-shoulder", "low-angle", "high-angle"] as const
type Framing = (typeof framings)[number]

/** The framing a shot type names; an unknown one (an LLM's own words) gets one picked by its text. */
export const framingOf = (shotType: string, index: number): Framing => {
  const t = shotType.toLowerCase()
  if (/aerial|bird|overhead|drone/.test(t)) return "aerial"
  if (/over.?the.?shoulder|ots/.test(t)) return "over-the-shoulder"
  if (/low.?angle|worm/.test(t)) return "low-angle"
  if (/high.?angle/.test(t)) return "high-angle"
  if (/extreme|detail|insert|macro/.test(t)) return "detail"
  if (/close/.test(t)) return "close-up"
  if (/medium|mid|two.?shot|cowboy/.test(t)) return "medium"
  if (/wide|long|establish|full|master/.test(t)) return "wide"
  let h = index
  for (const ch of t) h = (h * 31 + ch.charCodeAt(0)) >>> 0
  return framings[h % framings.length]!
}

const scenes: Record<Framing, (c: Canvas) => Scene> = {
  wide: (c) => {
    const t = tower(c, 0.74, 0.64, 0.5)
    return {
      horizon: 0.64,
      layers: [
        { tone: "far", cov: union(ellipse(c, 0.2, 0.7, 0.5, 0.12), ellipse(c, 0.95, 0.68, 0.4, 0.08)) },
        { tone: "light", cov: t.light },
        { tone: "figure", cov: t.body },
        { tone: "figure", cov: figure(c, 0.3, 0.8, 0.22) }
      ]
    }
  },
  aerial: (c) => ({
    horizon: undefined,
    layers: [
      { tone: "far", cov: union(box(c, 0.08, 0.12, 0.34, 0.4), box(c, 0.62, 0.56, 0.9, 0.86), box(c, 0.4, 0.66, 0.54, 0.92)) },
      { tone: "ground", cov: line(c, -0.1, 0.95, 1.1, 0.2, 0.09) },
      { tone: "skyLow", cov: faint(line(c, -0.1, 0.95, 1.1, 0.2, 0.012), 0.8) },
      { tone: "figure", cov: union(disc(c, 0.58, 0.42, 0.03), faint(ellipse(c, 0.61, 0.45, 0.05, 0.02), 0.6)) }
    ]
  }),
  medium: (c) => ({
    horizon: 0.72,
    layers: [
      { tone: "far", cov: tower(c, 0.84, 0.72, 0.32).body },
      { tone: "light", cov: faint(disc(c, 0.4, 0.38, 0.26), 0.35) },
      { tone: "figure", cov: bust(c, 0.38, 0.42, 0.12) }
    ]
  }),
  "close-up": (c) => ({
    horizon: undefined,
    layers: [
      { tone: "light", cov: faint(disc(c, 0.66, 0.4, 0.34), 0.45) },
      { tone: "figure", cov: bust(c, 0.6, 0.48, 0.25) }
    ]
  }),
  detail: (c) => ({
    horizon: undefined,
    layers: [
      { tone: "figure", cov: disc(c, 0.5, 0.52, 0.32) },
      { tone: "far", cov: disc(c, 0.5, 0.52, 0.25) },
      { tone: "light", cov: faint(disc(c, 0.5, 0.52, 0.14), 0.8) },
      { tone: "figure", cov: faint(disc(c, 0.46, 0.48, 0.05), 0.5) }
    ]
  }),
  "over-the-shoulder": (c) => ({
    horizon: 0.62,
    layers: [
      { tone: "far", cov: ellipse(c, 0.7, 0.66, 0.6, 0.1) },
      { tone: "figure", cov: figure(c, 0.68, 0.7, 0.3) },
      { tone: "figure", cov: bust(c, 0.1, 0.55, 0.3) }
    ]
  }),
  "low-angle": (c) => ({
    horizon: 0.92,
    layers: [
      { tone: "light", cov: faint(disc(c, 0.55, 0.1, 0.2), 0.6) },
      { tone: "figure", cov: taper(c, 0.55, 0.06, 0.05, 1.02, 0.26) },
      { tone: "far", cov: union(line(c, 0.55, 0.06, 0.05, 1.02, 0.012), line(c, 0.55, 0.06, 1.05, 1.02, 0.012)) },
      { tone: "figure", cov: figure(c, 0.18, 1.05, 0.62) }
    ]
  }),
  "high-angle": (c) => ({
    horizon: 0.18,
    layers: [
      { tone: "far", cov: union(line(c, 0.5, 0.18, 0.0, 1.0, 0.01), line(c, 0.5, 0.18, 1.0, 1.0, 0.01), line(c, 0.5, 0.18, 0.5, 1.0, 0.01)) },
      { tone: "figure", cov: faint(ellipse(c, 0.6, 0.7, 0.12, 0.025), 0.6) },
      { tone: "figure", cov: figure(c, 0.56, 0.7, 0.14) }
    ]
  })
}

/** Moves toward the left put the subject on the left, so the move arrives at it. */
const flips = (camera: CameraMove, index: number) =>
  camera === "pan-left" || ((camera === "push-in" || camera === "pull-out") && index % 2 === 0)

/** The drawing size for a frame: about `DRAW_PIXELS`, even, never larger than the frame. */
export const drawSize = (width: number, height: number): { w: number; h: number } => {
  const k = Math.min(1, Math.sqrt(DRAW_PIXELS / (width * height)))
  const even = (v: number) => Math.max(2, Math.round(v / 2) * 2)
  return { w: even(width * k), h: even(height * k) }
}

/**
 * The plate: its grey levels drawn at the drawing size (the composed expression, evaluated in-process by
 * `Expr.ts` as `geq=lum` would), and the filters that colour them and scale them to width×height (input: a
 * grey frame of the drawing size).
 */
export const plate = (input: CompositionInput, width: number, height: number) => {
  const { w, h } = drawSize(width, height)
  // A band of at least half the frame: on a small frame the lettering may leave less, and figures would vanish.
  const top = Math.min(input.stage?.top ?? 0, 0.25)
  const bottom = Math.max(input.stage?.bottom ?? 1, top + 0.5)
  const band = (bottom - top) * h
  const c: Canvas = { w, h, top: top * h, band, s: Math.min(w, band), flip: flips(input.camera, input.index) }
  const scene = scenes[framingOf(input.shotType, input.index)](c)
  const t = tones(input.palette, input.index)
  const horizonY = scene.horizon === undefined ? 1.2 * h : py(c, scene.horizon)
  // Sky: a gradient from the top to the horizon; ground below it, darker toward the bottom.
  const sky = `(${levels.skyTop}+${levels.skyLow - levels.skyTop}*min(1,Y/${n(horizonY)}))`
  const ground = `(${levels.ground}*(1-0.4*(Y-${n(horizonY)})/${n(h)}))`
  const steps = [`st(0,if(lt(Y,${n(horizonY)}),${sky},${ground}))`]
  for (const layer of scene.layers) steps.push(`st(1,${layer.cov})`, `st(0,ld(0)*(1-ld(1))+${levels[layer.tone]}*ld(1))`)
  const expression = `${steps.join(";")};ld(0)`
  return {
    w,
    h,
    expression,
    grey: () => drawGrey(expression, w, h),
    filters: [
      "format=rgb24",
      `lutrgb=r='${lut(t, 0)}':g='${lut(t, 1)}':b='${lut(t, 2)}'`,
      `scale=${width}:${height}:flags=bicubic`,
      "vignette=PI/5",
      "format=rgb24"
    ] as ReadonlyArray<string>
  }
}

/**
 * The plate as filters drawing it in ffmpeg (`geq`), after a source frame of the drawing size (`color=s=WxH`):
 * what the card did before the levels were drawn in-process; kept to check the two agree.
 */
export const plateFilters = (input: CompositionInput, width: number, height: number): ReadonlyArray<string> => {
  const p = plate(input, width, height)
  // One level of quotes protects the expressions' commas in the graph; they hold no ':' (our own numbers).
  return ["format=gray", `geq=lum='${p.expression}'`, ...p.filters]
}
