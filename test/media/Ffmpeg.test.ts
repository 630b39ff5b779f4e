import { expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, describe } from "vitest"
import { resolveBinary } from "../../src/media/Binary.ts"
import { filterPath, filterText, filterValue } from "../../src/media/Escape.ts"
import { Ffmpeg } from "../../src/media/Ffmpeg.ts"
import { fontFile } from "../../src/media/Font.ts"
import { verifyMedia } from "../../src/media/Verify.ts"

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-ffmpeg-test-"))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const savedEnv = { FFMPEG_PATH: process.env.FFMPEG_PATH, FFPROBE_PATH: process.env.FFPROBE_PATH }
afterEach(() => {
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
})

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const testsrc = (file: string, seconds = 1) =>
  Effect.flatMap(Ffmpeg, (ff) =>
    ff.run(["-f", "lavfi", "-i", `testsrc=s=160x90:r=12:d=${seconds}`, "-pix_fmt", "yuv420p", "-c:v", "libx264", file], {
      purpose: "make a test clip"
    })
  )

describe("Ffmpeg", () => {
  it.live("runs ffmpeg and probes what it wrote", () =>
    Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const file = path.join(dir, "probe.mp4")
      yield* testsrc(file)
      const info = yield* ff.probe(file)
      expect(info.durationSec).toBeCloseTo(1, 2)
      expect(info.formatName).toContain("mp4")
      expect(info.streams).toHaveLength(1)
      expect(info.streams[0]).toMatchObject({ type: "video", codec: "h264", width: 160, height: 90, frames: 12, fps: 12 })
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("a failing command says what it was for, the exit code and ffmpeg's own words", () =>
    Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const missing = path.join(dir, "no-such-input.mp4")
      const error = yield* Effect.flip(ff.run(["-i", missing, path.join(dir, "out.mp4")], { purpose: "convert the test clip" }))
      expect(error._tag).toBe("FfmpegFailed")
      if (error._tag !== "FfmpegFailed") return
      expect(error.exitCode).toBe(1)
      expect(error.message).toContain("convert the test clip")
      expect(error.stderrTail).toContain("No such file or directory")
      expect(error.stderrTail.split("\n").length).toBeLessThanOrEqual(15)
      expect(error.transient).toBe(false)
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("interrupting a long run kills the ffmpeg process", () =>
    Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const pid = yield* Deferred.make<number>()
      // -re reads the endless test source in real time, so this would run for ten minutes.
      const fiber = yield* ff
        .run(["-re", "-f", "lavfi", "-i", "testsrc=s=160x90:r=12", "-t", "600", "-f", "null", "-"], {
          purpose: "run for a long time",
          onSpawn: (p) => Deferred.unsafeDone(pid, Effect.succeed(p))
        })
        .pipe(Effect.fork)
      const spawned = yield* Deferred.await(pid)
      expect(alive(spawned)).toBe(true)
      yield* Effect.sleep("200 millis")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      expect(Date.now() - started).toBeLessThan(5000)
      expect(alive(spawned)).toBe(false)
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("FFMPEG_PATH pointing nowhere gives FfmpegMissing that says how to fix it", () =>
    Effect.gen(function*() {
      process.env.FFMPEG_PATH = path.join(dir, "nowhere", "ffmpeg")
      const ff = yield* Ffmpeg
      const error = yield* Effect.flip(testsrc(path.join(dir, "never.mp4")))
      expect(error._tag).toBe("FfmpegMissing")
      expect(error.message).toContain("FFMPEG_PATH")
      expect(error.message).toContain(process.env.FFMPEG_PATH)
      expect(fs.existsSync(path.join(dir, "never.mp4"))).toBe(false)
      process.env.FFPROBE_PATH = path.join(dir, "nowhere", "ffprobe")
      const probeError = yield* Effect.flip(ff.probe(path.join(dir, "probe.mp4")))
      expect(probeError._tag).toBe("FfmpegMissing")
      expect(probeError.message).toContain("FFPROBE_PATH")
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live.skipIf(process.platform === "win32")("a binary without its execute bit is made executable once", () =>
    Effect.gen(function*() {
      const real = yield* resolveBinary("ffmpeg")
      const wrapper = path.join(dir, "ffmpeg-wrapper")
      fs.writeFileSync(wrapper, `#!/bin/sh\nexec "${real}" "$@"\n`, { mode: 0o644 })
      process.env.FFMPEG_PATH = wrapper
      yield* testsrc(path.join(dir, "wrapped.mp4"))
      expect(fs.statSync(wrapper).mode & 0o100).toBe(0o100)
      expect(fs.statSync(path.join(dir, "wrapped.mp4")).size).toBeGreaterThan(0)
    }).pipe(Effect.provide(Ffmpeg.layer)))
})

describe("verifyMedia", () => {
  it.live("accepts a good file and returns what it found", () =>
    Effect.gen(function*() {
      const file = path.join(dir, "good.mp4")
      yield* testsrc(file)
      const info = yield* verifyMedia(file, { video: true })
      expect(info.streams.some((s) => s.type === "video")).toBe(true)
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("rejects missing, empty, undecodable and incomplete files", () =>
    Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const empty = path.join(dir, "empty.mp4")
      fs.writeFileSync(empty, "")
      const garbage = path.join(dir, "garbage.mp4")
      fs.writeFileSync(garbage, "this is not a video at all ".repeat(100))
      const silent = path.join(dir, "silent.wav")
      yield* ff.run(["-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "1", silent])
      const cases: ReadonlyArray<[string, Parameters<typeof verifyMedia>[1], RegExp]> = [
        [path.join(dir, "absent.mp4"), { video: true }, /does not exist/],
        [empty, { video: true }, /empty/],
        [garbage, { video: true }, /cannot read/],
        [silent, { video: true }, /no video stream/],
        [silent, { audio: true, image: true }, /no picture/]
      ]
      for (const [file, expect_, reason] of cases) {
        const error = yield* Effect.flip(verifyMedia(file, expect_))
        expect(error._tag).toBe("MediaInvalid")
        if (error._tag === "MediaInvalid") expect(error.reason).toMatch(reason)
      }
      // The audio file itself is fine as audio.
      yield* verifyMedia(silent, { audio: true })
    }).pipe(Effect.provide(Ffmpeg.layer)))
})

describe("filtergraph escaping", () => {
  const hostile = `it's 50% "done": a\\b; [x], y`

  it("escapes both levels: the option string and the graph", () => {
    expect(filterValue("a:b")).toBe("a\\\\:b")
    expect(filterValue("it's")).toBe("it\\\\\\'s")
    expect(filterValue("a,b;c[d]")).toBe("a\\,b\\;c\\[d\\]")
    expect(filterText("50%")).toBe("50\\\\\\\\%")
  })

  it("turns a Windows path into forward slashes with the drive colon escaped", () => {
    if (process.platform === "win32") expect(filterPath("C:\\fonts\\a.ttf")).toBe("C\\\\:/fonts/a.ttf")
    else expect(filterPath("/fonts/it's:odd.ttf")).toBe("/fonts/it\\\\\\'s\\\\:odd.ttf")
  })

  it.live("hostile text and a hostile font path survive a real drawtext", () =>
    Effect.gen(function*() {
      const ff = yield* Ffmpeg
      const oddDir = path.join(dir, "it's: [odd], dir; 100%")
      fs.mkdirSync(oddDir, { recursive: true })
      const font = path.join(oddDir, "font.ttf")
      fs.copyFileSync(fontFile(), font)
      const out = path.join(dir, "hostile.png")
      yield* ff.run([
        "-f", "lavfi", "-i", "color=c=0x223344:s=160x90:d=1",
        "-vf", `drawtext=fontfile=${filterPath(font)}:text=${filterText(hostile)}:fontsize=10:fontcolor=white`,
        "-frames:v", "1", out
      ], { purpose: "draw hostile text" })
      const plain = path.join(dir, "plain.png")
      yield* ff.run(["-f", "lavfi", "-i", "color=c=0x223344:s=160x90:d=1", "-frames:v", "1", plain])
      expect(fs.readFileSync(out).equals(fs.readFileSync(plain))).toBe(false)
    }).pipe(Effect.provide(Ffmpeg.layer)))
})
