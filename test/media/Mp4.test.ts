/**
 * The final cut joined without ffmpeg (src/media/Mp4.ts), on parts made by the real mux: what a player reads
 * from the joined file, that it is the same bytes every time, and the parts it declines (ffmpeg joins those).
 */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe } from "vitest"
import * as Assemble from "../../src/media/Assemble.ts"
import { Ffmpeg, type ProbeResult } from "../../src/media/Ffmpeg.ts"
import * as Mp4 from "../../src/media/Mp4.ts"

const FPS = 12
let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-mp4-test-"))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const ffmpegPath = (): string => process.env.FFMPEG_PATH ?? (createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg") as { path: string }).path
const video = (info: ProbeResult) => info.streams.find((s) => s.type === "video")!
const audio = (info: ProbeResult) => info.streams.find((s) => s.type === "audio")!

/** A sentence part as the mux makes it: a test picture for `frames` frames under a tone of the same length. */
const part = (name: string, frames: number, size: [number, number] = [160, 90]) =>
  Effect.gen(function* () {
    const ff = yield* Ffmpeg
    const clip = path.join(dir, `${name}-clip.mp4`)
    const tone = path.join(dir, `${name}.wav`)
    yield* ff.run(["-f", "lavfi", "-i", `testsrc=s=${size[0]}x${size[1]}:r=${FPS}:d=${frames / FPS + 0.5}`, "-pix_fmt", "yuv420p", "-c:v", "libx264", clip])
    yield* ff.run(["-f", "lavfi", "-i", `sine=f=${300 + frames}:r=22050:d=${frames / FPS}`, "-ac", "1", tone])
    const mux = yield* Assemble.muxSentence({ clips: [{ path: clip, frames }], audio: tone, out: path.join(dir, `${name}.mp4`), fps: FPS, width: size[0], height: size[1] })
    return mux.out
  })

/** The audio a decoder gives, in samples at 48 kHz (one channel). */
const decodedSamples = (file: string) =>
  spawnSync(ffmpegPath(), ["-v", "error", "-i", file, "-map", "0:a", "-ac", "1", "-f", "s16le", "-"], { maxBuffer: 1 << 26 }).stdout.length / 2

describe("Mp4.join (parts from the real mux)", () => {
  it.live("a player reads one picture and one sound track lasting the parts' sum, frame-exact and sample-exact", () =>
    Effect.gen(function* () {
      const ff = yield* Ffmpeg
      const frames = [28, 13, 41, 7]
      const parts: Array<string> = []
      for (const [i, n] of frames.entries()) parts.push(yield* part(`p${i}`, n))
      const out = path.join(dir, "joined.mp4")
      Mp4.join(parts, out)
      const info = yield* ff.probe(out)
      const total = frames.reduce((a, n) => a + n, 0)
      expect(info.streams.map((s) => s.type)).toEqual(["video", "audio"])
      expect(video(info)).toMatchObject({ codec: "h264", width: 160, height: 90, frames: total })
      // Both tracks last exactly the pictures: every part is presented as it was alone, no priming heard.
      expect(video(info).durationSec).toBeCloseTo(total / FPS, 6)
      expect(audio(info).durationSec).toBeCloseTo(total / FPS, 6)
      expect(info.durationSec).toBeCloseTo(total / FPS, 6)
      // It decodes from end to end without an error.
      const decode = spawnSync(ffmpegPath(), ["-v", "error", "-xerror", "-i", out, "-f", "null", "-"], { encoding: "utf8" })
      expect(decode.status).toBe(0)
      // The picture can be copied as it is (the music step does): no frame twice, none lost.
      const copy = path.join(dir, "picture-copy.mp4")
      expect(spawnSync(ffmpegPath(), ["-v", "error", "-i", out, "-map", "0:v", "-c:v", "copy", copy]).status).toBe(0)
      expect(video(yield* ff.probe(copy)).frames).toBe(total)
      // The sound a decoder gives does not drift: at most one AAC frame per join beyond the parts' own.
      const own = parts.reduce((a, p) => a + decodedSamples(p), 0)
      expect(Math.abs(decodedSamples(out) - own)).toBeLessThanOrEqual(1024 * parts.length)
      // The same parts give the same bytes.
      const again = path.join(dir, "joined-again.mp4")
      Mp4.join(parts, again)
      expect(fs.readFileSync(again).equals(fs.readFileSync(out))).toBe(true)
      // One part alone is joined to a file of its own length.
      Mp4.join([parts[0]!], path.join(dir, "one.mp4"))
      expect(video(yield* ff.probe(path.join(dir, "one.mp4"))).frames).toBe(28)
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("parts of another size, or files the mux did not make, are declined with the reason (ffmpeg joins those)", () =>
    Effect.gen(function* () {
      const small = yield* part("s", 12)
      const large = yield* part("l", 12, [320, 180])
      expect(() => Mp4.join([small, large], path.join(dir, "mixed.mp4"))).toThrow(Mp4.Declined)
      expect(() => Mp4.join([small, large], path.join(dir, "mixed.mp4"))).toThrow(/another picture format/)
      const text = path.join(dir, "not-a-film.mp4")
      fs.writeFileSync(text, "not a film at all, just some words")
      expect(() => Mp4.join([text], path.join(dir, "text.mp4"))).toThrow(Mp4.Declined)
      // concatFinal then takes ffmpeg's road: the mixed film is re-encoded.
      const mixed = yield* Assemble.concatFinal({ parts: [small, large], out: path.join(dir, "mixed-final.mp4"), listDir: dir })
      expect(mixed.mode).toBe("reencode")
    }).pipe(Effect.provide(Ffmpeg.layer)))
})
