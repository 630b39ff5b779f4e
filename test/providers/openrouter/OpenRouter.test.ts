import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll } from "vitest"
import * as Cost from "../../../src/engine/Cost.ts"
import { Http } from "../../../src/providers/http/Client.ts"
import { IoLog } from "../../../src/providers/IoLog.ts"
import * as Keep from "../../../src/providers/Keep.ts"
import * as OpenRouter from "../../../src/providers/openrouter/OpenRouter.ts"
import { retryable } from "../../../src/providers/Retryable.ts"
import * as OpenRouterFake from "../../fakes/openrouter.ts"

let fake: OpenRouterFake.OpenRouterFake
beforeAll(async () => {
  fake = await OpenRouterFake.start()
})
afterAll(() => fake.close())

const layer = () => Http.layerWith({ secrets: [fake.apiKey] }).pipe(Layer.provideMerge(IoLog.layerMemory))

const system = "You are a storyboard artist. Style: muted watercolour, 1950s harbour town."
const user = "Sentence: The keeper climbed the stairs as the storm rolled in.\nPrevious: The lamp had gone dark.\nNext: Far below, a boat fought the waves."

const settings = (over: Partial<OpenRouter.OpenRouterSettings> = {}) => ({ ...OpenRouter.defaultSettings(fake.apiKey, fake.baseUrl), ...over })

const shotList = (over: Partial<OpenRouter.ShotListRequest> & { apiKey?: string; timeoutMs?: number } = {}, follow: Keep.Follow = Keep.followNothing) => {
  const { apiKey, timeoutMs, ...req } = over
  return OpenRouter.shotList(
    settings({ ...(apiKey === undefined ? {} : { apiKey }), ...(timeoutMs === undefined ? {} : { timeoutMs }) }),
    { model: "google/gemini-2.5-flash", system, user, count: 3, referer: "https://github.com/storyshot", title: "storyshot", ...req },
    follow
  )
}

const last = () => fake.requests[fake.requests.length - 1]!

describe("OpenRouter.shotList", () => {
  it.live("asks with a json_schema that pins the number of shots and returns exactly that many", () =>
    Effect.gen(function*() {
      const result = yield* shotList({ count: 4 })
      expect(result.shots).toHaveLength(4)
      expect(result.attempts).toBe(1)
      for (const shot of result.shots) {
        expect(shot.prompt.length).toBeGreaterThan(0)
        expect(OpenRouter.cameraMoves).toContain(shot.camera)
      }
      expect(result.requestId).toMatch(/^gen-/)
      expect(result.cost.source).toBe("reported")
      expect(result.cost.usd).toBeGreaterThan(0)
      expect(result.usage.totalTokens).toBe(result.usage.promptTokens + result.usage.completionTokens)

      const sent = last()
      expect(sent.path).toBe("/api/v1/chat/completions")
      expect(sent.headers["authorization"]).toBe(`Bearer ${fake.apiKey}`)
      expect(sent.headers["http-referer"]).toBe("https://github.com/storyshot")
      expect(sent.headers["x-title"]).toBe("storyshot")
      const body = sent.json as any
      expect(body.model).toBe("google/gemini-2.5-flash")
      expect(body.messages).toEqual([{ role: "system", content: system }, { role: "user", content: user }])
      expect(body.provider).toEqual({ require_parameters: true })
      expect(body.response_format.type).toBe("json_schema")
      expect(body.response_format.json_schema).toMatchObject({ name: "shot_list", strict: true })
      const shots = body.response_format.json_schema.schema.properties.shots
      expect(shots).toMatchObject({ minItems: 4, maxItems: 4 })
      expect(shots.items.properties.camera.enum).toEqual(["push-in", "pull-out", "pan-left", "pan-right", "tilt-up", "tilt-down"])
    }).pipe(Effect.provide(layer())))

  it.live("a wrong count is repaired by one follow-up that shows the model its mistake; both attempts are paid", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "wrongCount", count: 5 })
      const before = fake.requests.length
      const result = yield* shotList({ count: 3 })
      expect(result.shots).toHaveLength(3)
      expect(result.attempts).toBe(2)
      expect(fake.requests.length - before).toBe(2)

      const repair = (last().json as any).messages as Array<{ role: string; content: string }>
      expect(repair).toHaveLength(4)
      expect(repair[2]!.role).toBe("assistant")
      expect(JSON.parse(repair[2]!.content).shots).toHaveLength(5)
      expect(repair[3]!.role).toBe("user")
      expect(repair[3]!.content).toContain("expected exactly 3 shots, got 5")

      // The two answers' usage.cost, as the IoLog saw them, add up to the reported cost.
      const entries = (yield* IoLog.entries).slice(-2)
      const paid = entries.map((e) => (e.responseBody as any).usage.cost as number)
      expect(result.cost).toEqual(Cost.reported(paid[0]! + paid[1]!))
      expect(result.usage.promptTokens).toBe(entries.reduce((n, e) => n + (e.responseBody as any).usage.prompt_tokens, 0))
    }).pipe(Effect.provide(layer())))

  it.live("an answer that is not JSON is repaired too; a fenced JSON answer is accepted as is", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "notJson" })
      const repaired = yield* shotList()
      expect(repaired.attempts).toBe(2)
      expect((last().json as any).messages[3].content).toContain("not JSON")
      fake.inject({ kind: "fenced" })
      const fenced = yield* shotList()
      expect(fenced.attempts).toBe(1)
      expect(fenced.shots).toHaveLength(3)
    }).pipe(Effect.provide(layer())))

  it.live("still invalid after the repair: a permanent error naming the problem, and no third request", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "wrongCount", count: 2 }, { times: 2 })
      const before = fake.requests.length
      const error = yield* Effect.flip(shotList())
      expect(error).toMatchObject({ reason: "invalid-answer", billed: "yes" })
      expect(retryable(error).retry).toBe(false)
      expect(error.message).toContain("model returned an invalid shot list: expected exactly 3 shots, got 2")
      expect(fake.requests.length - before).toBe(2)
    }).pipe(Effect.provide(layer())))

  it.live("an error inside an HTTP 200 is classified by its code", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "errorIn200", code: 502, message: "Provider returned error" })
      const upstream = yield* Effect.flip(shotList())
      expect(upstream).toMatchObject({ _tag: "OpenRouterError", status: 502, reason: "unavailable", said: "Provider returned error" })
      expect(retryable(upstream).retry).toBe(true)
      fake.inject({ kind: "errorIn200", code: 400, message: "Invalid schema for response_format" })
      const invalid = yield* Effect.flip(shotList())
      expect(invalid).toMatchObject({ status: 400, reason: "rejected", said: "Invalid schema for response_format" })
      expect(retryable(invalid).retry).toBe(false)
    }).pipe(Effect.provide(layer())))

  it.live("402 is permanent and says to add credit", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "outOfCredit" })
      const error = yield* Effect.flip(shotList())
      expect(error).toMatchObject({ status: 402, reason: "out-of-credit" })
      expect(retryable(error).retry).toBe(false)
      expect(error.message).toMatch(/out of credit/)
      expect(error.message).toMatch(/add credit/i)
    }).pipe(Effect.provide(layer())))

  it.live("429, 502 and 503 were not billed: worth trying again (after Retry-After); a wrong key is not", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "rateLimit", retryAfter: "12" })
      const limited = yield* Effect.flip(shotList())
      expect(limited).toMatchObject({ status: 429, reason: "rate-limited", retryAfterMs: 12_000 })
      expect(retryable(limited)).toEqual({ retry: true, afterMs: 12_000 })
      for (const status of [502, 503] as const) {
        fake.inject({ kind: "serverError", status })
        expect(retryable(yield* Effect.flip(shotList())).retry).toBe(true)
      }
      const wrongKey = yield* Effect.flip(shotList({ apiKey: "sk-or-v1-wrong" }))
      expect(wrongKey).toMatchObject({ status: 401, reason: "unauthorized" })
      expect(retryable(wrongKey).retry).toBe(false)
      expect(wrongKey.message).toContain("OPENROUTER_KEY")
    }).pipe(Effect.provide(layer())))

  it.live("no answer in time, a garbled or a cut-off answer may have been billed: not asked again by itself", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "hang" })
      expect(yield* Effect.flip(shotList({ timeoutMs: 150 }))).toMatchObject({ reason: "no-answer", billed: "maybe" })
      fake.inject({ kind: "malformedJson" })
      const garbled = yield* Effect.flip(shotList())
      expect(garbled).toMatchObject({ reason: "garbled", billed: "yes", message: expect.stringContaining("OpenRouter chat completion answer is garbled") })
      fake.inject({ kind: "truncated" })
      const cut = yield* Effect.flip(shotList())
      expect(cut).toMatchObject({ reason: "cut-off", billed: "yes" })
      expect(retryable(cut).retry).toBe(false)
    }).pipe(Effect.provide(layer())))

  it.live("the answer is kept before it is parsed; a run that resumes uses it and asks nothing", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "wrongCount", count: 5 })
      const journal = Keep.memory()
      const first = yield* shotList({}, { journal })
      expect(first.attempts).toBe(2)
      expect([...journal.entries.keys()].sort()).toEqual(["answer", "repair"])
      const before = fake.requests.length
      const again = yield* shotList({}, { journal })
      expect(fake.requests.length).toBe(before)
      expect(again).toMatchObject({ resumed: true, attempts: 2, shots: first.shots, requestId: first.requestId })
    }).pipe(Effect.provide(layer())))

  it.live("a model without structured outputs is refused by require_parameters (permanent)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(shotList({ model: "meta-llama/llama-3-8b-instruct" }))
      expect(error).toMatchObject({ status: 404, reason: "rejected", said: "No endpoints found that can handle the requested parameters." })
      expect(retryable(error).retry).toBe(false)
    }).pipe(Effect.provide(layer())))

  it.live("an answer without usage.cost costs unknown, not $0", () =>
    Effect.gen(function*() {
      fake.inject({ kind: "noCost" })
      expect((yield* shotList()).cost).toEqual(Cost.unknown)
    }).pipe(Effect.provide(layer())))

  it.live("the IoLog keeps the whole prompt and never the key", () =>
    Effect.gen(function*() {
      yield* shotList()
      const entries = yield* IoLog.entries
      const body = entries[0]!.requestBody as any
      expect(body.messages[0].content).toBe(system)
      expect(body.messages[1].content).toBe(user)
      expect(entries[0]!.requestHeaders["authorization"]).toBe("Bearer ***")
      expect(JSON.stringify(entries)).not.toContain(fake.apiKey)
    }).pipe(Effect.provide(layer())))
})

describe("OpenRouter.listModels and estimateCost", () => {
  it.live("reads per-token prices from strings and estimates a dry run's cost", () =>
    Effect.gen(function*() {
      const models = yield* OpenRouter.listModels(settings())
      const flash = models.find((m) => m.id === "google/gemini-2.5-flash")!
      expect(flash).toEqual({
        id: "google/gemini-2.5-flash",
        pricing: { prompt: 0.0000003, completion: 0.0000025 },
        contextLength: 1_048_576,
        supportedParameters: ["max_tokens", "temperature", "response_format", "structured_outputs", "tools"]
      })
      const estimate = OpenRouter.estimateCost("google/gemini-2.5-flash", models, 1000, 200)
      expect(estimate.source).toBe("table")
      expect(estimate.usd).toBeCloseTo(1000 * 0.0000003 + 200 * 0.0000025, 12)
      expect(OpenRouter.estimateCost("no/such-model", models, 1000, 200)).toEqual(Cost.unknown)
      expect(OpenRouter.estimateCost("openrouter/auto", models, 1000, 200)).toEqual(Cost.unknown)
    }).pipe(Effect.provide(layer())))
})

describe("the model list is optional", () => {
  it.live("a host that accepts connections and never answers is given up on in seconds", () =>
    Effect.gen(function*() {
      const sockets: Array<net.Socket> = []
      const dead = net.createServer((s) => void sockets.push(s))
      const port = yield* Effect.promise(() => new Promise<number>((resolve) => dead.listen(0, "127.0.0.1", () => resolve((dead.address() as AddressInfo).port))))
      const error = yield* Effect.flip(OpenRouter.listModels(OpenRouter.defaultSettings(fake.apiKey, `http://127.0.0.1:${port}/api/v1`)))
      const tries = sockets.length
      for (const s of sockets) s.destroy()
      dead.close()
      expect(error).toMatchObject({ call: "models", reason: "no-answer" })
      // Its own 3 s answer time-out, tried once: seconds, not the 120 s it once took.
      expect(error.message).toMatch(/^OpenRouter model list sent no answer in time: no answer within 3 s/)
      expect(tries).toBe(1)
    }).pipe(Effect.provide(layer())))
})
