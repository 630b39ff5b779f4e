/**
 * The offline draft renderers: storyboard cards, Ken Burns motion, the per-sentence mux and the final concat.
 * Each writes the file it is given (to a temporary name first, renamed into place once ffmpeg succeeded), so an
 * interrupted render never leaves a half-written file under the real name.
 *
 * Surprises:
 * - Text never enters a filtergraph: it goes through `textfile=` with `expansion=none`, so quotes, colons, `%`
 *   and backslashes in a prompt are just text. Only the font and text-file *paths* are escaped (`filterPath`).
 * - DejaVu Sans has no CJK glyphs and few emoji: they render as boxes, which is fine for a draft.
 * - zoompan rounds x/y to whole input pixels, which makes slow pans judder; scaling the image up first makes
 *   each step a fraction of an output pixel.
 * - The mux counts frames, not seconds: clips are converted to the output rate first, padded by cloning their
 *   last frame if short, and trimmed by frame number, so a part lasts exactly `frames / fps`. The narration is
 *   padded with silence or trimmed to the same length, sample-exact, so parts concatenate without drift.
 * - The concat demuxer reads `file '...'` lines where `'` ends the quote: a path's `'` is written as `'\''`.
 *   `-safe 0` lets it open absolute paths. Each part gets an exact `duration` line (see `partDuration`); the
 *   muxer then warns about non-monotonous audio DTS where AAC priming overlaps a boundary, which is harmless.
 */
import { Effect, Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { Ffmpeg, filterPath, MediaInvalid, type FfmpegError, type ProbeResult } from "./Ffmpeg.ts"
import { cameraMoves, type CameraMove } from "../Shot.ts"

export class DraftIoError extends Schema.TaggedError<DraftIoError>()("DraftIoError", {
  path: Schema.String,
  message: Schema.String
}) {
  readonly transient = false
}

export type DraftError = FfmpegError | MediaInvalid | DraftIoError


export { cameraMoves }
export type { CameraMove }

// ---------------------------------------------------------------------------------------------------------
// Helpers

const require = createRequire(import.meta.url)

/** DejaVu Sans from the `dejavu-fonts-ttf` package: the same glyphs on every machine, never a system font. */
export const fontFile = (): string =>
  path.join(path.dirname(require.resolve("dejavu-fonts-ttf/package.json")), "ttf", "DejaVuSans.ttf")

const io = <A>(file: string, what: string, f: () => A): Effect.Effect<A, DraftIoError> =>
  Effect.try({
    try: f,
    catch: (error) =>
      new DraftIoError({ path: file, message: `Could not ${what} ${file}: ${(error as Error).message ?? String(error)}` })
  })

const requireEven = (width: number, height: number, fps?: number) => {
  // Sizes and rates come from the profile, which validates them; a bad one here is a bug upstream.
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2 || width % 2 || height % 2) {
    return Effect.dieMessage(`Draft: frame size ${width}x${height} must be even positive integers (H.264 yuv420p)`)
  }
  if (fps !== undefined && !(fps > 0 && Number.isFinite(fps))) return Effect.dieMessage(`Draft: bad fps ${fps}`)
  return Effect.void
}

/**
 * Runs `render` with a temporary path next to `out` (same extension, so same filesystem) and renames it into
 * place when it succeeds. The temporary file is removed on failure and on interruption.
 */
const writeAtomically = <A, E, R>(
  out: string,
  render: (tmp: string) => Effect.Effect<A, E, R>
): Effect.Effect<string, E | DraftIoError, R> => {
  const target = path.resolve(out)
  const dir = path.dirname(target)
  return Effect.acquireUseRelease(
    io(dir, "create the folder", () => {
      fs.mkdirSync(dir, { recursive: true })
      const ext = path.extname(target)
      return path.join(dir, `.${path.basename(target, ext)}.${crypto.randomBytes(4).toString("hex")}.tmp${ext}`)
    }),
    (tmp) =>
      render(tmp).pipe(
        Effect.zipRight(io(target, "write", () => fs.renameSync(tmp, target))),
        Effect.as(target)
      ),
    (tmp) => Effect.sync(() => fs.rmSync(tmp, { force: true }))
  )
}

/** A scratch folder that is removed afterwards, whatever happens. */
const withScratchDir = <A, E, R>(use: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    io(os.tmpdir(), "create a scratch folder in", () => fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-draft-"))),
    use,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

// ---------------------------------------------------------------------------------------------------------
// Text layout

// Made on first use: the first Intl.Segmenter loads ICU's break data (~10 ms), which a no-op build never needs.
let segmenter: Intl.Segmenter | undefined
const graphemes = (text: string): Array<string> =>
  Array.from((segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" })).segment(text), (s) => s.segment)

/** East Asian wide characters and emoji take about two columns. */
const columns = (grapheme: string): number => {
  const cp = grapheme.codePointAt(0) ?? 0
  const wide =
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  return wide ? 2 : 1
}
const width = (text: string): number => graphemes(text).reduce((n, g) => n + columns(g), 0)

/**
 * Word-wraps `text` to lines of at most `maxColumns` columns (a word longer than a line is broken), and keeps at
 * most `maxLines` lines, ending the last kept one with "…" when text was dropped. Control characters become spaces.
 */
export const wrapText = (text: string, maxColumns: number, maxLines: number): Array<string> => {
  const limit = Math.max(1, Math.floor(maxColumns))
  const words = text
    .replace(/[\u0000-\u001f\u007f]/g, " ")
    .split(/\s+/)
    .filter((w) => w !== "")
  const lines: Array<string> = []
  let line = ""
  for (const word of words) {
    const candidate = line === "" ? word : `${line} ${word}`
    if (width(candidate) <= limit) {
      line = candidate
      continue
    }
    if (line !== "") lines.push(line)
    line = ""
    // Break a word that is wider than a whole line (long URLs, CJK without spaces).
    let piece = ""
    for (const g of graphemes(word)) {
      if (width(piece) + columns(g) > limit && piece !== "") {
        lines.push(piece)
        piece = ""
      }
      piece += g
    }
    line = piece
  }
  if (line !== "") lines.push(line)
  const lineLimit = Math.max(1, Math.floor(maxLines))
  if (lines.length <= lineLimit) return lines
  const kept = lines.slice(0, lineLimit)
  let last = graphemes(kept[lineLimit - 1]!)
  while (last.length > 0 && last.reduce((n, g) => n + columns(g), 0) + 1 > limit) last = last.slice(0, -1)
  kept[lineLimit - 1] = `${last.join("").trimEnd()}…`
  return kept
}

// ---------------------------------------------------------------------------------------------------------
// Card

export interface CardOptions {
  readonly out: string
  readonly width: number
  readonly height: number
  /** "#rrggbb", darkened for the background so white text reads; anything else falls back to a slate blue. */
  readonly colour: string
  readonly sentence: string
  readonly prompt: string
  /** A corner label, e.g. "shot 2 of 3 · 2.0 s · push-in". */
  readonly label: string
}

/** DejaVu Sans averages about 0.6 em per character; wrapping by that keeps lines inside the frame. */
const CHAR_EM = 0.6
const LINE_EM = 1.25

const darken = (colour: string, factor: number): string => {
  const hex = /^#?([0-9a-f]{6})$/i.exec(colour.trim())?.[1]
  const rgb = hex === undefined ? [0x33, 0x44, 0x55] : [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16))
  return `0x${rgb.map((c) => Math.round(c * factor).toString(16).padStart(2, "0")).join("")}`
}

/** Renders a PNG storyboard card: the prompt large, the sentence smaller, the label in the bottom-right corner. */
export const renderCard = Effect.fn("Draft.renderCard")(function* (card: CardOptions) {
  yield* requireEven(card.width, card.height)
  const ff = yield* Ffmpeg
  const { width: w, height: h } = card
  const margin = Math.max(3, Math.round(Math.min(w, h) * 0.06))
  const promptSize = Math.max(6, Math.round(h * 0.075))
  const sentenceSize = Math.max(5, Math.round(h * 0.048))
  const labelSize = Math.max(5, Math.round(h * 0.036))
  const cols = (size: number) => (w - 2 * margin) / (size * CHAR_EM)
  const promptLines = wrapText(card.prompt, cols(promptSize), (h * 0.5) / (promptSize * LINE_EM))
  const sentenceLines = wrapText(card.sentence, cols(sentenceSize), (h * 0.24) / (sentenceSize * LINE_EM))
  const labelLines = wrapText(card.label, cols(labelSize), 1)
  const font = filterPath(fontFile())

  return yield* withScratchDir((dir) =>
    Effect.gen(function* () {
      const textFile = (name: string, lines: ReadonlyArray<string>) =>
        io(path.join(dir, name), "write", () => {
          const file = path.join(dir, name)
          fs.writeFileSync(file, lines.join("\n"), "utf8")
          return filterPath(file)
        })
      const text = (file: string, size: number, position: string, extra = "") =>
        `drawtext=fontfile=${font}:textfile=${file}:expansion=none:fontsize=${size}:` +
        `line_spacing=${Math.round(size * (LINE_EM - 1.17))}:fontcolor=white:` +
        `shadowcolor=black@0.6:shadowx=1:shadowy=1:${position}${extra}`
      const draws: Array<string> = []
      if (promptLines.length > 0) {
        draws.push(text(yield* textFile("prompt.txt", promptLines), promptSize, `x=${margin}:y=${margin}`))
      }
      const labelBlock = labelLines.length > 0 ? Math.round(labelSize * 1.6) + margin : 0
      if (sentenceLines.length > 0) {
        draws.push(
          text(yield* textFile("sentence.txt", sentenceLines), sentenceSize, `x=${margin}:y=h-th-${margin + labelBlock}`)
        )
      }
      if (labelLines.length > 0) {
        draws.push(
          text(
            yield* textFile("label.txt", labelLines),
            labelSize,
            `x=w-tw-${margin}:y=h-th-${margin}`,
            `:box=1:boxcolor=black@0.35:boxborderw=${Math.max(1, Math.round(labelSize * 0.3))}`
          )
        )
      }
      // A darkened flat colour with a vignette: readable white text, and a hint of depth for the Ken Burns move.
      const graph = [`color=c=${darken(card.colour, 0.45)}:s=${w}x${h}:d=1`, "vignette=PI/4", ...draws, "format=rgb24"]
      return yield* writeAtomically(card.out, (tmp) =>
        ff.run(["-filter_complex", `${graph.join(",")}[card]`, "-map", "[card]", "-frames:v", "1", "-f", "image2", "-c:v", "png", tmp], {
          purpose: `render the storyboard card ${card.out}`
        })
      )
    })
  )
})

// ---------------------------------------------------------------------------------------------------------
// Ken Burns

export interface KenBurnsOptions {
  readonly image: string
  readonly out: string
  readonly frames: number
  readonly fps: number
  readonly width: number
  readonly height: number
  readonly camera: CameraMove
}

const ZOOM = 0.25

/** zoompan expressions for a move; `p` runs 0 → 1 over the clip. */
const cameraExpressions = (camera: CameraMove, frames: number) => {
  const p = `(on/${Math.max(1, frames - 1)})`
  const centreX = "(iw-iw/zoom)/2"
  const centreY = "(ih-ih/zoom)/2"
  const panZoom = `${1 + ZOOM * 0.8}`
  switch (camera) {
    case "push-in":
      return { z: `1+${ZOOM}*${p}`, x: centreX, y: centreY }
    case "pull-out":
      return { z: `${1 + ZOOM}-${ZOOM}*${p}`, x: centreX, y: centreY }
    case "pan-left":
      return { z: panZoom, x: `(iw-iw/zoom)*(1-${p})`, y: centreY }
    case "pan-right":
      return { z: panZoom, x: `(iw-iw/zoom)*${p}`, y: centreY }
    case "tilt-up":
      return { z: panZoom, x: centreX, y: `(ih-ih/zoom)*(1-${p})` }
    case "tilt-down":
      return { z: panZoom, x: centreX, y: `(ih-ih/zoom)*${p}` }
  }
}

/** An H.264 (yuv420p) MP4 of exactly `frames` frames: the camera moving over a still image. */
export const renderKenBurns = Effect.fn("Draft.renderKenBurns")(function* (opts: KenBurnsOptions) {
  yield* requireEven(opts.width, opts.height, opts.fps)
  if (!Number.isInteger(opts.frames) || opts.frames < 1) {
    return yield* Effect.dieMessage(`Draft.renderKenBurns: frames must be a positive integer, got ${opts.frames}`)
  }
  if (!cameraMoves.includes(opts.camera)) {
    return yield* Effect.dieMessage(`Draft.renderKenBurns: unknown camera move ${String(opts.camera)}`)
  }
  const ff = yield* Ffmpeg
  const { width: w, height: h, frames, fps } = opts
  // Upscale so zoompan's whole-pixel steps are sub-pixel in the output; capped so large frames stay fast.
  const factor = Math.max(1, Math.min(4, Math.floor(4096 / w)))
  const bigW = w * factor
  const bigH = h * factor
  const { z, x, y } = cameraExpressions(opts.camera, frames)
  const graph = [
    `[0:v]scale=${bigW}:${bigH}:force_original_aspect_ratio=increase`,
    `crop=${bigW}:${bigH}`,
    "setsar=1",
    `zoompan=z=${z}:x=${x}:y=${y}:d=${frames}:s=${w}x${h}:fps=${fps}`,
    "format=yuv420p[v]"
  ].join(",")
  return yield* writeAtomically(opts.out, (tmp) =>
    ff.run(
      [
        "-i", path.resolve(opts.image),
        "-filter_complex", graph,
        "-map", "[v]",
        "-frames:v", String(frames),
        "-r", String(fps),
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart",
        "-f", "mp4", tmp
      ],
      { purpose: `animate ${opts.image} (${opts.camera}, ${frames} frames)` }
    )
  )
})

// ---------------------------------------------------------------------------------------------------------
// Sentence mux

export interface MuxOptions {
  readonly clips: ReadonlyArray<{ readonly path: string; readonly frames: number }>
  readonly audio: string
  readonly out: string
  readonly fps: number
  readonly width: number
  readonly height: number
}

const SAMPLE_RATE = 48000

/** How every film part is encoded (the mux, and a join that must re-encode): the same codecs and audio
 *  format everywhere, so the final concat can copy streams. Picture and sound come from `[v]` and `[a]`. */
const encodeFilm = (fps: number, out: string): ReadonlyArray<string> => [
  "-map", "[v]", "-map", "[a]",
  "-r", String(fps),
  "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
  "-c:a", "aac", "-b:a", "128k", "-ar", String(SAMPLE_RATE), "-ac", "2",
  "-movflags", "+faststart",
  "-f", "mp4", out
]

/**
 * Joins the clips, each cut (or padded) to its frame count and fitted to width×height at `fps`, lays the
 * narration over them and cuts the result to the shorter of the two, rounded to a whole frame.
 * H.264 + AAC 48 kHz stereo. Returns the path and the number of frames written.
 */
export const muxSentence = Effect.fn("Draft.muxSentence")(function* (opts: MuxOptions) {
  yield* requireEven(opts.width, opts.height, opts.fps)
  if (opts.clips.length === 0) return yield* Effect.dieMessage("Draft.muxSentence: no clips")
  for (const clip of opts.clips) {
    if (!Number.isInteger(clip.frames) || clip.frames < 1) {
      return yield* Effect.dieMessage(`Draft.muxSentence: clip ${clip.path} has ${clip.frames} frames`)
    }
  }
  const ff = yield* Ffmpeg
  const { width: w, height: h, fps } = opts
  const narration = yield* ff.probe(opts.audio)
  if (!narration.streams.some((s) => s.type === "audio")) {
    const file = path.resolve(opts.audio)
    return yield* Effect.fail(
      new MediaInvalid({ path: file, reason: "it has no audio stream", message: `${file} has no audio stream to narrate with.` })
    )
  }
  const videoFrames = opts.clips.reduce((n, c) => n + c.frames, 0)
  const audioFrames = Math.max(1, Math.round(narration.durationSec * fps))
  const frames = Math.min(videoFrames, audioFrames)
  const samples = Math.round((frames / fps) * SAMPLE_RATE)

  const inputs: Array<string> = []
  const chains: Array<string> = []
  opts.clips.forEach((clip, i) => {
    // Read only what is needed (plus a margin) of a long provider clip.
    inputs.push("-t", (clip.frames / fps + 1).toFixed(3), "-i", path.resolve(clip.path))
    chains.push(
      `[${i}:v]scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,` +
        `fps=${fps},tpad=stop_mode=clone:stop=${clip.frames},trim=end_frame=${clip.frames},setpts=PTS-STARTPTS,format=yuv420p[v${i}]`
    )
  })
  const a = opts.clips.length
  inputs.push("-i", path.resolve(opts.audio))
  chains.push(
    `${opts.clips.map((_, i) => `[v${i}]`).join("")}concat=n=${opts.clips.length}:v=1:a=0,` +
      `trim=end_frame=${frames},setpts=PTS-STARTPTS[v]`
  )
  chains.push(
    `[${a}:a]aresample=${SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,apad,` +
      `atrim=end_sample=${samples},asetpts=PTS-STARTPTS[a]`
  )
  const out = yield* writeAtomically(opts.out, (tmp) =>
    ff.run(
      [
        ...inputs,
        "-filter_complex", chains.join(";"),
        ...encodeFilm(fps, tmp)
      ],
      { purpose: `mux ${opts.clips.length} clip(s) with ${opts.audio} into ${opts.out}` }
    )
  )
  return { out, frames }
})

// ---------------------------------------------------------------------------------------------------------
// Final concat

export interface ConcatOptions {
  readonly parts: ReadonlyArray<string>
  readonly out: string
  /** Where the concat demuxer's list file is written (and removed afterwards). */
  readonly listDir: string
}

/** `file '...'` for the concat demuxer: inside single quotes only `'` is special, written as `'\''`. */
export const concatListLine = (file: string): string => `file '${path.resolve(file).replace(/'/g, "'\\''")}'`

/**
 * A part's exact length for the list's `duration` line. Without it the demuxer spaces parts by their container
 * duration, which counts the AAC encoder delay: every boundary would add ~21 ms of drift to the picture.
 */
const partDuration = (info: ProbeResult): number =>
  info.streams.find((s) => s.type === "video")?.durationSec ?? info.durationSec

const signature = (info: ProbeResult): string | undefined => {
  const video = info.streams.filter((s) => s.type === "video")
  const audio = info.streams.filter((s) => s.type === "audio")
  if (video.length !== 1 || audio.length !== 1) return undefined
  const v = video[0]!
  const a = audio[0]!
  return [v.codec, v.width, v.height, v.fps?.toFixed(4), v.pixelFormat, a.codec, a.sampleRate, a.channels].join("|")
}

/**
 * Joins the sentence muxes. When every part has the same codecs, size, rate and audio format the streams are
 * copied (fast, lossless); otherwise everything is re-encoded to the first part's size and rate.
 */
export const concatFinal = Effect.fn("Draft.concatFinal")(function* (opts: ConcatOptions) {
  if (opts.parts.length === 0) return yield* Effect.dieMessage("Draft.concatFinal: no parts")
  const ff = yield* Ffmpeg
  const infos: Array<ProbeResult> = []
  for (const part of opts.parts) {
    const info = yield* ff.probe(part)
    if (!info.streams.some((s) => s.type === "video") || !info.streams.some((s) => s.type === "audio")) {
      const file = path.resolve(part)
      return yield* Effect.fail(
        new MediaInvalid({
          path: file,
          reason: "it needs one video and one audio stream",
          message: `${file} cannot be joined into the film: it needs one video and one audio stream.`
        })
      )
    }
    infos.push(info)
  }
  const signatures = infos.map(signature)
  // A newline cannot be written into a list file line; such a path takes the re-encoding road.
  const copyable =
    signatures[0] !== undefined &&
    signatures.every((s) => s === signatures[0]) &&
    !opts.parts.some((p) => /[\r\n]/.test(p))

  if (copyable) {
    const listDir = path.resolve(opts.listDir)
    const out = yield* Effect.acquireUseRelease(
      io(listDir, "write the concat list in", () => {
        fs.mkdirSync(listDir, { recursive: true })
        const list = path.join(listDir, `concat-${crypto.randomBytes(4).toString("hex")}.txt`)
        const entries = opts.parts.map((part, i) => `${concatListLine(part)}\nduration ${partDuration(infos[i]!).toFixed(6)}`)
        fs.writeFileSync(list, `ffconcat version 1.0\n${entries.join("\n")}\n`, "utf8")
        return list
      }),
      (list) =>
        writeAtomically(opts.out, (tmp) =>
          ff.run(
            ["-f", "concat", "-safe", "0", "-i", list, "-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4", tmp],
            { purpose: `join ${opts.parts.length} parts into ${opts.out} (stream copy)` }
          )
        ),
      (list) => Effect.sync(() => fs.rmSync(list, { force: true }))
    )
    return { out, mode: "copy" as const }
  }

  const first = infos[0]!.streams.find((s) => s.type === "video")!
  const w = first.width! + (first.width! % 2)
  const h = first.height! + (first.height! % 2)
  const fps = first.fps ?? 24
  const inputs = opts.parts.flatMap((p) => ["-i", path.resolve(p)])
  const chains = opts.parts.map(
    (_, i) =>
      `[${i}:v]scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${fps},format=yuv420p[v${i}];` +
      `[${i}:a]aresample=${SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo[a${i}]`
  )
  chains.push(`${opts.parts.map((_, i) => `[v${i}][a${i}]`).join("")}concat=n=${opts.parts.length}:v=1:a=1[v][a]`)
  const out = yield* writeAtomically(opts.out, (tmp) =>
    ff.run(
      [
        ...inputs,
        "-filter_complex", chains.join(";"),
        ...encodeFilm(fps, tmp)
      ],
      { purpose: `join ${opts.parts.length} parts into ${opts.out} (re-encoding: their formats differ)` }
    )
  )
  return { out, mode: "reencode" as const }
})
