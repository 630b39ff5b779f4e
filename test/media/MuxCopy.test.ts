/// <reference lib="dom" />
// (the callback given to page.evaluate runs in the browser)
/**
 * The draft mux copies its Ken Burns clips' frames instead of encoding them a second time, and encodes only the
 * transitions and the narration (Assemble.muxSentence). What a person would notice if that went wrong: a
 * sentence a frame longer or shorter than its narration, frames that are not the clip's (a second generation of
 * encoding, or the wrong ones), a crossfade that is gone, a file a browser will not play.
 */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe } from "vitest"
import * as Assemble from "../../src/media/Assemble.ts"
import { resolveBinary } from "../../src/media/Binary.ts"
import * as Clip from "../../src/media/Clip.ts"
import { Ffmpeg } from "../../src/media/Ffmpeg.ts"
import * as KenBurns from "../../src/media/KenBurns.ts"
import { hasChromium, launch } from "../e2e/browser.ts"

const W = 160
const H = 90
const FPS = 12
const D = 4 // transition frames

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-muxcopy-test-"))
})
afterAll(() => (process.env.KEEP_TEST_DIR ? undefined : fs.rmSync(dir, { recursive: true, force: true })))

/** A flat picture of one colour with a gradient (so a move is visible), as a PNG plate. */
const plate = (name: string, colour: string) =>
  Effect.flatMap(Ffmpeg, (ff) =>
    ff
      .run(["-f", "lavfi", "-i", `color=c=${colour}:s=${W}x${H}:d=1`, "-vf", "vignette", "-frames:v", "1", path.join(dir, `${name}.png`)])
      .pipe(Effect.as(path.join(dir, `${name}.png`)))
  )

/** A draft clip as the video stage makes it: `frames` frames, a keyframe where a transition of D frames ends. */
const clip = (name: string, colour: string, frames: number, keyframe: number | undefined = D) =>
  Effect.gen(function* () {
    const image = yield* plate(name, colour)
    return yield* KenBurns.renderKenBurns({ image, out: path.join(dir, `${name}.mp4`), frames, fps: FPS, width: W, height: H, camera: "push-in", keyframe })
  })

const tone = (name: string, seconds: number) =>
  Effect.flatMap(Ffmpeg, (ff) =>
    ff.run(["-f", "lavfi", "-i", `sine=f=440:r=22050:d=${seconds}`, "-ac", "1", path.join(dir, name)]).pipe(Effect.as(path.join(dir, name)))
  )

/** Every decoded frame of a file's picture, as RGB bytes. */
const frames = (file: string) =>
  Effect.map(resolveBinary("ffmpeg"), (ffmpeg) => {
    const r = spawnSync(ffmpeg, ["-v", "error", "-i", file, "-map", "0:v", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], { maxBuffer: 1 << 28 })
    const size = W * H * 3
    return Array.from({ length: r.stdout.length / size }, (_, i) => r.stdout.subarray(i * size, (i + 1) * size))
  })

/** Decoded audio samples at 48 kHz (per channel). */
const audioSamples = (file: string) =>
  Effect.map(resolveBinary("ffmpeg"), (ffmpeg) => {
    const r = spawnSync(ffmpeg, ["-v", "error", "-i", file, "-map", "0:a", "-f", "s16le", "-ac", "1", "-ar", "48000", "-"], { maxBuffer: 1 << 28 })
    return r.stdout.length / 2
  })

const mean = (px: Buffer): [number, number, number] => {
  const sum = [0, 0, 0]
  for (let i = 0; i < px.length; i += 3) for (let c = 0; c < 3; c++) sum[c]! += px[i + c]!
  return sum.map((s) => s / (px.length / 3)) as [number, number, number]
}

describe("the draft mux copies its clips (real ffmpeg)", () => {
  it.live("three clips with a crossfade and a fade: exact frames and samples, the clips' own frames after each transition", () =>
    Effect.gen(function* () {
      const ff = yield* Ffmpeg
      const red = yield* clip("red", "red", 24)
      const green = yield* clip("green", "green", 20)
      const blue = yield* clip("blue", "blue", 16)
      const narration = yield* tone("narration.wav", 60 / FPS)
      const out = path.join(dir, "sentence.mp4")
      const result = yield* Assemble.muxSentence({
        clips: [
          { path: red, frames: 24 },
          { path: green, frames: 20, into: { kind: "crossfade", frames: D } },
          { path: blue, frames: 16, into: { kind: "fade-black", frames: D } }
        ],
        audio: narration,
        out,
        fps: FPS,
        width: W,
        height: H
      })
      expect(result.frames).toBe(60)
      const info = yield* ff.probe(out)
      const v = info.streams.find((s) => s.type === "video")!
      const a = info.streams.find((s) => s.type === "audio")!
      expect(v).toMatchObject({ codec: "h264", width: W, height: H, fps: FPS, pixelFormat: "yuv420p", frames: 60 })
      expect(v.durationSec).toBeCloseTo(5, 6)
      expect(a).toMatchObject({ codec: "aac", sampleRate: 48000, channels: 2 })
      // The sound lasts the pictures: 5 s at 48 kHz, to within the one AAC frame a decoder gives in full.
      expect(Math.abs((yield* audioSamples(out)) - 5 * 48000)).toBeLessThan(1024)

      const film = yield* frames(out)
      expect(film).toHaveLength(60)
      const [r, g, b] = [yield* frames(red), yield* frames(green), yield* frames(blue)]
      // Copied, not encoded again: the first clip whole, the others from the end of their transition on.
      for (let i = 0; i < 24; i++) expect(film[i]!.equals(r[i]!), `frame ${i}`).toBe(true)
      for (let i = D; i < 20; i++) expect(film[24 + i]!.equals(g[i]!), `frame ${24 + i}`).toBe(true)
      for (let i = D; i < 16; i++) expect(film[44 + i]!.equals(b[i]!), `frame ${44 + i}`).toBe(true)
      // The transitions are there: red and green at once mid-crossfade, dark mid-fade.
      const blend = mean(film[24 + 1]!)
      expect(blend[0]).toBeGreaterThan(40)
      expect(blend[1]).toBeGreaterThan(20)
      expect(Math.max(...mean(film[44 + 1]!))).toBeLessThan(Math.max(...mean(b[D]!)) / 2)
      // The pictures kept the clips' keyframes: one configuration, as every other film part.
      expect(Clip.readVideoIndex(out)?.config).toBe(Clip.readVideoIndex(red)?.config)

      if (hasChromium()) {
        const page = path.join(dir, "play.html")
        fs.writeFileSync(page, `<!doctype html><video id="v" src="sentence.mp4" muted></video>`)
        const { context, close } = yield* Effect.promise(() => launch())
        const played = yield* Effect.promise(async () => {
          try {
            const tab = await context.newPage()
            await tab.goto(`file://${page}`)
            return await tab.evaluate(async () => {
              const v = document.getElementById("v") as HTMLVideoElement
              await new Promise((ok, no) => {
                if (v.readyState >= 1) ok(0)
                v.onloadedmetadata = ok
                v.onerror = () => no(new Error(`media error ${v.error?.code}`))
              })
              v.playbackRate = 4
              await v.play()
              await new Promise((ok) => {
                v.onended = ok
                setTimeout(ok, 20_000)
              })
              return { ended: v.ended, duration: v.duration, frames: (v as unknown as { webkitDecodedFrameCount: number }).webkitDecodedFrameCount }
            })
          } finally {
            await close()
          }
        })
        expect(played.ended).toBe(true)
        expect(played.duration).toBeCloseTo(5, 2)
        expect(played.frames).toBe(60)
      }
    }).pipe(Effect.provide(Ffmpeg.layer)), 120_000)

  it.live("a clip without a keyframe where its transition ends is encoded, and the sentence still lasts its frames", () =>
    Effect.gen(function* () {
      const red = yield* clip("red2", "red", 24)
      const green = yield* clip("green2", "green", 24, undefined)
      const narration = yield* tone("narration2.wav", 4)
      const out = path.join(dir, "encoded.mp4")
      yield* Assemble.muxSentence({
        clips: [{ path: red, frames: 24 }, { path: green, frames: 24, into: { kind: "crossfade", frames: D } }],
        audio: narration,
        out,
        fps: FPS,
        width: W,
        height: H
      })
      const film = yield* frames(out)
      expect(film).toHaveLength(48)
      expect(Math.abs((yield* audioSamples(out)) - 4 * 48000)).toBeLessThan(1024)
      const blend = mean(film[24 + 1]!)
      expect(blend[0]).toBeGreaterThan(40)
      expect(blend[1]).toBeGreaterThan(20)
    }).pipe(Effect.provide(Ffmpeg.layer)), 120_000)
})
