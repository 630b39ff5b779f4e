/**
 * The draft profile's storyboard card, in two layers, so that the camera can move the picture and never the
 * words:
 * - the plate: a text-free picture composed for the shot (`Composition.ts`), which Ken Burns moves;
 * - the lettering: the sentence (the main text, large, at the bottom), the shot's panel line ("Low angle: she
 *   climbs the spiral stairs") and its label ("shot 2 of 3 · 2.0 s · → pan right") on translucent boxes,
 *   all inside the title-safe area, as a transparent PNG laid over every frame unmoved.
 * The card also writes the two composed (`image`), the still the storyboard page shows.
 *
 * Lettering is measured with the font's own advance widths (`Font.ts`) and shrinks to fit before anything is
 * cut: the sentence keeps the most room, and only a sentence too long for the smallest size ends in "…".
 *
 * Surprises:
 * - Text never enters a filtergraph: each line goes through its own `textfile=` with `expansion=none`, so
 *   quotes, colons, `%` and backslashes in a sentence or prompt are just text. Only paths are escaped.
 * - drawtext puts the top of a line's tallest glyph at `y`; `y=BASELINE-max_glyph_a` puts every line on its
 *   baseline instead, so lines without capitals do not ride up.
 * - drawbox and drawtext in this ffmpeg do not write alpha into an RGBA frame: the lettering is drawn twice,
 *   colour on an opaque frame and coverage on a grey one, and the two are joined with `alphamerge`.
 * - DejaVu Sans has no CJK glyphs and few emoji: they render as boxes, which is fine for a draft.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { CameraMove } from "../Shot.ts"
import { type Palette, plate, tones } from "./Composition.ts"
import * as Encode from "./Encode.ts"
import { filterPath } from "./Escape.ts"
import { Ffmpeg } from "./Ffmpeg.ts"
import * as Font from "./Font.ts"
import { io, requireFrame, withScratchDir, writeAllAtomically } from "./Files.ts"
import { clean, wrapText } from "./Text.ts"

export type { Palette }

/** The outer part of the frame that lettering never enters (title-safe), per axis. */
export const SAFE_MARGIN = 0.06

export interface CardText {
  readonly width: number
  readonly height: number
  /** The narration's sentence, exactly as written: the main text. */
  readonly sentence: string
  /** The shot's panel line, a storyboard artist's short label ("Low angle: she climbs the stairs"). */
  readonly caption: string
  /** The corner label, e.g. "shot 2 of 3 · 2.0 s · → pan right". */
  readonly label: string
  /** Who the shot shows, each name in its character's colour (#rrggbb), under the panel line: the draft's cast. */
  readonly cast?: ReadonlyArray<{ readonly name: string; readonly colour: string }> | undefined
}

export interface CardOptions extends CardText {
  /** The three files the card writes: the still, the plate and the lettering (PNG). */
  readonly out: { readonly image: string; readonly plate: string; readonly lettering: string }
  readonly palette: Palette
  /** The framing ("wide", "close-up", ...; any words an LLM used), the camera move and the shot's place in
   *  its sentence (1-based): together they compose the plate. */
  readonly shotType: string
  readonly camera: CameraMove
  readonly index: number
}

export interface Rect {
  readonly x: number
  readonly y: number
  readonly w: number
  readonly h: number
}

export interface Line {
  readonly text: string
  readonly size: number
  /** The line is drawn in [x, x + w] (centred in it, or from its left edge), on the baseline `baseline`. */
  readonly x: number
  readonly w: number
  readonly baseline: number
  readonly centred: boolean
  /** The line's measured width (an upper bound of what drawtext draws). */
  readonly width: number
  readonly opacity: number
  /** Drawn this far right of `x` (the names of a cast row); 0 otherwise. */
  readonly dx?: number | undefined
  /** The text's colour (#rrggbb); white without one. */
  readonly colour?: string | undefined
}

export interface Lettering {
  readonly safe: Rect
  /** The band between the header and the sentence, where the picture shows (pixels from the top). */
  readonly open: { readonly top: number; readonly bottom: number }
  readonly boxes: ReadonlyArray<Rect>
  readonly lines: ReadonlyArray<Line>
}

/** "→ pan right": the move as a storyboard arrow and words. */
export const cameraLabel = (camera: CameraMove): string => {
  const arrow: Record<CameraMove, string> = {
    "push-in": "⊕",
    "pull-out": "⊖",
    "pan-left": "←",
    "pan-right": "→",
    "tilt-up": "↑",
    "tilt-down": "↓"
  }
  return `${arrow[camera]} ${camera.replace("-", " ")}`
}

/**
 * The panel line of a shot from its prompt: the prompt's first sentence (the planner writes its panel line
 * there; an LLM's prompt opens with what the frame shows), without a trailing full stop.
 */
export const captionOf = (prompt: string): string => {
  const text = clean(prompt)
  const first = text.split(/(?<=[.!?])\s+(?=[\p{Lu}\p{Lo}"“(])/u)[0] ?? text
  return first.replace(/[.。]+$/u, "")
}

const measure = (size: number) => (text: string) => Font.advance(text, size)

/** Lines of `text` at the largest size from `start` down to `min` that fit `maxLines` lines of `width`. */
const fit = (text: string, width: number, start: number, min: number, fits: (lines: number, size: number) => boolean) => {
  for (let size = start; size > min; size--) {
    const lines = wrapText(text, width, Number.MAX_SAFE_INTEGER, measure(size))
    if (fits(lines.length, size)) return { size, lines }
  }
  let lines = 1
  while (fits(lines + 1, min)) lines++
  return { size: min, lines: wrapText(text, width, lines, measure(min)) }
}

/**
 * Where every box and line of lettering goes, inside the title-safe area: the label and panel line at the top,
 * the sentence at the bottom, the picture between them. Pure, so tests can check it at any frame size.
 */
export const layout = (card: CardText): Lettering => {
  const { width: w, height: h } = card
  const base = Math.min(w, h)
  const mx = Math.round(w * SAFE_MARGIN)
  const my = Math.round(h * SAFE_MARGIN)
  const safe = { x: mx, y: my, w: w - 2 * mx, h: h - 2 * my }
  const pad = Math.max(1, Math.round(base * 0.025))
  const inner = safe.w - 2 * pad
  const px = (k: number, floor: number) => Math.max(floor, Math.round(base * k))

  const lines: Array<Line> = []
  const boxes: Array<Rect> = []
  /** Lines from `top` down, each at most `inner` wide; returns the bottom of the last line. */
  const stack = (texts: ReadonlyArray<string>, size: number, top: number, opacity: number) => {
    let baseline = top + Font.ascent(size)
    for (const text of texts) {
      lines.push({ text, size, x: safe.x + pad, w: inner, baseline, centred: false, width: measure(size)(text), opacity })
      baseline += Font.lineHeight(size)
    }
    return top + texts.length * Font.lineHeight(size)
  }
  /** A box that hugs the lines from `first` on (at least a third of the safe width), left or centred. */
  const hug = (first: number, top: number, bottom: number, centred: boolean) => {
    const widest = Math.max(...lines.slice(first).map((l) => l.width))
    const w = Math.min(safe.w, Math.max(Math.round(safe.w / 3), Math.ceil(widest) + 2 * pad))
    const x = centred ? safe.x + Math.floor((safe.w - w) / 2) : safe.x
    for (let i = first; i < lines.length; i++) lines[i] = { ...lines[i]!, x: x + pad, w: w - 2 * pad, centred }
    boxes.push({ x, y: top, w, h: bottom - top })
  }

  // The header: the label, then the panel line (at most two lines).
  const labelSize = px(0.04, 5)
  const label = wrapText(card.label, inner, 1, measure(labelSize))
  const caption =
    clean(card.caption) === ""
      ? { size: labelSize, lines: [] as Array<string> }
      : fit(card.caption, inner, px(0.056, 6), px(0.045, 5), (n) => n <= 2)
  let headerBottom = safe.y
  if (label.length + caption.lines.length + (card.cast?.length ?? 0) > 0) {
    let y = safe.y + pad
    y = stack(label, labelSize, y, 0.8)
    if (caption.lines.length > 0) y = stack(caption.lines, caption.size, y + Math.round(pad / 2), 1)
    // The cast: each name in its character's colour, on one row (what does not fit is left out).
    const cast = (card.cast ?? []).filter((c) => clean(c.name) !== "")
    if (cast.length > 0) {
      const size = labelSize
      const gap = Math.round(Font.advance("   ", size))
      const baseline = y + Math.round(pad / 2) + Font.ascent(size)
      let dx = 0
      for (const c of cast) {
        const text = clean(c.name)
        const w = measure(size)(text)
        if (dx > 0 && dx + w > inner) break
        lines.push({ text, size, x: safe.x + pad, w: inner, baseline, centred: false, width: dx + w, opacity: 1, dx, colour: c.colour })
        dx += w + gap
      }
      y = y + Math.round(pad / 2) + Font.lineHeight(size)
    }
    headerBottom = y + pad
    hug(0, safe.y, headerBottom, false)
  }

  let sentenceTop = safe.y + safe.h
  // The sentence: as large as fits in the room left, keeping a band of picture between the two boxes.
  // A landscape frame is short: the sentence gets less of its height, so the picture keeps a third of it.
  const room = Math.min(safe.y + safe.h - headerBottom - Math.round(base * 0.2), Math.round(h * (w > h ? 0.36 : 0.42)))
  if (clean(card.sentence) !== "" && room > 2 * pad) {
    const height = (n: number, size: number) => 2 * pad + n * Font.lineHeight(size)
    const sentence = fit(card.sentence, inner, px(0.075, 6), px(0.05, 5), (n, size) => height(n, size) <= room)
    const top = safe.y + safe.h - height(sentence.lines.length, sentence.size)
    sentenceTop = top
    const first = lines.length
    hug(first, top, stack(sentence.lines, sentence.size, top + pad, 1) + pad, true)
  }
  return { safe, open: { top: headerBottom, bottom: sentenceTop }, boxes, lines }
}

/** The lettering's filters, from the lines' text files: in colour, or as coverage (the alpha of `alphamerge`). */
const letteringFilters = (
  lettering: Lettering,
  files: ReadonlyArray<string>,
  coverage: boolean,
  boxColour: string
): ReadonlyArray<string> => {
  const font = filterPath(Font.fontFile())
  const draws: Array<string> = []
  for (const b of lettering.boxes) {
    // In the coverage frame the box is 55% opaque; in the colour frame it is the palette's darkest tone.
    draws.push(`drawbox=x=${b.x}:y=${b.y}:w=${b.w}:h=${b.h}:color=${coverage ? "0x8c8c8c" : boxColour}:t=fill`)
  }
  lettering.lines.forEach((line, i) => {
    const x = line.centred ? `${line.x}+(${line.w}-tw)/2` : String(line.x + (line.dx ?? 0))
    const colour = coverage ? `white@${line.opacity}` : /^#?[0-9a-fA-F]{6}$/.test(line.colour ?? "") ? `0x${line.colour!.replace(/^#/, "")}` : "white"
    draws.push(
      `drawtext=fontfile=${font}:textfile=${files[i]!}:expansion=none:fontsize=${line.size}:fontcolor=${colour}:` +
        `x=${x}:y=${line.baseline}-max_glyph_a`
    )
  })
  return draws
}

const hex = (rgb: ReadonlyArray<number>) => `0x${rgb.map((c) => c.toString(16).padStart(2, "0")).join("")}`

/** Renders the card's plate, lettering and still (PNGs of width×height). */
export const renderCard = Effect.fn("Card.render")(function* (card: CardOptions) {
  yield* requireFrame("Card.render", card.width, card.height)
  const ff = yield* Ffmpeg
  const { width: w, height: h } = card
  const lettering = layout(card)
  const boxColour = hex(tones(card.palette, card.index).figure.map((c) => Math.round(c * 0.6)))

  return yield* withScratchDir((dir) =>
    Effect.gen(function* () {
      const files = yield* Effect.forEach(lettering.lines, (line, i) =>
        io(path.join(dir, `line-${i}.txt`), "write", () => {
          const file = path.join(dir, `line-${i}.txt`)
          fs.writeFileSync(file, line.text, "utf8")
          return filterPath(file)
        })
      )
      // The plate's grey levels are drawn here (Composition.plate), and ffmpeg colours and scales them.
      const levels = plate({ ...card, stage: { top: lettering.open.top / h, bottom: lettering.open.bottom / h } }, w, h)
      const grey = path.join(dir, "plate.gray")
      yield* io(grey, "write", () => fs.writeFileSync(grey, levels.grey()))
      const graph = [
        `[0:v]${levels.filters.join(",")},split=2[plate][under]`,
        `color=c=${boxColour}:s=${w}x${h}:d=1,format=rgb24,${[...letteringFilters(lettering, files, false, boxColour), "null"].join(",")}[colour]`,
        `color=c=black:s=${w}x${h}:d=1,format=gray,${[...letteringFilters(lettering, files, true, boxColour), "null"].join(",")}[cover]`,
        `[colour][cover]alphamerge,format=rgba,split=2[lettering][over]`,
        `[under][over]overlay=0:0:format=rgb,format=rgb24[still]`
      ].join(";")
      // zlib level 3, not ffmpeg's default 6: a quarter less CPU per card for files about 15% larger
      // (the same pixels; the draft writes three PNGs per shot).
      const png = (label: string, pixels: string, out: string) =>
        ["-map", `[${label}]`, "-frames:v", "1", "-c:v", "png", "-compression_level", "3", "-pix_fmt", pixels, "-fflags", "+bitexact", "-f", "image2", out]
      return yield* writeAllAtomically([card.out.plate, card.out.lettering, card.out.image], ([plate, letters, image]) =>
        ff.run(
          [
            ...Encode.graphThreads,
            "-f", "rawvideo", "-pix_fmt", "gray", "-video_size", `${levels.w}x${levels.h}`, "-i", grey,
            "-filter_complex", graph,
            ...png("plate", "rgb24", plate!),
            ...png("lettering", "rgba", letters!),
            ...png("still", "rgb24", image!)
          ],
          { purpose: `render the storyboard card ${card.out.image}` }
        )
      ).pipe(Effect.map(([plate, letters, image]) => ({ plate: plate!, lettering: letters!, image: image! })))
    })
  )
})
