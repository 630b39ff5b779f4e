import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe } from "vitest"
import * as Draft from "../../src/media/Draft.ts"
import { Ffmpeg, type ProbeResult } from "../../src/media/Ffmpeg.ts"

const W = 160
const H = 90
const FPS = 12
const FRAME = 1 / FPS
const hostile = `it's 50% "done": a\\b; [x], y 🎬🎥 日本語のテキスト`

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-draft-test-"))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const run = <A, E>(effect: Effect.Effect<A, E, Ffmpeg>) => effect.pipe(Effect.provide(Ffmpeg.layer))

const video = (info: ProbeResult) => info.streams.find((s) => s.type === "video")!
const audio = (info: ProbeResult) => info.streams.find((s) => s.type === "audio")!

const card = (name: string, overrides: Partial<Draft.CardOptions> = {}) =>
  Draft.renderCard({
    out: path.join(dir, name),
    width: W,
    height: H,
    colour: "#3366cc",
    sentence: hostile,
    prompt: `A lighthouse at dusk: ${hostile}`,
    label: "shot 2 of 3 · 2.0 s · push-in",
    ...overrides
  })

/** A narration stand-in: a tone of exactly `seconds`, mono 22.05 kHz like espeak's output. */
const tone = (name: string, seconds: number) =>
  Effect.flatMap(Ffmpeg, (ff) =>
    ff.run(["-f", "lavfi", "-i", `sine=f=440:r=22050:d=${seconds}`, "-ac", "1", path.join(dir, name)]).pipe(
      Effect.as(path.join(dir, name))
    )
  )

const frameHashes = (file: string) =>
  Effect.flatMap(Ffmpeg, (ff) =>
    Effect.gen(function*() {
      const out = path.join(dir, `${path.basename(file)}.framemd5`)
      yield* ff.run(["-i", file, "-f", "framemd5", out])
      return fs.readFileSync(out, "utf8").split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => l.split(",").pop()!.trim())
    })
  )

describe("wrapText", () => {
  it("wraps by columns, breaks long words, and ends cut text with an ellipsis", () => {
    const lines = Draft.wrapText("the quick brown fox jumps over the lazy dog", 10, 10)
    expect(lines).toEqual(["the quick", "brown fox", "jumps over", "the lazy", "dog"])
    expect(Draft.wrapText("abcdefghijklmnop", 5, 10)).toEqual(["abcde", "fghij", "klmno", "p"])
    const cut = Draft.wrapText("one two three four five six seven eight", 9, 2)
    expect(cut).toHaveLength(2)
    expect(cut[1]!.endsWith("…")).toBe(true)
  })

  it("counts CJK as double width and never splits an emoji", () => {
    const lines = Draft.wrapText("日本語のテキストです", 6, 10)
    expect(lines).toEqual(["日本語", "のテキ", "ストで", "す"])
    const family = "👨‍👩‍👧"
    expect(Draft.wrapText(`${family}${family}${family}`, 2, 10)).toEqual([family, family, family])
  })
})

describe("renderCard", () => {
  it.live("renders a PNG of the frame size from hostile text, emoji and CJK", () =>
    run(Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const out = yield* card("hostile.png")
      const info = yield* ff.probe(out)
      expect(video(info)).toMatchObject({ codec: "png", width: W, height: H })
      // The text is drawn, not silently dropped: the card differs from one without text.
      const blank = yield* card("blank.png", { sentence: "", prompt: "", label: "" })
      expect(fs.readFileSync(out).equals(fs.readFileSync(blank))).toBe(false)
      // Nothing but the cards is left in the folder (no temporary files).
      expect(fs.readdirSync(dir).filter((f) => f.endsWith(".png")).sort()).toEqual(["blank.png", "hostile.png"])
    })))

  it.live("renders a long prompt at a larger size too", () =>
    run(Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const out = yield* card("big.png", { width: 640, height: 360, prompt: "word ".repeat(300) })
      expect(video(yield* ff.probe(out))).toMatchObject({ width: 640, height: 360 })
    })))
})

describe("renderKenBurns", () => {
  it.live("every camera move gives exactly N frames of H.264 yuv420p at the frame size", () =>
    run(Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const image = yield* card("kb-source.png")
      for (const camera of Draft.cameraMoves) {
        const out = yield* Draft.renderKenBurns({ image, out: path.join(dir, `kb-${camera}.mp4`), frames: 17, fps: FPS, width: W, height: H, camera })
        const info = yield* ff.probe(out)
        expect(video(info), camera).toMatchObject({ codec: "h264", pixelFormat: "yuv420p", width: W, height: H, frames: 17, fps: FPS })
        expect(info.durationSec).toBeCloseTo(17 / FPS, 3)
      }
    })))

  it.live("the picture moves: the first and last frames differ", () =>
    run(Effect.gen(function*() {
      const image = yield* card("kb-move.png")
      const out = yield* Draft.renderKenBurns({ image, out: path.join(dir, "kb-move.mp4"), frames: 24, fps: FPS, width: W, height: H, camera: "push-in" })
      const hashes = yield* frameHashes(out)
      expect(hashes).toHaveLength(24)
      expect(hashes[0]).not.toBe(hashes[23])
    })))

  it.live("a failed render leaves nothing under the output name", () =>
    run(Effect.gen(function*() {
      const sub = path.join(dir, "failed")
      const error = yield* Effect.flip(
        Draft.renderKenBurns({ image: path.join(dir, "no-such.png"), out: path.join(sub, "x.mp4"), frames: 5, fps: FPS, width: W, height: H, camera: "pan-left" })
      )
      expect(error._tag).toBe("FfmpegFailed")
      expect(fs.readdirSync(sub)).toEqual([])
    })))
})

describe("muxSentence", () => {
  it.live("cuts long clips of another size and rate to their frames, lasts the narration, one video + one audio", () =>
    run(Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const image = yield* card("mux-source.png")
      const kb = yield* Draft.renderKenBurns({ image, out: path.join(dir, "mux-kb.mp4"), frames: 36, fps: FPS, width: W, height: H, camera: "pan-right" })
      // A "provider clip": 5 s at 25 fps and 320x240, longer and differently shaped than the shot.
      const provider = path.join(dir, "provider.mp4")
      yield* ff.run(["-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=5", "-pix_fmt", "yuv420p", provider])
      const narration = yield* tone("narration.wav", 2.3)
      const result = yield* Draft.muxSentence({
        clips: [{ path: kb, frames: 12 }, { path: provider, frames: 16 }],
        audio: narration,
        out: path.join(dir, "sentence-1.mp4"),
        fps: FPS,
        width: W,
        height: H
      })
      const info = yield* ff.probe(result.out)
      expect(info.streams.filter((s) => s.type === "video")).toHaveLength(1)
      expect(info.streams.filter((s) => s.type === "audio")).toHaveLength(1)
      expect(video(info)).toMatchObject({ codec: "h264", width: W, height: H, fps: FPS, pixelFormat: "yuv420p" })
      expect(audio(info)).toMatchObject({ codec: "aac", sampleRate: 48000, channels: 2 })
      expect(Math.abs(info.durationSec - 2.3)).toBeLessThanOrEqual(FRAME)
      expect(Math.abs(audio(info).durationSec! - video(info).durationSec!)).toBeLessThanOrEqual(0.03)
    })))

  it.live("narration longer than the clips is cut to the pictures", () =>
    run(Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const image = yield* card("short-source.png")
      const kb = yield* Draft.renderKenBurns({ image, out: path.join(dir, "short-kb.mp4"), frames: 12, fps: FPS, width: W, height: H, camera: "tilt-up" })
      const narration = yield* tone("long.wav", 3)
      const result = yield* Draft.muxSentence({ clips: [{ path: kb, frames: 12 }], audio: narration, out: path.join(dir, "short.mp4"), fps: FPS, width: W, height: H })
      expect(result.frames).toBe(12)
      const info = yield* ff.probe(result.out)
      expect(Math.abs(info.durationSec - 1)).toBeLessThanOrEqual(FRAME)
    })))
})

describe("concatFinal", () => {
  const parts = (names: ReadonlyArray<[string, number]>, folder: string, size: [number, number] = [W, H]) =>
    Effect.gen(function*() {
      fs.mkdirSync(folder, { recursive: true })
      const image = yield* card(`concat-source-${size[0]}.png`, { width: size[0], height: size[1] })
      const out: Array<string> = []
      for (const [name, seconds] of names) {
        const frames = Math.round(seconds * FPS) + 6
        const kb = yield* Draft.renderKenBurns({ image, out: path.join(folder, `${name}-kb.mp4`), frames, fps: FPS, width: size[0], height: size[1], camera: "push-in" })
        const narration = yield* tone(`${name}-${size[0]}.wav`, seconds)
        const mux = yield* Draft.muxSentence({ clips: [{ path: kb, frames }], audio: narration, out: path.join(folder, `${name}.mp4`), fps: FPS, width: size[0], height: size[1] })
        out.push(mux.out)
      }
      return out
    })

  it.live("three parts are joined by stream copy and last their sum, within a frame per part", () =>
    run(Effect.gen(function*() {
      const ff = yield* Ffmpeg
      // A quote in the folder name exercises the list file's escaping.
      const folder = path.join(dir, "it's the parts")
      const files = yield* parts([["001", 2.3], ["002", 1.1], ["003", 3.05]], folder)
      let sum = 0
      for (const f of files) sum += (yield* ff.probe(f)).durationSec
      const result = yield* Draft.concatFinal({ parts: files, out: path.join(dir, "out", "final.mp4"), listDir: folder })
      expect(result.mode).toBe("copy")
      const info = yield* ff.probe(result.out)
      expect(Math.abs(info.durationSec - sum)).toBeLessThanOrEqual(FRAME * files.length)
      expect(Math.abs(video(info).durationSec! - sum)).toBeLessThanOrEqual(FRAME * files.length)
      expect(video(info).frames).toBe(Math.round(sum * FPS))
      expect(fs.readdirSync(folder).filter((f) => f.endsWith(".txt"))).toEqual([])
    })))

  it.live("parts that differ in size are re-encoded and still last their sum", () =>
    run(Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const small = yield* parts([["a", 1.2]], path.join(dir, "mixed"))
      const large = yield* parts([["b", 1.5]], path.join(dir, "mixed"), [320, 180])
      const files = [...small, ...large]
      const result = yield* Draft.concatFinal({ parts: files, out: path.join(dir, "mixed-final.mp4"), listDir: dir })
      expect(result.mode).toBe("reencode")
      const info = yield* ff.probe(result.out)
      expect(video(info)).toMatchObject({ width: W, height: H })
      expect(Math.abs(info.durationSec - 2.7)).toBeLessThanOrEqual(FRAME * 2)
    })))
})
