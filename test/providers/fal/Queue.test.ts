import { expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber } from "effect"
import { afterAll, beforeAll, beforeEach, describe } from "vitest"
import * as Transient from "../../../src/engine/Transient.ts"
import { IoLog } from "../../../src/providers/IoLog.ts"
import * as Queue from "../../../src/providers/fal/Queue.ts"
import { startFakeFal, type FakeFal } from "../../fakes/fal.ts"
import { apiKey, entryText, pollMs, testLayer } from "./helpers.ts"

const kling = "fal-ai/kling-video/v1.6/standard/image-to-video"
const tts = "fal-ai/minimax/speech-02-hd"

let fal: FakeFal
beforeAll(async () => {
  fal = await startFakeFal()
})
afterAll(() => fal.close())
beforeEach(() => fal.setOptions({ pollsInQueue: 2, pollsInProgress: 1, latencyMs: 0 }))

const runOptions = (model: string, extra: Partial<Queue.RunOptions> = {}): Queue.RunOptions => ({
  baseUrl: fal.baseUrl,
  apiKey,
  model,
  input: { prompt: "a lighthouse at dusk", image_url: "https://example.com/a.png", duration: "5" },
  pollMs,
  ...extra
})

describe("fal queue", () => {
  it.live("a subpath model is polled under owner/app, with the URLs fal returned", () =>
    Effect.gen(function*() {
      const result = yield* Queue.run(runOptions(kling))
      expect(result.handle.statusUrl).toBe(`${fal.baseUrl}/fal-ai/kling-video/requests/${result.handle.requestId}/status`)
      const polled = fal.received.filter((r) => r.method === "GET" && r.path.includes("/requests/"))
      expect(polled.length).toBeGreaterThan(0)
      for (const r of polled) expect(r.path.startsWith(`/fal-ai/kling-video/requests/${result.handle.requestId}`)).toBe(true)
      expect(polled.some((r) => r.path.endsWith("/status?logs=1"))).toBe(true)
      expect((result.output as any).video.url).toMatch(/\.mp4$/)
      expect(result.logs.map((l) => l.message)).toContain("Generating...")
    }).pipe(Effect.provide(testLayer)))

  it.live("queue positions and progress are reported through onStatus", () =>
    Effect.gen(function*() {
      fal.setOptions({ pollsInQueue: 3, pollsInProgress: 2 })
      const seen: Array<string> = []
      yield* Queue.run(runOptions(tts, {
        onStatus: (s) => Effect.sync(() => seen.push(s.status === "IN_QUEUE" ? `IN_QUEUE ${s.queuePosition}` : s.status))
      }))
      expect(seen).toEqual(["IN_QUEUE 2", "IN_QUEUE 1", "IN_QUEUE 0", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"])
    }).pipe(Effect.provide(testLayer)))

  it.live("COMPLETED with an error fails with the model's own message, and is not retried", () =>
    Effect.gen(function*() {
      fal.inject({ kind: "completed-with-error", message: "image_url: the image is too small (min 300px)" }, kling)
      const error = yield* Effect.flip(Queue.run(runOptions(kling)))
      expect(error.message).toContain("the image is too small (min 300px)")
      expect(error.status).toBe(422)
      expect(error.requestId).toBeDefined()
      expect(Transient.isTransient(error)).toBe(false)
    }).pipe(Effect.provide(testLayer)))

  it.live("429 on submit is transient and carries Retry-After", () =>
    Effect.gen(function*() {
      fal.inject({ kind: "rate-limit", retryAfterSec: 7 }, kling)
      const error = yield* Effect.flip(Queue.run(runOptions(kling)))
      expect(error.status).toBe(429)
      expect(Transient.isTransient(error)).toBe(true)
      expect(Transient.retryAfterMs(error)).toBe(7000)
    }).pipe(Effect.provide(testLayer)))

  it.live("a 503 on submit, a malformed answer and a submit that never answers are transient", () =>
    Effect.gen(function*() {
      fal.inject({ kind: "server-error", status: 503 }, kling)
      const e503 = yield* Effect.flip(Queue.submit({ baseUrl: fal.baseUrl, apiKey, model: kling, input: {} }))
      expect(e503.status).toBe(503)
      expect(e503.transient).toBe(true)

      fal.inject({ kind: "malformed-json" }, kling)
      const malformed = yield* Effect.flip(Queue.submit({ baseUrl: fal.baseUrl, apiKey, model: kling, input: {} }))
      expect(malformed.message).toContain("malformed JSON")
      expect(malformed.transient).toBe(true)

      fal.inject({ kind: "timeout" }, kling)
      const timedOut = yield* Effect.flip(Queue.submit({ baseUrl: fal.baseUrl, apiKey, model: kling, input: {}, timeoutMs: 200 }))
      expect(timedOut.transient).toBe(true)
    }).pipe(Effect.provide(testLayer)))

  it.live("a 503 while polling is retried in place: no second submit, no failure", () =>
    Effect.gen(function*() {
      const model = "fal-ai/kokoro/american-english"
      fal.inject({ kind: "flaky-status", times: 2 }, model)
      const result = yield* Queue.run(runOptions(model))
      expect((result.output as any).audio.url).toMatch(/\.mp3$/)
      expect(fal.submits(model)).toBe(1)
    }).pipe(Effect.provide(testLayer)))

  it.live("onSubmitted receives the handle before the result arrives", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const result = yield* Queue.run(runOptions(tts, {
        onSubmitted: (h) =>
          Effect.sync(() => {
            events.push(`submitted ${h.requestId}`)
            expect(fal.requests.get(h.requestId)?.state).not.toBe("COMPLETED")
          }),
        onStatus: (s) => Effect.sync(() => events.push(s.status))
      }))
      expect(events[0]).toBe(`submitted ${result.handle.requestId}`)
      expect(events.at(-1)).toBe("COMPLETED")
    }).pipe(Effect.provide(testLayer)))

  it.live("re-attaching polls the recorded request and pays for nothing new", () =>
    Effect.gen(function*() {
      const model = "fal-ai/kling-video/v1.6/pro/image-to-video"
      const handle = yield* Queue.submit({ baseUrl: fal.baseUrl, apiKey, model, input: { prompt: "x" } })
      expect(fal.submits(model)).toBe(1)
      let submitted = false
      const result = yield* Queue.run(runOptions(model, { resume: handle, onSubmitted: () => Effect.sync(() => (submitted = true)) }))
      expect(result.resumed).toBe(true)
      expect(result.handle.requestId).toBe(handle.requestId)
      expect(fal.submits(model)).toBe(1)
      expect(submitted).toBe(false)
    }).pipe(Effect.provide(testLayer)))

  it.live("re-attaching to a request fal no longer holds falls back to a new submit", () =>
    Effect.gen(function*() {
      const model = "fal-ai/wan-i2v"
      const old = yield* Queue.submit({ baseUrl: fal.baseUrl, apiKey, model, input: { prompt: "x" } })
      fal.forget(old.requestId)
      const gone = yield* Effect.flip(Queue.awaitResult(old, { apiKey, pollMs }))
      expect(Queue.isRequestGone(gone)).toBe(true)

      const result = yield* Queue.run(runOptions(model, { resume: old }))
      expect(result.resumed).toBe(false)
      expect(result.handle.requestId).not.toBe(old.requestId)
      expect(fal.submits(model)).toBe(2)
    }).pipe(Effect.provide(testLayer)))

  it.live("interrupting the wait while queued cancels the request at fal", () =>
    Effect.gen(function*() {
      fal.setOptions({ pollsInQueue: 10_000 })
      const model = "fal-ai/kling-video/v1.6/standard/image-to-video"
      const queued = yield* Deferred.make<void>()
      const before = fal.cancels
      const fiber = yield* Effect.fork(Queue.run(runOptions(model, {
        onStatus: (s) => (s.status === "IN_QUEUE" ? Deferred.succeed(queued, undefined) : Effect.void)
      })))
      yield* Deferred.await(queued)
      yield* Fiber.interrupt(fiber)
      expect(fal.cancels).toBe(before + 1)
      const cancelled = [...fal.requests.values()].filter((r) => r.model === model && r.cancelled)
      expect(cancelled.length).toBe(1)
    }).pipe(Effect.provide(testLayer)))

  it.live("with cancelOnInterrupt false, an interrupted wait leaves the request running (to re-attach later)", () =>
    Effect.gen(function*() {
      fal.setOptions({ pollsInQueue: 10_000 })
      const queued = yield* Deferred.make<Queue.FalHandle>()
      const before = fal.cancels
      const fiber = yield* Effect.fork(Queue.run(runOptions(tts, {
        cancelOnInterrupt: false,
        onSubmitted: (h) => Deferred.succeed(queued, h)
      })))
      const handle = yield* Deferred.await(queued)
      yield* Fiber.interrupt(fiber)
      expect(fal.cancels).toBe(before)
      expect(fal.requests.get(handle.requestId)?.cancelled).toBe(false)
    }).pipe(Effect.provide(testLayer)))

  it.live("cancel after completion is ignored (fal answers 400)", () =>
    Effect.gen(function*() {
      const result = yield* Queue.run(runOptions(tts))
      const outcome = yield* Effect.either(Queue.cancel(result.handle, apiKey))
      expect(Either.isRight(outcome)).toBe(true)
    }).pipe(Effect.provide(testLayer)))

  it.live("the key never appears in the IoLog; the Authorization header shows as Key ***", () =>
    Effect.gen(function*() {
      fal.inject({ kind: "completed-with-error", message: "nope" }, tts)
      yield* Effect.either(Queue.run(runOptions(tts)))
      yield* Queue.run(runOptions(kling))
      const entries = yield* IoLog.entries
      expect(entries.length).toBeGreaterThan(5)
      for (const entry of entries) {
        expect(entryText(entry)).not.toContain(apiKey)
        expect(entryText(entry)).not.toContain("secret-part")
        expect(entry.requestHeaders.authorization).toBe("Key ***")
      }
      // the fake did receive the real key
      expect(fal.received.at(-1)?.headers.authorization).toBe(`Key ${apiKey}`)
    }).pipe(Effect.provide(testLayer)))
})
