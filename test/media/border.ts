/**
 * Is any lettering in a film's outer border? Samples the film at 4 frames per second (grey, full size) and, for
 * each frame, compares the pixels of the four border strips (the outer 3% of the width and of the height)
 * against the card background there: the strip's median brightness. Lettering is white on a dark card, so a
 * pixel far brighter than the median, and near white, is lettering (or a letter's edge); a few such pixels
 * make the strip "lit".
 *
 * Used by the draft film test (test/e2e/draft-frame.test.ts) and runnable on any film:
 *   node bin/run-ts.js test/media/border.ts out/final.mp4
 */
import { spawnSync } from "node:child_process"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const require = createRequire(import.meta.url)
const ffmpegPath = (): string => process.env.FFMPEG_PATH ?? (require("@ffmpeg-installer/ffmpeg") as { path: string }).path
const ffprobePath = (): string => process.env.FFPROBE_PATH ?? (require("@ffprobe-installer/ffprobe") as { path: string }).path

/** The outer fraction of each side that must hold no text. */
export const BORDER = 0.03
/** Brighter than the strip's median by this much (0–255) is lettering; the card's drawings stay well below it. */
export const LIT = 80
/** Lettering is white; no part of a card's picture is this bright (Composition.MAX_LUMA is well below). */
export const WHITE = 170
/** This many lit pixels make a strip count as holding text (a stray bright pixel of compression noise does not). */
export const MIN_PIXELS = 4

export type Side = "left" | "right" | "top" | "bottom"

export interface BorderReport {
  readonly width: number
  readonly height: number
  readonly frames: number
  /** Frames with text in that strip. */
  readonly sides: Readonly<Record<Side, number>>
  /** Frames with text in any strip. */
  readonly any: number
  /** Indexes (at 4 fps) of the frames with text in any strip. */
  readonly litFrames: ReadonlyArray<number>
}

const size = (file: string): { width: number; height: number } => {
  const r = spawnSync(ffprobePath(), ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "json", file], {
    encoding: "utf8"
  })
  const s = (JSON.parse(r.stdout) as { streams: Array<{ width: number; height: number }> }).streams[0]
  if (s === undefined) throw new Error(`${file} has no video stream`)
  return { width: s.width, height: s.height }
}

const median = (values: Uint8Array | Array<number>): number => {
  const sorted = Array.from(values).sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

/** Counts, per side, the frames (sampled at `fps`) with lettering in the outer `BORDER` of the frame. */
export const borderReport = (file: string, fps = 4): BorderReport => {
  const { width: w, height: h } = size(file)
  const r = spawnSync(ffmpegPath(), ["-v", "error", "-i", file, "-vf", `fps=${fps},format=gray`, "-f", "rawvideo", "-"], {
    maxBuffer: 1 << 30
  })
  if (r.status !== 0) throw new Error(`ffmpeg could not decode ${file}: ${String(r.stderr)}`)
  const frameSize = w * h
  const frames = Math.floor(r.stdout.length / frameSize)
  const bx = Math.max(1, Math.ceil(w * BORDER))
  const by = Math.max(1, Math.ceil(h * BORDER))
  const strips: Record<Side, (frame: Buffer) => Array<number>> = {
    left: (f) => pixels(f, w, 0, bx, 0, h),
    right: (f) => pixels(f, w, w - bx, w, 0, h),
    top: (f) => pixels(f, w, 0, w, 0, by),
    bottom: (f) => pixels(f, w, 0, w, h - by, h)
  }
  const sides: Record<Side, number> = { left: 0, right: 0, top: 0, bottom: 0 }
  const litFrames: Array<number> = []
  for (let i = 0; i < frames; i++) {
    const frame = r.stdout.subarray(i * frameSize, (i + 1) * frameSize)
    let any = false
    for (const side of Object.keys(strips) as Array<Side>) {
      const values = strips[side](frame)
      const background = median(values)
      const lit = values.filter((v) => v > WHITE && v - background > LIT).length
      if (lit >= MIN_PIXELS) {
        sides[side]++
        any = true
      }
    }
    if (any) litFrames.push(i)
  }
  return { width: w, height: h, frames, sides, any: litFrames.length, litFrames }
}

const pixels = (frame: Buffer, w: number, x0: number, x1: number, y0: number, y1: number): Array<number> => {
  const out: Array<number> = []
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) out.push(frame[y * w + x]!)
  return out
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const file of process.argv.slice(2)) {
    const report = borderReport(file)
    console.log(
      `${file}: ${report.width}x${report.height}, ${report.frames} frames at 4 fps; text in the outer 3%: ` +
        `${report.any} frames (left ${report.sides.left}, right ${report.sides.right}, top ${report.sides.top}, bottom ${report.sides.bottom})`
    )
  }
}
