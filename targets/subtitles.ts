/**
 * `subtitles`: `final.srt` and `final.vtt`, one cue per sentence, timed from the sentences' frame counts
 * (`sentence:N:timing`). The mux cuts each sentence to exactly those frames, and the final cut joins the
 * sentences end to end, so the cues land on the film's sentence boundaries without probing the film: a
 * sentence starts at the sum of the frames before it, divided by the frame rate.
 *
 * The text is the spoken sentence with its spacing collapsed (spacing alone rewrites nothing); a change of
 * case does rewrite the subtitles, which are free, while the narration keyed by the normalized text is not
 * paid again.
 *
 * `subtitles.burn` burns the cues into the final cut with ffmpeg's `subtitles` filter (libass). libass finds
 * fonts through fontconfig, which a bare CI machine may lack: the filter is pointed at the DejaVu Sans the
 * cards use (`fontsdir`, `force_style`), so the burned text looks the same everywhere.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import type { NodeSpec } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import { filterPath, filterValue } from "../src/media/Escape.ts"
import * as Encode from "../src/media/Encode.ts"
import { Ffmpeg } from "../src/media/Ffmpeg.ts"
import { fontFile } from "../src/media/Font.ts"
import { defineRule } from "./Rule.ts"

export const version = 1

const Recipe = Schema.Struct({ fps: Schema.Number, text: Schema.Array(Schema.String) })

/** The text a viewer reads: the spoken sentence, with runs of whitespace collapsed. */
export const displayText = (sentence: string): string => sentence.replace(/\s+/g, " ").trim()

export const node = (sentences: ReadonlyArray<string>, fps: number): NodeSpec => ({
  id: ids.subtitles,
  kind: kinds.subtitles,
  stage: "subtitles",
  version,
  recipe: { fps, text: sentences.map(displayText) } satisfies typeof Recipe.Type,
  deps: sentences.map((_, i) => ({ id: ids.timing(i + 1), output: "frames" }))
})

export interface Cue {
  readonly index: number
  readonly startSec: number
  readonly endSec: number
  readonly text: string
}

/** One cue per sentence; each starts where the one before it ends (frame-exact, no gaps). */
export const cues = (texts: ReadonlyArray<string>, framesPerSentence: ReadonlyArray<number>, fps: number): ReadonlyArray<Cue> => {
  let frame = 0
  return texts.map((text, i) => {
    const start = frame
    frame += framesPerSentence[i] ?? 0
    return { index: i + 1, startSec: start / fps, endSec: frame / fps, text }
  })
}

/** Lines of at most `columns` characters, broken at spaces (a longer word keeps its own line). */
export const wrap = (text: string, columns = 42): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(" ").filter((w) => w.length > 0)) {
    if (line.length > 0 && line.length + 1 + word.length > columns) {
      lines.push(line)
      line = word
    } else line = line.length > 0 ? `${line} ${word}` : word
  }
  if (line.length > 0) lines.push(line)
  return lines
}

const clock = (sec: number, separator: "," | "."): string => {
  const ms = Math.round(sec * 1000)
  const pad = (n: number, w = 2) => String(n).padStart(w, "0")
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${separator}${pad(ms % 1000, 3)}`
}

// A cue's text must not contain a blank line (it would end the cue) nor, in WebVTT, "-->" or a bare "<" / "&".
const srtText = (text: string) => wrap(text.replace(/-->/g, "→")).join("\n")
const vttText = (text: string) =>
  wrap(text.replace(/-->/g, "→"))
    .map((l) => l.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"))
    .join("\n")

export const toSrt = (list: ReadonlyArray<Cue>): string =>
  list.map((c) => `${c.index}\n${clock(c.startSec, ",")} --> ${clock(c.endSec, ",")}\n${srtText(c.text)}\n`).join("\n")

export const toVtt = (list: ReadonlyArray<Cue>): string =>
  `WEBVTT\n\n${list.map((c) => `${c.index}\n${clock(c.startSec, ".")} --> ${clock(c.endSec, ".")}\n${vttText(c.text)}\n`).join("\n")}`

export const rule = defineRule({
  kind: kinds.subtitles,
  recipe: Recipe,
  pool: "local",
  run: (ctx) =>
    Effect.sync(() => {
      const frames = ctx.deps.map((d) => (ctx.value(d.id, "frames") as ReadonlyArray<number>).reduce((a, b) => a + b, 0))
      const list = cues(ctx.recipe.text, frames, ctx.recipe.fps)
      const srt = path.join(ctx.scratch, "final.srt")
      const vtt = path.join(ctx.scratch, "final.vtt")
      fs.writeFileSync(srt, toSrt(list), "utf8")
      fs.writeFileSync(vtt, toVtt(list), "utf8")
      return { srt: { file: srt, ext: "srt" }, vtt: { file: vtt, ext: "vtt" } }
    })
})

/** How burned subtitles look (libass style overrides); it is in the final cut's recipe. */
export const burnStyle = "FontName=DejaVu Sans,FontSize=18,BorderStyle=3,Outline=1,Shadow=0,MarginV=10,BackColour=&H60000000,OutlineColour=&H60000000"

/**
 * Burns `srt` into `input`, writing `out` (re-encodes the picture, and the sound too, as it did when the
 * joined film's sound had one edit per sentence; it has one edit now, see src/media/Mp4.ts). Font size is in
 * libass's script units (a 288-line script scaled to the frame), so it reads the same at any height; the
 * text sits on a translucent box because a draft card has its own text at the bottom.
 */
export const burn = Effect.fn("Subtitles.burn")(function* (opts: { input: string; srt: string; out: string; style: string }) {
  const ff = yield* Ffmpeg
  const fonts = path.dirname(fontFile())
  const filter =
    `subtitles=filename=${filterPath(opts.srt)}:fontsdir=${filterPath(fonts)}` +
    `:force_style=${filterValue(opts.style)}`
  yield* ff.run(
    [
      "-i", path.resolve(opts.input),
      "-vf", filter,
      "-map", "0:v", "-map", "0:a",
      "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
      ...Encode.aac,
      "-movflags", "+faststart",
      "-f", "mp4", path.resolve(opts.out)
    ],
    { purpose: `burn subtitles into ${opts.out}` }
  )
})
