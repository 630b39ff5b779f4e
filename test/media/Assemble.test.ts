import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe } from "vitest"
import * as Assemble from "../../src/media/Assemble.ts"
import { Ffmpeg, type ProbeResult } from "../../src/media/Ffmpeg.ts"
import * as Rig from "../../src/media/Rig.ts"

const W = 160
const H = 90
const FPS = 12
const FRAME = 1 / FPS

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-assemble-test-"))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const video = (info: ProbeResult) => info.streams.find((s) => s.type === "video")!
const audio = (info: ProbeResult) => info.streams.find((s) => s.type === "audio")!

/** A narration stand-in: a tone of exactly `seconds`, mono 22.05 kHz like espeak's output. */
const tone = (name: string, seconds: number) =>
  Effect.flatMap(Ffmpeg, (ff) =>
    ff.run(["-f", "lavfi", "-i", `sine=f=440:r=22050:d=${seconds}`, "-ac", "1", path.join(dir, name)]).pipe(Effect.as(path.join(dir, name)))
  )

/** A clip stand-in: ffmpeg's test picture, `frames` frames of size×rate. */
const testClip = (name: string, frames: number, size = `${W}x${H}`, fps = FPS) =>
  Effect.flatMap(Ffmpeg, (ff) =>
    ff
      .run(["-f", "lavfi", "-i", `testsrc=s=${size}:r=${fps}:d=${frames / fps}`, "-pix_fmt", "yuv420p", "-c:v", "libx264", path.join(dir, name)])
      .pipe(Effect.as(path.join(dir, name)))
  )

describe("muxSentence (real ffmpeg)", () => {
  it.live("cuts long clips of another size and rate to their frames, lasts the narration, one video + one audio", () =>
    Effect.gen(function* () {
      const ff = yield* Ffmpeg
      const kb = yield* testClip("mux-kb.mp4", 36)
      // A "provider clip": 5 s at 25 fps and 320x240, longer and differently shaped than the shot.
      const provider = yield* testClip("provider.mp4", 125, "320x240", 25)
      const narration = yield* tone("narration.wav", 2.3)
      const mux = (name: string) =>
        Assemble.muxSentence({
          clips: [{ path: kb, frames: 12 }, { path: provider, frames: 16 }],
          audio: narration,
          out: path.join(dir, name),
          fps: FPS,
          width: W,
          height: H
        })
      const result = yield* mux("sentence-1.mp4")
      const info = yield* ff.probe(result.out)
      expect(info.streams.filter((s) => s.type === "video")).toHaveLength(1)
      expect(info.streams.filter((s) => s.type === "audio")).toHaveLength(1)
      expect(video(info)).toMatchObject({ codec: "h264", width: W, height: H, fps: FPS, pixelFormat: "yuv420p" })
      expect(audio(info)).toMatchObject({ codec: "aac", sampleRate: 48000, channels: 2 })
      expect(Math.abs(info.durationSec - 2.3)).toBeLessThanOrEqual(FRAME)
      expect(Math.abs(audio(info).durationSec! - video(info).durationSec!)).toBeLessThanOrEqual(0.03)
      // The same mux again gives the same bytes (early cutoff after a remade clip depends on it).
      const again = yield* mux("sentence-1-again.mp4")
      expect(fs.readFileSync(again.out).equals(fs.readFileSync(result.out))).toBe(true)
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("narration longer than the clips is cut to the pictures", () =>
    Effect.gen(function* () {
      const ff = yield* Ffmpeg
      const kb = yield* testClip("short-kb.mp4", 12)
      const narration = yield* tone("long.wav", 3)
      const result = yield* Assemble.muxSentence({ clips: [{ path: kb, frames: 12 }], audio: narration, out: path.join(dir, "short.mp4"), fps: FPS, width: W, height: H })
      expect(result.frames).toBe(12)
      const info = yield* ff.probe(result.out)
      expect(Math.abs(info.durationSec - 1)).toBeLessThanOrEqual(FRAME)
    }).pipe(Effect.provide(Ffmpeg.layer)))
})

describe("concatFinal (real ffmpeg)", () => {
  const parts = (names: ReadonlyArray<[string, number]>, folder: string, size: [number, number] = [W, H]) =>
    Effect.gen(function* () {
      fs.mkdirSync(folder, { recursive: true })
      const out: Array<string> = []
      for (const [name, seconds] of names) {
        const frames = Math.round(seconds * FPS) + 6
        const kb = yield* testClip(`${name}-${size[0]}-kb.mp4`, frames, `${size[0]}x${size[1]}`)
        const narration = yield* tone(`${name}-${size[0]}.wav`, seconds)
        const mux = yield* Assemble.muxSentence({ clips: [{ path: kb, frames }], audio: narration, out: path.join(folder, `${name}.mp4`), fps: FPS, width: size[0], height: size[1] })
        out.push(mux.out)
      }
      return out
    })

  it.live("three parts are joined by stream copy and last their sum, within a frame per part", () =>
    Effect.gen(function* () {
      const ff = yield* Ffmpeg
      // A quote in the folder name exercises the list file's escaping.
      const folder = path.join(dir, "it's the parts")
      const files = yield* parts([["001", 2.3], ["002", 1.1], ["003", 3.05]], folder)
      let sum = 0
      for (const f of files) sum += (yield* ff.probe(f)).durationSec
      // ffmpeg's concat (the fallback; the default table join is tested in Mp4.test.ts and test/e2e/final.test.ts).
      const result = yield* Assemble.concatFinal({ parts: files, out: path.join(dir, "out", "final.mp4"), listDir: folder, join: "ffmpeg" })
      expect(result.mode).toBe("copy")
      const info = yield* ff.probe(result.out)
      expect(Math.abs(info.durationSec - sum)).toBeLessThanOrEqual(FRAME * files.length)
      expect(Math.abs(video(info).durationSec! - sum)).toBeLessThanOrEqual(FRAME * files.length)
      expect(video(info).frames).toBe(Math.round(sum * FPS))
      expect(fs.readdirSync(folder).filter((f) => f.endsWith(".txt"))).toEqual([])
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("parts that differ in size are re-encoded and still last their sum", () =>
    Effect.gen(function* () {
      const ff = yield* Ffmpeg
      const small = yield* parts([["a", 1.2]], path.join(dir, "mixed"))
      const large = yield* parts([["b", 1.5]], path.join(dir, "mixed"), [320, 180])
      const result = yield* Assemble.concatFinal({ parts: [...small, ...large], out: path.join(dir, "mixed-final.mp4"), listDir: dir })
      expect(result.mode).toBe("reencode")
      const info = yield* ff.probe(result.out)
      expect(video(info)).toMatchObject({ width: W, height: H })
      expect(Math.abs(info.durationSec - 2.7)).toBeLessThanOrEqual(FRAME * 2)
    }).pipe(Effect.provide(Ffmpeg.layer)))
})

describe("assembling with the fake command rig", () => {
  const narration = (rig: Rig.Rig, name: string, seconds: number) =>
    rig.media(path.join(dir, "rig", name), { durationSec: seconds, formatName: "wav", streams: [Rig.audio(seconds, { codec: "pcm_s16le", sampleRate: 22050, channels: 1 })] })
  const clipOf = (rig: Rig.Rig, name: string, frames: number, fps = 24, width = 640, height = 360) =>
    rig.media(path.join(dir, "rig", name), { durationSec: frames / fps, formatName: "mp4", streams: [Rig.video({ width, height, fps, frames })] })

  it.effect("the mux cuts to whichever is shorter, pictures or narration, to the frame and to the sample", () => {
    const rig = Rig.make()
    return Effect.gen(function* () {
      const clips = [{ path: clipOf(rig, "a.mp4", 120), frames: 48 }, { path: clipOf(rig, "b.mp4", 120), frames: 60 }]
      // 4.51 s of narration at 24 fps: 108 frames of pictures, 108.24 frames of voice → 108 frames.
      const long = yield* Assemble.muxSentence({ clips, audio: narration(rig, "long.wav", 4.51), out: path.join(dir, "rig", "m1.mp4"), fps: 24, width: 640, height: 360 })
      expect(long.frames).toBe(108)
      const short = yield* Assemble.muxSentence({ clips, audio: narration(rig, "short.wav", 2.02), out: path.join(dir, "rig", "m2.mp4"), fps: 24, width: 640, height: 360 })
      expect(short.frames).toBe(48)
      const graph = (i: number) => rig.commands[i]!.args[rig.commands[i]!.args.indexOf("-filter_complex") + 1]!
      expect(graph(1)).toContain("trim=end_frame=48,setpts=PTS-STARTPTS[v]")
      expect(graph(1)).toContain(`atrim=end_sample=${2 * 48000}`)
      // Each clip is read only as far as it is used (plus a second), padded by its last frame if short.
      expect(rig.commands[0]!.args.join(" ")).toContain("-t 3.000 -i")
      expect(graph(0)).toContain("tpad=stop_mode=clone:stop=60,trim=end_frame=60")
      const info = yield* (yield* Ffmpeg).probe(long.out)
      expect(info.streams.map((s) => s.type)).toEqual(["video", "audio"])
      expect(info.streams[0]).toMatchObject({ frames: 108, fps: 24, width: 640, height: 360 })
    }).pipe(Effect.provide(Ffmpeg.layerTest(rig)))
  })

  it.effect("a narration without sound is refused before any command runs", () => {
    const rig = Rig.make()
    return Effect.gen(function* () {
      const silent = clipOf(rig, "picture-only.mp4", 24)
      const error = yield* Effect.flip(Assemble.muxSentence({ clips: [{ path: silent, frames: 24 }], audio: silent, out: path.join(dir, "rig", "m3.mp4"), fps: 24, width: 640, height: 360 }))
      expect(error._tag).toBe("MediaInvalid")
      expect(error.message).toContain("no audio stream")
      expect(rig.commands).toHaveLength(0)
    }).pipe(Effect.provide(Ffmpeg.layerTest(rig)))
  })

  it.effect("the final concat copies when every part matches, lists each part with its exact length, and removes the list", () => {
    const rig = Rig.make()
    const part = (name: string, frames: number, width = 640) =>
      rig.media(path.join(dir, "rig", "it's parts", name), { durationSec: frames / 24 + 0.021, formatName: "mp4", streams: [Rig.video({ width, height: 360, fps: 24, frames }), Rig.audio(frames / 24 + 0.021)] })
    return Effect.gen(function* () {
      const parts = [part("001.mp4", 48), part("002.mp4", 30), part("003.mp4", 72)]
      const listDir = path.join(dir, "rig", "lists")
      const copy = yield* Assemble.concatFinal({ parts, out: path.join(dir, "rig", "final.mp4"), listDir })
      expect(copy.mode).toBe("copy")
      const command = rig.commands[0]!
      expect(command.args).toEqual(expect.arrayContaining(["-f", "concat", "-safe", "0", "-c", "copy"]))
      // The list was read by the command (its parts are the command's inputs), and is gone afterwards.
      expect(command.inputs).toEqual(parts)
      expect(fs.readdirSync(listDir)).toEqual([])
      const info = yield* (yield* Ffmpeg).probe(copy.out)
      expect(info.streams[0]).toMatchObject({ frames: 150 })
      const list = command.args[command.args.indexOf("-i") + 1]!
      expect(path.dirname(list)).toBe(listDir)
      // One part of another size: everything is re-encoded to the first part's size.
      const mixed = yield* Assemble.concatFinal({ parts: [...parts, part("004.mp4", 24, 320)], out: path.join(dir, "rig", "mixed.mp4"), listDir })
      expect(mixed.mode).toBe("reencode")
      const graph = rig.commands[1]!.args[rig.commands[1]!.args.indexOf("-filter_complex") + 1]!
      expect(graph).toContain("[3:v]scale=640:360:force_original_aspect_ratio=decrease,pad=640:360")
      expect(graph).toContain("concat=n=4:v=1:a=1[v][a]")
    }).pipe(Effect.provide(Ffmpeg.layerTest(rig)))
  })

  it.effect("a failed join leaves no film and no temporary file; the list is removed all the same", () => {
    const rig = Rig.make({ onRun: (c) => Effect.fail(Rig.fail(c.purpose, "No space left on device")) })
    return Effect.gen(function* () {
      const p = rig.media(path.join(dir, "rig2", "001.mp4"), { durationSec: 1, formatName: "mp4", streams: [Rig.video({ width: 64, height: 36, fps: 24, frames: 24 }), Rig.audio(1)] })
      const out = path.join(dir, "rig2", "out", "final.mp4")
      const error = yield* Effect.flip(Assemble.concatFinal({ parts: [p], out, listDir: path.join(dir, "rig2") }))
      expect(error._tag).toBe("FfmpegFailed")
      expect(error.message).toContain("No space left on device")
      expect(fs.readdirSync(path.dirname(out))).toEqual([])
      expect(fs.readdirSync(path.join(dir, "rig2")).filter((f) => f.endsWith(".txt"))).toEqual([])
    }).pipe(Effect.provide(Ffmpeg.layerTest(rig)))
  })
})
