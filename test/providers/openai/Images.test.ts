import { describe, expect, it } from "@effect/vitest"
import ffprobe from "@ffprobe-installer/ffprobe"
import { Effect, Fiber, Layer } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as Cost from "../../../src/engine/Cost.ts"
import { Http } from "../../../src/providers/http/Client.ts"
import { IoLog } from "../../../src/providers/IoLog.ts"
import * as Keep from "../../../src/providers/Keep.ts"
import * as Images from "../../../src/providers/openai/Images.ts"
import { retryable } from "../../../src/providers/Retryable.ts"
import * as OpenAIFake from "../../fakes/openai.ts"
import { pngSize } from "../../fakes/png.ts"

let fake: OpenAIFake.OpenAIFake
beforeAll(async () => {
  fake = await OpenAIFake.start({ models: ["gpt-image-1", "gpt-image-1.5", "gpt-image-1-mini", "house-gateway-image"] })
})
afterAll(() => fake.close())

const layer = () => Http.layerWith({ secrets: [fake.apiKey] }).pipe(Layer.provideMerge(IoLog.layerMemory))

const prompt = "A lighthouse keeper climbs the spiral stairs at dawn, wide shot, warm light through salt-stained windows"

const generate = (
  over: Partial<Images.GenerateRequest> & { apiKey?: string; timeoutMs?: number } = {},
  follow: Keep.Follow = Keep.followNothing
) => {
  const { apiKey, timeoutMs, ...req } = over
  return Images.generate(
    { ...Images.defaultSettings(apiKey ?? fake.apiKey, fake.baseUrl), ...(timeoutMs === undefined ? {} : { timeoutMs }) },
    { model: Images.defaultImageModel, prompt, size: "1024x1024", quality: "medium", outputFormat: "png", ...req },
    follow
  )
}

/** What ffprobe says the image is: proof that the bytes really decode. */
const probe = (bytes: Uint8Array, ext: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), "storyshot-img-"))
  try {
    const file = path.join(dir, `image.${ext}`)
    writeFileSync(file, bytes)
    const out = spawnSync(ffprobe.path, ["-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "json", file], { encoding: "utf8" })
    expect(out.status).toBe(0)
    return JSON.parse(out.stdout).streams[0] as { codec_name: string; width: number; height: number }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("OpenAI Images", () => {
  it("defaults to gpt-image-1.5", () => expect(Images.defaultImageModel).toBe("gpt-image-1.5"))

  it.live("generates a real PNG of the requested size, with usage, request id and a table price", () =>
    Effect.gen(function*() {
      const image = yield* generate({ size: "1536x1024" })
      expect(image.ext).toBe("png")
      expect(pngSize(image.bytes)).toEqual({ width: 1536, height: 1024 })
      expect(probe(image.bytes, "png")).toMatchObject({ codec_name: "png", width: 1536, height: 1024 })
      expect(image.requestId).toMatch(/^req_/)
      const textTokens = Math.ceil(prompt.length / 4)
      expect(image.usage).toMatchObject({ inputTokens: textTokens, textInputTokens: textTokens, outputTokens: 1568, imageOutputTokens: 1568 })
      // gpt-image-1.5: $5 / 1M text-in, $32 / 1M image-out.
      expect(image.cost.source).toBe("table")
      expect(image.cost.usd).toBeCloseTo(textTokens * 5e-6 + 1568 * 32e-6, 10)

      const sent = fake.requests[fake.requests.length - 1]!
      expect(sent.path).toBe("/v1/images/generations")
      expect(sent.headers["authorization"]).toBe(`Bearer ${fake.apiKey}`)
      expect(sent.json).toEqual({ model: "gpt-image-1.5", prompt, size: "1536x1024", quality: "medium", n: 1, output_format: "png" })
    }).pipe(Effect.provide(layer())))

  it.live("the same prompt gives the same picture; another prompt another", () =>
    Effect.gen(function*() {
      const a = yield* generate({ quality: "low" })
      const b = yield* generate({ quality: "low" })
      const c = yield* generate({ quality: "low", prompt: "A storm over the harbour" })
      expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true)
      expect(Buffer.from(a.bytes).equals(Buffer.from(c.bytes))).toBe(false)
    }).pipe(Effect.provide(layer())))

  it.live("JPEG and WebP answers are recognised by their bytes", () =>
    Effect.gen(function*() {
      const jpeg = yield* generate({ outputFormat: "jpeg", quality: "low" })
      expect(jpeg.ext).toBe("jpeg")
      expect(probe(jpeg.bytes, "jpg")).toMatchObject({ width: 1024, height: 1024 })
      const webp = yield* generate({ outputFormat: "webp", quality: "low" })
      expect(webp.ext).toBe("webp")
    }).pipe(Effect.provide(layer())))

  it.live("a model without a known price costs unknown, never $0; gpt-image-1 and mini are priced", () =>
    Effect.gen(function*() {
      const image = yield* generate({ model: "house-gateway-image" })
      expect(image.cost).toEqual(Cost.unknown)
      expect(Cost.format(image.cost)).toBe("unknown")
      expect((yield* generate({ model: "gpt-image-1", quality: "high" })).cost.usd).toBeCloseTo(Math.ceil(prompt.length / 4) * 5e-6 + 4160 * 40e-6, 10)
      expect((yield* generate({ model: "gpt-image-1-mini", quality: "low" })).cost.usd).toBeCloseTo(Math.ceil(prompt.length / 4) * 2e-6 + 272 * 8e-6, 10)
    }).pipe(Effect.provide(layer())))

  it.live("the IoLog keeps the full prompt and never the key", () =>
    Effect.gen(function*() {
      yield* generate()
      yield* Effect.flip(generate({ apiKey: "sk-wrong-key-0000000000000000" }))
      const entries = yield* IoLog.entries
      expect(entries).toHaveLength(2)
      expect((entries[0]!.requestBody as { prompt: string }).prompt).toBe(prompt)
      expect(entries[0]!.requestHeaders["authorization"]).toBe("Bearer ***")
      const serialized = JSON.stringify(entries)
      expect(serialized).not.toContain(fake.apiKey)
      expect(serialized).not.toContain("sk-wrong-key-0000000000000000")
    }).pipe(Effect.provide(layer())))
})

describe("OpenAI Images: kept answers", () => {
  it.live("the answer's bytes are kept before they are decoded; a run that resumes decodes them and pays nothing", () =>
    Effect.gen(function*() {
      const journal = Keep.memory()
      const first = yield* generate({ quality: "low" }, { journal })
      const kept = JSON.parse(Buffer.from(journal.entries.get("answer")!).toString("utf8"))
      expect(kept.data[0].b64_json).toBe(Buffer.from(first.bytes).toString("base64"))
      const before = fake.requests.length
      const again = yield* generate({ quality: "low" }, { journal })
      expect(fake.requests.length).toBe(before)
      expect(again).toMatchObject({ resumed: true, ext: "png", requestId: first.requestId, cost: first.cost })
      expect(Buffer.from(again.bytes).equals(Buffer.from(first.bytes))).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.live("stopped while the image is being made: the call waits for it (it is billed) and keeps it", () =>
    Effect.gen(function*() {
      fake.setLatency(() => 400)
      const journal = Keep.memory()
      const waiting: Array<string> = []
      const fiber = yield* Effect.fork(generate({ quality: "low" }, { journal, onWaiting: (w) => Effect.sync(() => void waiting.push(w)) }))
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(fiber)
      fake.setLatency(() => 0)
      expect(waiting).toEqual(["image"])
      expect(journal.entries.has("answer")).toBe(true)
      const before = fake.requests.length
      expect((yield* generate({ quality: "low" }, { journal })).resumed).toBe(true)
      expect(fake.requests.length).toBe(before)
    }).pipe(Effect.provide(layer())))
})

describe("OpenAI Images errors", () => {
  it.live("a wrong key is permanent, says so in OpenAI's words and points at the setting", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(generate({ apiKey: "sk-wrong-key-0000000000000000" }))
      expect(error).toMatchObject({ _tag: "OpenAIError", call: "images", reason: "unauthorized", status: 401, code: "invalid_api_key" })
      expect(retryable(error).retry).toBe(false)
      expect(error.message).toContain("Incorrect API key provided")
      expect(error.message).toContain("OPENAI_KEY")
      expect(error.message).not.toContain("sk-wrong-key-0000000000000000")
    }).pipe(Effect.provide(layer())))

  it.live("a moderation block is permanent and tells the person to edit the prompt", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "moderation" })
      const error = yield* Effect.flip(generate())
      expect(error).toMatchObject({ reason: "moderation", status: 400, code: "moderation_blocked" })
      expect(retryable(error).retry).toBe(false)
      expect(error.message).toMatch(/answered 400 \(moderation blocked\)/)
      expect(error.message).toMatch(/edit the sentence/i)
      expect(error.message).toContain("A lighthouse keeper")
      expect(error.requestId).toMatch(/^req_/)
    }).pipe(Effect.provide(layer())))

  it.live("a bad parameter is permanent with OpenAI's message", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(generate({ size: "999x999" as Images.ImageSize }))
      expect(error).toMatchObject({ status: 400, reason: "rejected" })
      expect(retryable(error).retry).toBe(false)
      expect(error.message).toContain("Invalid value: '999x999'")
    }).pipe(Effect.provide(layer())))

  it.live("429 and 500/502/503 were refused before any work (not billed): worth trying again, after Retry-After", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "rateLimit", retryAfter: "20" })
      const limited = yield* Effect.flip(generate())
      expect(limited).toMatchObject({ status: 429, reason: "rate-limited", billed: "no", retryAfterMs: 20_000 })
      expect(retryable(limited)).toEqual({ retry: true, afterMs: 20_000 })
      for (const status of [500, 502, 503] as const) {
        fake.inject({ kind: "serverError", status })
        const error = yield* Effect.flip(generate())
        expect(error).toMatchObject({ status, reason: "unavailable", billed: "no" })
        expect(retryable(error).retry).toBe(true)
      }
    }).pipe(Effect.provide(layer())))

  it.live("no answer in time may have been billed; a garbled or cut-off 200 was: none is bought again by itself", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "hang" })
      const silent = yield* Effect.flip(generate({ timeoutMs: 150 }))
      expect(silent).toMatchObject({ reason: "no-answer", billed: "maybe" })
      fake.inject({ kind: "malformedJson" })
      const garbled = yield* Effect.flip(generate())
      expect(garbled).toMatchObject({ reason: "garbled", billed: "yes" })
      expect(garbled.message).toMatch(/^OpenAI image generation answer is garbled: broken JSON/)
      fake.inject({ kind: "truncated" })
      const cut = yield* Effect.flip(generate())
      expect(cut).toMatchObject({ reason: "cut-off", billed: "yes" })
      for (const e of [silent, garbled, cut]) expect(retryable(e).retry).toBe(false)
    }).pipe(Effect.provide(layer())))

  it.live("an empty or non-image answer was paid for: not tried again", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "emptyImage" })
      const empty = yield* Effect.flip(generate())
      expect(empty).toMatchObject({ reason: "not-an-image", billed: "yes", message: expect.stringContaining("empty image") })
      fake.inject({ kind: "notAnImage" })
      const notImage = yield* Effect.flip(generate())
      expect(notImage).toMatchObject({ reason: "not-an-image", message: expect.stringContaining("not a PNG, JPEG or WebP") })
      expect(retryable(notImage).retry).toBe(false)
    }).pipe(Effect.provide(layer())))
})
