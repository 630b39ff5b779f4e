import { expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { afterAll, beforeAll, beforeEach, describe } from "vitest"
import { FalError } from "../../../src/providers/fal/FalError.ts"
import * as Queue from "../../../src/providers/fal/Queue.ts"
import { IoLog } from "../../../src/providers/IoLog.ts"
import * as Keep from "../../../src/providers/Keep.ts"
import { retryable } from "../../../src/providers/Retryable.ts"
import { startFakeFal, type FakeFal } from "../../fakes/fal.ts"
import { apiKey, entryText, settingsFor, testLayer } from "./helpers.ts"

const kling = "fal-ai/kling-video/v1.6/standard/image-to-video"
const tts = "fal-ai/minimax/speech-02-hd"

let fal: FakeFal
beforeAll(async () => {
  fal = await startFakeFal()
})
afterAll(() => fal.close())
beforeEach(() => {
  fal.clearFaults()
  fal.setOptions({ pollsInQueue: 2, pollsInProgress: 1, latencyMs: 0 })
})

const input = { prompt: "a lighthouse at dusk", image_url: "https://example.com/a.png", duration: "5" }

const run = (model: string, follow: Keep.Follow = Keep.followNothing, onStatus?: (s: Queue.FalStatus) => Effect.Effect<void>, over: Partial<Queue.FalSettings> = {}) =>
  Queue.run(settingsFor(fal.baseUrl, over), { model, input: Effect.succeed(input), what: "clip", onStatus }, follow)

/** Polling only: the fallback when fal's status stream is not there or breaks. */
const polling: Partial<Queue.FalSettings> = { stream: { enabled: false, idleMs: 1_000 } }

const requestsOf = (requestId: string) => fal.received.filter((r) => r.method === "GET" && r.path.includes(`/requests/${requestId}`))
const polls = (requestId: string) => requestsOf(requestId).filter((r) => r.path.includes("/status?")).length
const streams = (requestId: string) => requestsOf(requestId).filter((r) => r.path.includes("/status/stream")).length

const submit = (model: string, follow: Keep.Follow = Keep.followNothing, over: Partial<Queue.FalSettings> = {}) =>
  Queue.submit(settingsFor(fal.baseUrl, over), model, input, follow)

describe("fal queue", () => {
  it.live("a subpath model is polled under owner/app, with the URLs fal returned", () =>
    Effect.gen(function*() {
      const result = yield* run(kling, Keep.followNothing, undefined, polling)
      expect(result.handle.statusUrl).toBe(`${fal.baseUrl}/fal-ai/kling-video/requests/${result.handle.requestId}/status`)
      const polled = fal.received.filter((r) => r.method === "GET" && r.path.includes(`/requests/${result.handle.requestId}`))
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
      yield* run(tts, Keep.followNothing, (s) => Effect.sync(() => seen.push(s.status === "IN_QUEUE" ? `IN_QUEUE ${s.queuePosition}` : s.status)))
      expect(seen).toEqual(["IN_QUEUE 2", "IN_QUEUE 1", "IN_QUEUE 0", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"])
    }).pipe(Effect.provide(testLayer)))

  it.live("COMPLETED with an error fails with the model's own message, and is not tried again", () =>
    Effect.gen(function*() {
      fal.inject({ kind: "completed-with-error", message: "image_url: the image is too small (min 300px)" }, kling)
      const error = yield* Effect.flip(run(kling))
      expect(error).toBeInstanceOf(FalError)
      expect(error.message).toContain("the image is too small (min 300px)")
      expect(error).toMatchObject({ reason: "model-failed", status: 422 })
      expect((error as FalError).requestId).toBeDefined()
      expect(retryable(error).retry).toBe(false)
    }).pipe(Effect.provide(testLayer)))

  it.live("429 on submit was not billed: worth trying again after fal's Retry-After", () =>
    Effect.gen(function*() {
      fal.inject({ kind: "rate-limit", retryAfterSec: 7 }, kling)
      const error = (yield* Effect.flip(run(kling))) as FalError
      expect(error).toMatchObject({ call: "submit", reason: "rate-limited", status: 429, billed: "no" })
      expect(retryable(error)).toEqual({ retry: true, afterMs: 7000 })
      expect(error.message).toMatch(/^fal submit answered 429 \(rate limited\): /)
    }).pipe(Effect.provide(testLayer)))

  it.live("a 503 on submit may be sent again; a garbled or missing submit answer may have been queued and is not", () =>
    Effect.gen(function*() {
      fal.inject({ kind: "server-error", status: 503 }, kling)
      const e503 = yield* Effect.flip(submit(kling))
      expect(e503).toMatchObject({ reason: "unavailable", status: 503, billed: "no" })
      expect(retryable(e503).retry).toBe(true)

      fal.inject({ kind: "malformed-json" }, kling)
      const garbled = yield* Effect.flip(submit(kling))
      expect(garbled).toMatchObject({ reason: "garbled", billed: "maybe" })
      expect(retryable(garbled).retry).toBe(false)

      fal.inject({ kind: "timeout" }, kling)
      const silent = yield* Effect.flip(submit(kling, Keep.followNothing, { submitTimeoutMs: 200 }))
      expect(silent).toMatchObject({ reason: "no-answer", billed: "maybe" })
      expect(retryable(silent).retry).toBe(false)
    }).pipe(Effect.provide(testLayer)))

  it.live("status polls that fail in passing (503, garbled, cut off) are retried in place: one submit, no failure", () =>
    Effect.gen(function*() {
      const model = "fal-ai/kokoro/american-english"
      fal.inject({ kind: "flaky-status", times: 2 }, model)
      let n = 0
      fal.injectAny((req) => (req.path.includes("/status") && n++ < 2 ? (n === 1 ? { kind: "malformedJson" } : { kind: "truncated" }) : undefined))
      const result = yield* run(model, Keep.followNothing, undefined, polling)
      expect((result.output as any).audio.url).toMatch(/\.mp3$/)
      expect(fal.submits(model)).toBe(1)
    }).pipe(Effect.provide(testLayer)))

  it.live("a status poll that keeps failing fails after its time budget, naming the call, the status and the tries", () =>
    Effect.gen(function*() {
      const before = fal.submits(tts)
      fal.injectAny((req) => (req.path.includes("/status") ? { kind: "serverError", status: 503 } : undefined))
      const error = yield* Effect.flip(Queue.run(settingsFor(fal.baseUrl, { reads: { firstDelayMs: 5, maxDelayMs: 20, budgetMs: 300 } }), { model: tts, input: Effect.succeed(input), what: "narration" }, Keep.followNothing))
      expect(error.message).toMatch(/^fal status poll answered 503 \(server error\) after \d+ tries: /)
      expect((error as FalError).tries).toBeGreaterThan(2)
      // The node may be tried again: it re-attaches to the kept request instead of paying for a new one.
      expect(retryable(error).retry).toBe(true)
      expect(fal.submits(tts) - before).toBe(1)
    }).pipe(Effect.provide(testLayer)))

  it.live("the handle is in the journal before fal has finished, and the answers as they arrive", () =>
    Effect.gen(function*() {
      const journal = Keep.memory()
      const seen: Array<string> = []
      const result = yield* run(tts, { journal }, (s) =>
        Effect.sync(() => {
          if (s.status !== "COMPLETED") seen.push(`${s.status} ${journal.facts.requestId !== undefined} ${journal.entries.has("submit")}`)
        }))
      expect(seen[0]).toBe("IN_QUEUE true true")
      expect(journal.facts.requestId).toBe(result.handle.requestId)
      expect(JSON.parse(Buffer.from(journal.entries.get("answer")!).toString())).toEqual(result.output)
    }).pipe(Effect.provide(testLayer)))

  it.live("re-attaching to a kept handle polls the same request and pays for nothing new", () =>
    Effect.gen(function*() {
      const model = "fal-ai/kling-video/v1.6/pro/image-to-video"
      const journal = Keep.memory()
      const handle = yield* submit(model, { journal })
      expect(fal.submits(model)).toBe(1)
      const result = yield* run(model, { journal })
      expect(result.resumed).toBe(true)
      expect(result.handle.requestId).toBe(handle.requestId)
      expect(fal.submits(model)).toBe(1)
    }).pipe(Effect.provide(testLayer)))

  it.live("a kept submit answer that was never decoded is enough to re-attach", () =>
    Effect.gen(function*() {
      const model = "fal-ai/wan-i2v"
      const kept = Keep.memory()
      const handle = yield* submit(model, { journal: kept })
      // What a kill right after the answer arrived leaves: the bytes, not the decoded handle.
      const journal = Keep.memory()
      journal.entries.set("submit", kept.entries.get("submit")!)
      const result = yield* run(model, { journal })
      expect(result).toMatchObject({ resumed: true, handle: { requestId: handle.requestId } })
      expect(fal.submits(model)).toBe(1)
    }).pipe(Effect.provide(testLayer)))

  it.live("a kept result is used without asking fal anything", () =>
    Effect.gen(function*() {
      const journal = Keep.memory()
      const first = yield* run(tts, { journal })
      const before = fal.received.length
      const again = yield* run(tts, { journal })
      expect(again.output).toEqual(first.output)
      expect(fal.received.length).toBe(before)
    }).pipe(Effect.provide(testLayer)))

  it.live("a kept request fal no longer holds is bought again, and says why", () =>
    Effect.gen(function*() {
      const model = "fal-ai/wan-i2v"
      const journal = Keep.memory()
      const old = yield* submit(model, { journal })
      fal.forget(old.requestId)
      const before = fal.submits(model)
      const result = yield* run(model, { journal })
      expect(result.resumed).toBe(false)
      expect(result.handle.requestId).not.toBe(old.requestId)
      expect(result.repaid).toContain(old.requestId)
      expect(fal.submits(model) - before).toBe(1)
    }).pipe(Effect.provide(testLayer)))

  it.live("stopped while the request waits in fal's queue: cancelled (not billed) and forgotten", () =>
    Effect.gen(function*() {
      fal.setOptions({ pollsInQueue: 10_000 })
      const journal = Keep.memory()
      const queued = yield* Deferred.make<void>()
      const kept: Array<string> = []
      const before = fal.cancels
      const fiber = yield* Effect.fork(run(kling, { journal, onKept: (w) => Effect.sync(() => void kept.push(w)) }, (s) => (s.status === "IN_QUEUE" ? Deferred.succeed(queued, undefined) : Effect.void)))
      yield* Deferred.await(queued)
      yield* Fiber.interrupt(fiber)
      expect(fal.cancels).toBe(before + 1)
      expect([...fal.requests.values()].filter((r) => r.model === kling && r.cancelledWhile === "IN_QUEUE")).toHaveLength(1)
      expect(journal.facts).toEqual({})
      expect(kept).toEqual([])
    }).pipe(Effect.provide(testLayer)))

  it.live("stopped while fal works on the request: never cancelled, the handle kept, and the next run collects it", () =>
    Effect.gen(function*() {
      fal.setOptions({ pollsInQueue: 1, pollsInProgress: 10_000 })
      const journal = Keep.memory()
      const working = yield* Deferred.make<void>()
      const kept: Array<string> = []
      const cancels = fal.cancels
      const fiber = yield* Effect.fork(run(tts, { journal, onKept: (w) => Effect.sync(() => void kept.push(w)) }, (s) => (s.status === "IN_PROGRESS" ? Deferred.succeed(working, undefined) : Effect.void)))
      yield* Deferred.await(working)
      yield* Fiber.interrupt(fiber)
      expect(fal.cancels).toBe(cancels)
      expect(kept).toEqual(["clip"])
      const requestId = journal.facts.requestId as string
      expect(fal.requests.get(requestId)?.cancelled).toBe(false)
      fal.setOptions({ pollsInProgress: 0 })
      const submits = fal.submits(tts)
      const result = yield* run(tts, { journal })
      expect(result).toMatchObject({ resumed: true, handle: { requestId } })
      expect(fal.submits(tts)).toBe(submits)
    }).pipe(Effect.provide(testLayer)))

  it.live("fal's status stream is followed instead of polling: one stream under owner/app, no poll, and the answer it told", () =>
    Effect.gen(function*() {
      fal.setOptions({ pollsInQueue: 2, pollsInProgress: 2, workMs: 150 })
      const seen: Array<string> = []
      const result = yield* run(kling, Keep.followNothing, (s) => Effect.sync(() => void seen.push(s.status)))
      fal.setOptions({ workMs: 0 })
      const id = result.handle.requestId
      const stream = requestsOf(id).filter((r) => r.path.includes("/status/stream"))
      expect(stream.map((r) => r.path)).toEqual([`/fal-ai/kling-video/requests/${id}/status/stream?logs=1`])
      expect(stream[0]!.headers.accept).toBe("text/event-stream")
      expect(stream[0]!.headers.authorization).toBe(`Key ${apiKey}`)
      expect(polls(id)).toBe(0)
      expect(seen).toEqual(["IN_QUEUE", "IN_QUEUE", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"])
      expect((result.output as any).video.url).toMatch(/\.mp4$/)
      expect(result.logs.map((l) => l.message)).toContain("Generating...")
      expect(fal.submits(kling)).toBeGreaterThan(0)
    }).pipe(Effect.provide(testLayer)))

  it.live("a status stream that drops before COMPLETED: the request is polled, one submit, and its answer collected", () =>
    Effect.gen(function*() {
      const model = "fal-ai/minimax/speech-02-turbo"
      fal.inject({ kind: "stream-drops", afterEvents: 2 }, model)
      const result = yield* run(model)
      const id = result.handle.requestId
      expect(streams(id)).toBe(1)
      expect(polls(id)).toBeGreaterThan(0)
      expect((result.output as any).audio.url).toMatch(/\.mp3$/)
      expect(fal.submits(model)).toBe(1)
    }).pipe(Effect.provide(testLayer)))

  it.live("a status stream that answers and then says nothing: given up after its silence, then polled; one submit", () =>
    Effect.gen(function*() {
      const model = "fal-ai/minimax/speech-02-hd"
      const before = fal.submits(model)
      fal.inject({ kind: "stream-hangs" }, model)
      const result = yield* run(model, Keep.followNothing, undefined, { stream: { enabled: true, idleMs: 150 } })
      const id = result.handle.requestId
      expect(streams(id)).toBe(1)
      expect(polls(id)).toBeGreaterThan(0)
      expect((result.output as any).audio.url).toMatch(/\.mp3$/)
      expect(fal.submits(model) - before).toBe(1)
    }).pipe(Effect.provide(testLayer)))

  it.live("no status stream offered (404, as from a gateway): polled; after a few such, polled from the start", () =>
    Effect.gen(function*() {
      fal.setOptions({ stream: false })
      const settings = settingsFor(fal.baseUrl)
      const once = () => Queue.run(settings, { model: tts, input: Effect.succeed(input), what: "narration" }, Keep.followNothing)
      const ids: Array<string> = []
      for (let i = 0; i < 4; i++) ids.push((yield* once()).handle.requestId)
      fal.setOptions({ stream: true })
      expect(ids.map(streams)).toEqual([1, 1, 1, 0])
      for (const id of ids) expect(polls(id)).toBeGreaterThan(0)
    }).pipe(Effect.provide(testLayer)))

  it.live("a request re-attached after a restart is followed on its stream too, and pays for nothing new", () =>
    Effect.gen(function*() {
      const model = "fal-ai/kling-video/v1.6/pro/image-to-video"
      const journal = Keep.memory()
      const handle = yield* submit(model, { journal })
      const before = fal.submits(model)
      const result = yield* run(model, { journal })
      expect(result).toMatchObject({ resumed: true, handle: { requestId: handle.requestId } })
      expect(streams(handle.requestId)).toBe(1)
      expect(fal.submits(model)).toBe(before)
    }).pipe(Effect.provide(testLayer)))

  it("server-sent events split anywhere: data lines joined, comments and other events skipped, CRLF read", () => {
    const read = Queue.sseReader()
    const text = ': ping\r\n\r\ndata: {"status":"IN_QUEUE","queue_position":3}\n\nevent: other\ndata: {"hello":1}\n\ndata: {"status":\ndata: "IN_PROGRESS","logs":[{"message":"Generating..."}]}\n\ndata:{"status":"COMPLETED"}\n\n'
    const bytes = new TextEncoder().encode(text)
    const got: Array<Queue.FalStatus> = []
    for (let i = 0; i < bytes.length; i += 7) got.push(...read(bytes.subarray(i, i + 7)))
    expect(got).toEqual([
      { status: "IN_QUEUE", queuePosition: 3 },
      { status: "IN_PROGRESS", logs: [{ message: "Generating..." }] },
      { status: "COMPLETED", logs: [], error: undefined, errorType: undefined }
    ])
  })

  it.live("the key never appears in the IoLog; the Authorization header shows as Key ***", () =>
    Effect.gen(function*() {
      fal.inject({ kind: "completed-with-error", message: "nope" }, tts)
      yield* Effect.either(run(tts))
      yield* run(kling)
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
