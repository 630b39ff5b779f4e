/**
 * Issue 16 §4: transitions between the shots of a sentence, made in its mux. They overlap pictures only: the
 * mux lasts exactly its narration's frames, and a frame in the middle of a crossfade is a blend of both shots
 * (decoded and measured here); a fade through black is dark in its middle. Real ffmpeg.
 */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import ffmpegBin from "@ffmpeg-installer/ffmpeg"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe } from "vitest"
import * as Assemble from "../../src/media/Assemble.ts"
import { Ffmpeg } from "../../src/media/Ffmpeg.ts"

const W = 160
const H = 90
const FPS = 12

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-transitions-test-"))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const solid = (name: string, colour: string, frames: number) =>
  Effect.flatMap(Ffmpeg, (ff) =>
    ff
      .run(["-f", "lavfi", "-i", `color=c=${colour}:s=${W}x${H}:r=${FPS}:d=${frames / FPS}`, "-pix_fmt", "yuv420p", "-c:v", "libx264", path.join(dir, name)])
      .pipe(Effect.as(path.join(dir, name)))
  )

const tone = (name: string, seconds: number) =>
  Effect.flatMap(Ffmpeg, (ff) =>
    ff.run(["-f", "lavfi", "-i", `sine=f=440:r=22050:d=${seconds}`, "-ac", "1", path.join(dir, name)]).pipe(Effect.as(path.join(dir, name)))
  )

/** The mean red, green and blue of frame `n` (from 0), decoded by the real ffmpeg. */
const meanRgb = (file: string, n: number): [number, number, number] => {
  const r = spawnSync(ffmpegBin.path, ["-v", "error", "-i", file, "-vf", `select=eq(n\\,${n})`, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], { maxBuffer: 1 << 24 })
  const px = r.stdout
  const sum = [0, 0, 0]
  for (let i = 0; i < px.length; i += 3) for (let c = 0; c < 3; c++) sum[c]! += px[i + c]!
  const count = px.length / 3
  return [sum[0]! / count, sum[1]! / count, sum[2]! / count]
}

/** The video frames of a file, as ffmpeg decodes them. */
const frameCount = (file: string): number => {
  const r = spawnSync(ffmpegBin.path, ["-v", "info", "-i", file, "-map", "0:v", "-f", "null", "-"], { encoding: "utf8" })
  return Number([...r.stderr.matchAll(/frame=\s*(\d+)/g)].at(-1)?.[1] ?? NaN)
}

describe("transitions in a sentence's mux (real ffmpeg)", () => {
  it.live("a crossfade blends the two shots in its middle; the mux keeps the narration's length to the frame", () =>
    Effect.gen(function* () {
      // Two shots of 24 frames each; the second entered by a crossfade of 8 frames.
      const red = yield* solid("red.mp4", "red", 60)
      const blue = yield* solid("blue.mp4", "blue", 60)
      const narration = yield* tone("narration.wav", 4)
      const out = path.join(dir, "crossfade.mp4")
      yield* Assemble.muxSentence({
        clips: [{ path: red, frames: 24 }, { path: blue, frames: 24, into: { kind: "crossfade", frames: 8 } }],
        audio: narration,
        out,
        fps: FPS,
        width: W,
        height: H
      })
      expect(frameCount(out)).toBe(48)
      const before = meanRgb(out, 20)
      const middle = meanRgb(out, 24 + 3)
      const after = meanRgb(out, 24 + 10)
      expect(before[0]).toBeGreaterThan(200)
      expect(before[2]).toBeLessThan(40)
      expect(after[2]).toBeGreaterThan(200)
      expect(after[0]).toBeLessThan(40)
      // Halfway through: both colours at once, neither one alone.
      expect(middle[0]).toBeGreaterThan(60)
      expect(middle[0]).toBeLessThan(200)
      expect(middle[2]).toBeGreaterThan(60)
      expect(middle[2]).toBeLessThan(200)
    }).pipe(Effect.provide(Ffmpeg.layer))
  , 120_000)

  it.live("a fade through black is dark in its middle and takes no time from the film", () =>
    Effect.gen(function* () {
      const red = yield* solid("red2.mp4", "red", 60)
      const white = yield* solid("white.mp4", "white", 60)
      const narration = yield* tone("narration2.wav", 3)
      const out = path.join(dir, "fade.mp4")
      yield* Assemble.muxSentence({
        clips: [{ path: red, frames: 18 }, { path: white, frames: 18, into: { kind: "fade-black", frames: 8 } }],
        audio: narration,
        out,
        fps: FPS,
        width: W,
        height: H
      })
      expect(frameCount(out)).toBe(36)
      const dark = meanRgb(out, 18 + 3)
      expect(Math.max(...dark)).toBeLessThan(90)
      expect(Math.min(...meanRgb(out, 18 + 7))).toBeGreaterThan(120)
    }).pipe(Effect.provide(Ffmpeg.layer))
  , 120_000)
})

describe("transitions between sentences (real ffmpeg)", () => {
  it.live("the next sentence's mux crossfades out of the previous sentence's last clip continuing past its cut", () =>
    Effect.gen(function* () {
      // The previous sentence's last clip: red for 24 frames (its shot), then green (what its mux never showed).
      const ff = yield* Ffmpeg
      const prev = path.join(dir, "prev.mp4")
      yield* ff.run([
        "-f", "lavfi", "-i", `color=c=red:s=${W}x${H}:r=${FPS}:d=2`, "-f", "lavfi", "-i", `color=c=lime:s=${W}x${H}:r=${FPS}:d=3`,
        "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-pix_fmt", "yuv420p", "-c:v", "libx264", prev
      ])
      const lead = path.join(dir, "lead.mp4")
      yield* Assemble.renderLeadIn({ clip: prev, from: 24, frames: 8, fps: FPS, width: W, height: H, out: lead })
      expect(frameCount(lead)).toBe(8)
      // The lead-in is the clip past its cut: green.
      expect(meanRgb(lead, 4)[1]).toBeGreaterThan(200)
      const blue = yield* solid("blue3.mp4", "blue", 60)
      const narration = yield* tone("narration3.wav", 2)
      const out = path.join(dir, "next.mp4")
      yield* Assemble.muxSentence({
        clips: [{ path: blue, frames: 24, into: { kind: "crossfade", frames: 8, from: lead } }],
        audio: narration,
        out,
        fps: FPS,
        width: W,
        height: H
      })
      expect(frameCount(out)).toBe(24)
      const middle = meanRgb(out, 3)
      expect(middle[1]).toBeGreaterThan(60)
      expect(middle[2]).toBeGreaterThan(60)
      expect(meanRgb(out, 12)[2]).toBeGreaterThan(200)
    }).pipe(Effect.provide(Ffmpeg.layer))
  , 120_000)
})

describe("transitions in the draft film (real ffmpeg)", () => {
  it("with crossfades between shots, out/final.mp4 lasts as long as the narration, within one frame", async () => {
    const { makeWorkspace, runBuild, smallConfig, ffprobe, manifest } = await import("../e2e/harness.ts")
    const story = [
      "Far away, beyond the grey horizon, a storm was gathering its strength, turning slowly towards the coast.",
      "The keeper climbed the stairs and lit the lamp as the first waves broke over the rocks below."
    ]
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`transitions: { shots: "crossfade", sentences: "fade-black", seconds: 0.5 }`) })
    const { summary } = await runBuild(dir)
    expect(summary.failed).toEqual([])
    const m = manifest(dir)
    // Several shots per sentence, so there are transitions inside each mux.
    expect(m.sentences.every((s: { shots: Array<unknown> }) => s.shots.length >= 2)).toBe(true)
    const narration = m.sentences.reduce((a: number, s: { durationSec: number }) => a + s.durationSec, 0)
    // The second sentence is entered from the first one's last clip (a lead-in), through black.
    expect(summary.built).toContain("sentence:2:leadin")
    const film = Number(ffprobe(path.join(dir, "out", "final.mp4")).format.duration)
    expect(Math.abs(film - narration)).toBeLessThanOrEqual(1 / 12)
    // In out/final.mp4 itself: the middle of the fade into sentence 2 is much darker than a frame after it.
    const s1 = m.sentences[0].shots.reduce((a: number, shot: { frames: number }) => a + shot.frames, 0)
    const luma = (n: number) => meanRgb(path.join(dir, "out", "final.mp4"), n).reduce((a, b) => a + b, 0) / 3
    expect(luma(s1 + 3)).toBeLessThan(luma(s1 + 10) * 0.5)
  }, 180_000)
})
