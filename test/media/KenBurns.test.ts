import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, describe } from "vitest"
import { resolveBinary } from "../../src/media/Binary.ts"
import * as Card from "../../src/media/Card.ts"
import { Ffmpeg } from "../../src/media/Ffmpeg.ts"
import * as KenBurns from "../../src/media/KenBurns.ts"
import * as Rig from "../../src/media/Rig.ts"

const W = 320
const H = 180
const FPS = 12

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-kenburns-test-"))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
const savedPath = process.env.FFMPEG_PATH
afterEach(() => {
  if (savedPath === undefined) delete process.env.FFMPEG_PATH
  else process.env.FFMPEG_PATH = savedPath
})

const card = (name: string, camera: KenBurns.CameraMove = "push-in") =>
  Card.renderCard({
    out: { image: path.join(dir, `${name}.png`), plate: path.join(dir, `${name}-plate.png`), lettering: path.join(dir, `${name}-lettering.png`) },
    width: W,
    height: H,
    palette: { key: "#8a5a2f" },
    sentence: "The lighthouse keeper woke before dawn, as she had every day for forty years.",
    caption: "Aerial: the lighthouse keeper woke before dawn",
    label: `shot 1 of 2 · 2.0 s · ${Card.cameraLabel(camera)}`,
    shotType: "wide",
    camera,
    index: 1
  })

const clip = (name: string, layers: { plate: string; lettering: string }, camera: KenBurns.CameraMove, frames = 24) =>
  KenBurns.renderKenBurns({ image: layers.plate, lettering: layers.lettering, out: path.join(dir, `${name}.mp4`), frames, fps: FPS, width: W, height: H, camera })

/** Every frame of a clip, grey, full size. */
const frames = (file: string) =>
  Effect.map(resolveBinary("ffmpeg"), (ffmpeg) => {
    const r = spawnSync(ffmpeg, ["-v", "error", "-i", file, "-vf", "format=gray", "-f", "rawvideo", "-"], { maxBuffer: 1 << 28 })
    const size = W * H
    return Array.from({ length: r.stdout.length / size }, (_, i) => r.stdout.subarray(i * size, (i + 1) * size))
  })

const sha = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex")

describe("renderKenBurns (real ffmpeg)", () => {
  it.live("every camera move gives exactly N frames of H.264 yuv420p at the frame size", () =>
    Effect.gen(function* () {
      const ff = yield* Ffmpeg
      const layers = yield* card("source")
      for (const camera of KenBurns.cameraMoves) {
        const out = yield* clip(`kb-${camera}`, layers, camera, 17)
        const info = yield* ff.probe(out)
        expect(info.streams[0], camera).toMatchObject({ codec: "h264", pixelFormat: "yuv420p", width: W, height: H, frames: 17, fps: FPS })
        expect(info.durationSec).toBeCloseTo(17 / FPS, 3)
      }
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("the picture moves and the lettering does not: the white of the words stays on the same pixels", () =>
    Effect.gen(function* () {
      for (const camera of ["push-in", "pan-left", "tilt-down"] as const) {
        const layers = yield* card(`still-${camera}`, camera)
        const all = yield* frames(yield* clip(`still-${camera}`, layers, camera))
        expect(all).toHaveLength(24)
        const first = all[0]!
        const last = all[23]!
        expect(first.equals(last), camera).toBe(false)
        const white = (f: Buffer) => new Set([...f.keys()].filter((i) => f[i]! > 225))
        const a = white(first)
        const b = white(last)
        const shared = [...a].filter((i) => b.has(i)).length
        expect(a.size, camera).toBeGreaterThan(200)
        expect(shared / Math.max(a.size, b.size), camera).toBeGreaterThan(0.95)
      }
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("is deterministic: the same clip, rendered five times, has the same bytes", () =>
    Effect.gen(function* () {
      const layers = yield* card("repeat")
      const hashes: Array<string> = []
      for (let i = 0; i < 5; i++) hashes.push(sha(yield* clip(`repeat-${i}`, layers, "pan-right")))
      expect(new Set(hashes).size).toBe(1)
    }).pipe(Effect.provide(Ffmpeg.layer)))

  // x264 on auto threads sizes itself from the CPUs it may use, and writes the count into the stream: a clip
  // made on one CPU (taskset, a container quota, another machine) differed from one made on two.
  it.live.skipIf(process.platform !== "linux" || os.cpus().length < 2 || spawnSync("taskset", ["-c", "0", "true"]).status !== 0)(
    "the bytes do not depend on how many CPUs ffmpeg may use",
    () =>
      Effect.gen(function* () {
        const layers = yield* card("cpus")
        const two = sha(yield* clip("cpus-all", layers, "tilt-up"))
        const real = yield* resolveBinary("ffmpeg")
        const wrapper = path.join(dir, "ffmpeg-one-cpu")
        fs.writeFileSync(wrapper, `#!/bin/sh\nexec taskset -c 0 "${real}" "$@"\n`, { mode: 0o755 })
        process.env.FFMPEG_PATH = wrapper
        const one = sha(yield* clip("cpus-one", layers, "tilt-up"))
        expect(one).toBe(two)
      }).pipe(Effect.provide(Ffmpeg.layer))
  )

  it.live("a failed render leaves nothing under the output name", () =>
    Effect.gen(function* () {
      const sub = path.join(dir, "failed")
      const error = yield* Effect.flip(
        KenBurns.renderKenBurns({ image: path.join(dir, "no-such.png"), out: path.join(sub, "x.mp4"), frames: 5, fps: FPS, width: W, height: H, camera: "pan-left" })
      )
      expect(error._tag).toBe("FfmpegFailed")
      expect(fs.readdirSync(sub)).toEqual([])
    }).pipe(Effect.provide(Ffmpeg.layer)))
})

describe("renderKenBurns (fake command rig)", () => {
  it.effect("moves only the picture: the lettering joins after the zoompan, unscaled; every encode is pinned", () => {
    const rig = Rig.make()
    return Effect.gen(function* () {
      for (const camera of KenBurns.cameraMoves) {
        yield* KenBurns.renderKenBurns({ image: "/cards/plate.png", lettering: "/cards/lettering.png", out: path.join(dir, `rig-${camera}.mp4`), frames: 48, fps: 24, width: 640, height: 360, camera })
      }
      expect(rig.commands).toHaveLength(6)
      for (const command of rig.commands) {
        const graph = command.args[command.args.indexOf("-filter_complex") + 1]!
        const [moving, lettering] = graph.split(";")
        expect(moving).toMatch(/^\[0:v\].*zoompan=/)
        expect(moving).not.toContain("[1:v]")
        expect(lettering).toBe("[1:v]format=yuva420p[lettering]")
        expect(graph).toMatch(/\[moving\]\[lettering\]overlay=0:0/)
        expect(command.inputs).toEqual(["/cards/plate.png", "/cards/lettering.png"])
        const args = command.args.join(" ")
        expect(args).toContain("-filter_complex_threads 1")
        expect(args).toContain("-threads 1")
        expect(args).toContain("-fflags +bitexact")
      }
      const info = yield* (yield* Ffmpeg).probe(path.join(dir, "rig-pan-left.mp4"))
      expect(info.streams[0]).toMatchObject({ width: 640, height: 360, frames: 48, fps: 24 })
    }).pipe(Effect.provide(Ffmpeg.layerTest(rig)))
  })

  it.live("an interrupted render kills its command and leaves no temporary file", () => {
    const rig = Rig.make({ onRun: () => Effect.never })
    const sub = path.join(dir, "interrupted")
    return Effect.gen(function* () {
      const result = yield* KenBurns.renderKenBurns({ image: "/p.png", out: path.join(sub, "x.mp4"), frames: 5, fps: FPS, width: W, height: H, camera: "tilt-up" }).pipe(
        Effect.timeout("50 millis"),
        Effect.either
      )
      expect(result._tag).toBe("Left")
      expect(rig.commands).toHaveLength(1)
      expect(fs.readdirSync(sub)).toEqual([])
    }).pipe(Effect.provide(Ffmpeg.layerTest(rig)))
  })
})
