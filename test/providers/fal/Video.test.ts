import { expect, it } from "@effect/vitest"
import ffprobeInstaller from "@ffprobe-installer/ffprobe"
import { execFile } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import * as Queue from "../../../src/providers/fal/Queue.ts"
import * as Video from "../../../src/providers/fal/Video.ts"
import * as Keep from "../../../src/providers/Keep.ts"
import { startFakeFal, type FakeFal } from "../../fakes/fal.ts"
import { settingsFor, testLayer } from "./helpers.ts"

const kling = "fal-ai/kling-video/v1.6/standard/image-to-video"
const wan = "fal-ai/wan-i2v"

let fal: FakeFal
beforeAll(async () => {
  fal = await startFakeFal({ pollsInQueue: 1, pollsInProgress: 1 })
})
afterAll(() => fal.close())

/** Duration and codec of an MP4, as ffprobe sees it (the mux will cut this clip). */
const probe = async (bytes: Uint8Array) => {
  const dir = await mkdtemp(path.join(tmpdir(), "storyshot-falvideo-"))
  try {
    const file = path.join(dir, "clip.mp4")
    await writeFile(file, bytes)
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        ffprobeInstaller.path,
        ["-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "json", file],
        (error, stdout) => (error ? reject(error) : resolve(stdout))
      )
    )
    const parsed = JSON.parse(out) as { format: { duration: string }; streams: Array<{ codec_name: string }> }
    return { seconds: Number(parsed.format.duration), codec: parsed.streams[0]?.codec_name }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4])

const animate = (model: string, extra: Partial<Video.AnimateRequest> = {}, follow: Keep.Follow = Keep.followNothing) =>
  Video.animate(
    settingsFor(fal.baseUrl),
    {
      model,
      prompt: "slow push-in on the lighthouse",
      image: { bytes: png, contentType: "image/png", fileName: "shot-1.png" },
      ...extra
    },
    follow
  )

describe("fal image-to-video", () => {
  it.live("Kling is asked for a 5 s clip whatever the shot's length (the mux cuts it)", () =>
    Effect.gen(function*() {
      const short = yield* animate(kling, { shotSeconds: 2 })
      const long = yield* animate(kling, { shotSeconds: 3.99 })
      const [first, second] = fal.inputs(kling)
      expect(first.duration).toBe("5")
      expect(second.duration).toBe("5")
      const { image_url: _a, ...restFirst } = first
      const { image_url: _b, ...restSecond } = second
      expect(restFirst).toEqual(restSecond)
      expect(short.clipSeconds).toBe(5)
      expect(Buffer.from(long.bytes).equals(Buffer.from(fal.media.mp4))).toBe(true)
      expect(long.cost).toEqual({ usd: 0.225, source: "table" })
      const media = yield* Effect.promise(() => probe(long.bytes))
      expect(media.codec).toBe("h264")
      expect(media.seconds).toBeCloseTo(5, 0)
    }).pipe(Effect.provide(testLayer)))

  it.live("the still image is uploaded to fal storage and passed by URL", () =>
    Effect.gen(function*() {
      yield* animate(kling)
      const imageUrl: string = fal.inputs(kling).at(-1).image_url
      const upload = [...fal.uploads.values()].find((u) => imageUrl.includes(u.id))
      expect(upload?.contentType).toBe("image/png")
      expect(upload?.fileName).toBe("shot-1.png")
      expect(Buffer.from(upload!.bytes!).equals(Buffer.from(png))).toBe(true)
      // the pre-signed PUT carries no key
      const put = fal.received.find((r) => r.method === "PUT" && r.path === `/upload/${upload!.id}`)
      expect(put?.headers.authorization).toBeUndefined()
    }).pipe(Effect.provide(testLayer)))

  it.live("Wan sends its own fields, and a data URI when asked to", () =>
    Effect.gen(function*() {
      const uploadsBefore = fal.uploads.size
      const clip = yield* animate(wan, { resolution: "720p", imageInput: "data-uri" })
      const body = fal.inputs(wan).at(-1)
      expect(body).toEqual({
        prompt: "slow push-in on the lighthouse",
        image_url: `data:image/png;base64,${Buffer.from(png).toString("base64")}`,
        num_frames: 81,
        frames_per_second: 16,
        resolution: "720p"
      })
      expect(fal.uploads.size).toBe(uploadsBefore)
      expect(clip.seed).toBe(42)
      expect(clip.cost).toEqual({ usd: 0.4, source: "table" })
    }).pipe(Effect.provide(testLayer)))

  it.live("re-attaching to a kept clip request neither uploads nor submits again", () =>
    Effect.gen(function*() {
      const model = "fal-ai/kling-video/v1.6/pro/image-to-video"
      const journal = Keep.memory()
      yield* Queue.submit(settingsFor(fal.baseUrl), model, { prompt: "x" }, { journal })
      const uploadsBefore = fal.uploads.size
      const clip = yield* animate(model, {}, { journal })
      expect(clip.resumed).toBe(true)
      expect(fal.submits(model)).toBe(1)
      expect(fal.uploads.size).toBe(uploadsBefore)
      expect(clip.cost).toEqual({ usd: 0.475, source: "table" })
    }).pipe(Effect.provide(testLayer)))

  it("requestFor is the exact body, so estimates and fingerprints match what is sent", () => {
    const body = Either.getOrThrow(Video.requestFor(kling, { prompt: "p", imageUrl: "sha256:abc" }))
    expect(body).toEqual({ prompt: "p", image_url: "sha256:abc", duration: "5", negative_prompt: "blur, distort, and low quality", cfg_scale: 0.5 })
    expect(Video.estimate(wan, { prompt: "p" })).toEqual({ usd: 0.2, source: "table" })
    expect(Video.estimate("fal-ai/unknown-video", { prompt: "p" })).toEqual({ usd: undefined, source: "unknown" })
  })

  it.live("an upload that fal storage refuses in passing (429, garbled, cut off) is retried in place", () =>
    Effect.gen(function*() {
      const faults = [{ kind: "rateLimit", retryAfter: "0" } as const, { kind: "malformedJson" } as const, { kind: "truncated" } as const]
      let i = 0
      fal.injectAny((req) => (req.path.startsWith("/storage/upload/initiate") && i < faults.length ? faults[i++] : undefined))
      const before = fal.submits(kling)
      const clip = yield* animate(kling)
      fal.clearFaults()
      expect(i).toBe(3)
      expect(clip.bytes.length).toBeGreaterThan(0)
      expect(fal.submits(kling) - before).toBe(1)
    }).pipe(Effect.provide(testLayer)))

  it.live("an upload that keeps being refused fails, naming the call, the status and the tries", () =>
    Effect.gen(function*() {
      fal.injectAny((req) => (req.path.startsWith("/storage/upload/initiate") ? { kind: "rateLimit", retryAfter: "0" } : undefined))
      const before = fal.submits(kling)
      const error = yield* Effect.flip(
        Video.animate(settingsFor(fal.baseUrl, { reads: { firstDelayMs: 5, maxDelayMs: 20, budgetMs: 200 } }), { model: kling, prompt: "p", image: { bytes: png, contentType: "image/png" } }, Keep.followNothing)
      )
      fal.clearFaults()
      expect(error.message).toMatch(/^fal storage upload answered 429 \(rate limited\) after \d+ tries: Rate limit reached/)
      expect(fal.submits(kling)).toBe(before)
    }).pipe(Effect.provide(testLayer)))

  it.live("an unknown video model is a clear configuration error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(animate("fal-ai/luma-dream-machine"))
      expect(error._tag).toBe("ProviderUnavailable")
      expect(error.message).toContain(kling)
    }).pipe(Effect.provide(testLayer)))

  it.live("an end frame (contract 8) is uploaded too and sent in the model's own field; a model without one says so before paying", () =>
    Effect.gen(function*() {
      const pro = "fal-ai/kling-video/v1.6/pro/image-to-video"
      const uploads = fal.uploads.size
      yield* animate(pro, { tailImage: { bytes: png, contentType: "image/png", fileName: "end.png" } }).pipe(Effect.provide(testLayer))
      expect(fal.uploads.size - uploads).toBe(2)
      const input = fal.inputs(pro).at(-1)
      expect(input.tail_image_url).toMatch(/\/files\/uploads\//)
      expect(input.tail_image_url).not.toBe(input.image_url)
      const before = fal.submits()
      const refused = yield* Effect.either(animate(kling, { tailImage: { bytes: png, contentType: "image/png" } }).pipe(Effect.provide(testLayer)))
      expect(refused._tag === "Left" && refused.left.message).toMatch(/takes no end frame; models that do: .*v1\.6\/pro/)
      expect(fal.submits()).toBe(before)
    }))
})
