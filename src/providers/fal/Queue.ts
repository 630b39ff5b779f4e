/**
 * The fal.ai queue, spoken over plain REST (no SDK): submit, poll, fetch the result, cancel.
 *
 * Surprises in fal's protocol, each handled below:
 * - The submit answer carries `status_url`, `response_url` and `cancel_url`; use them, never build them.
 *   For a model with a subpath (`fal-ai/kling-video/v1.6/standard/image-to-video`) they live under the
 *   first two segments only (`fal-ai/kling-video/requests/{id}`): a URL built from the full model path 404s.
 * - Status answers HTTP 202 while IN_QUEUE / IN_PROGRESS and 200 once COMPLETED. There is no FAILED:
 *   a failed request is COMPLETED with `error` / `error_type`, and the model's own words come from
 *   `GET response_url`, which then answers e.g. 422 `{detail: [{msg}]}` or `{detail: "..."}`.
 * - Logs come only with `?logs=1` on the status URL.
 * - Results are kept about an hour after completion. A build that kept the handle re-attaches (polls the
 *   same request) instead of paying again; a 404 on its status URL means fal no longer holds it, and only
 *   then is a new request bought (reported as repaid).
 * - `PUT cancel_url` removes a request that is still IN_QUEUE (not billed). For one IN_PROGRESS it only
 *   signals the runner, and the work is billed anyway: such a request is never cancelled. On Ctrl-C its
 *   handle stays kept and the next build collects the result.
 * - The documented response shape (`{status, logs, response}`) is not what the REST endpoint sends today
 *   (it sends the model output itself); both are accepted.
 *
 * Money: the submit is the only paid call. Once sent it is waited for even on Ctrl-C (an abandoned submit may
 * be queued and billed with nobody holding its id), and its answer is kept before it is decoded. Status polls,
 * result fetches and downloads are free to repeat: they are retried in place within a time budget.
 */
import { Duration, Effect, Fiber, Option, Queue, Schema } from "effect"
import type * as Cost from "../../engine/Cost.ts"
import type { Json } from "../../engine/Hash.ts"
import * as Failure from "../Failure.ts"
import { isOk, refusalOf } from "../http/Answer.ts"
import { Http, type Answer } from "../http/Client.ts"
import { download } from "../http/Download.ts"
import { finishPaid, type Follow } from "../Keep.ts"
import * as Reads from "../Reads.ts"
import * as FalError from "./FalError.ts"

export const provider = "fal"

/** How the adapter talks to fal: keys, URLs, polling and time-outs (from `ProviderConfig`). */
export interface FalSettings {
  readonly apiKey: string
  readonly baseUrl: string
  readonly storageUrl: string
  /** First interval between status polls; it grows by half each poll up to `maxMs`. */
  readonly poll: { readonly initialMs: number; readonly maxMs: number }
  /**
   * fal's status stream (`status_url/stream`, server-sent events): followed instead of polling while it works.
   * fal sends a comment every 15 s, so a stream silent for `idleMs` is taken for hung, and the request is
   * polled instead (`STORYSHOT_FAL_STREAM=0` polls from the start).
   */
  readonly stream: { readonly enabled: boolean; readonly idleMs: number }
  /** Retries of free calls (status, result, upload, download). */
  readonly reads: Reads.ReadPolicy
  /** fal answers a submit at once: a silent one is known after this. */
  readonly submitTimeoutMs: number
  /** Status polls, result fetches, cancels, storage calls. */
  readonly readTimeoutMs: number
  /** Output files may come from these besides https (a gateway, a local fake). */
  readonly allowedBases: ReadonlyArray<string>
}

export const defaultSettings = (apiKey: string, baseUrl: string, storageUrl = baseUrl): FalSettings => ({
  apiKey,
  baseUrl,
  storageUrl,
  poll: { initialMs: 500, maxMs: 5_000 },
  stream: { enabled: true, idleMs: 20_000 },
  reads: Reads.defaultPolicy,
  submitTimeoutMs: 15_000,
  readTimeoutMs: 15_000,
  allowedBases: [baseUrl, storageUrl]
})

/** A submitted request, as fal described it. Kept in the node's journal to re-attach later. */
export const FalHandle = Schema.Struct({
  requestId: Schema.String,
  statusUrl: Schema.String,
  responseUrl: Schema.String,
  cancelUrl: Schema.String,
  model: Schema.String,
  submittedAt: Schema.Number
})
export type FalHandle = typeof FalHandle.Type

export interface FalLog {
  readonly message: string
  readonly level?: string | undefined
  readonly timestamp?: string | undefined
}

export type FalStatus =
  | { readonly status: "IN_QUEUE"; readonly queuePosition: number | undefined }
  | { readonly status: "IN_PROGRESS"; readonly logs: ReadonlyArray<FalLog> }
  | {
    readonly status: "COMPLETED"
    readonly logs: ReadonlyArray<FalLog>
    readonly error: string | undefined
    readonly errorType: string | undefined
  }

export interface RunRequest {
  readonly model: string
  /** The JSON body, built only when a request is actually submitted (a re-attached one needs no upload). */
  readonly input: Effect.Effect<unknown, FalError.FalError | Failure.ProviderUnavailable, Http>
  /** "clip", "narration": how the build names it when it says what it keeps. */
  readonly what: string
  readonly onStatus?: ((status: FalStatus) => Effect.Effect<void>) | undefined
}

export interface RunResult {
  readonly output: unknown
  readonly handle: FalHandle
  /** from submit (or from the start of waiting, for a re-attached request) to the first sign of work */
  readonly queueMs: number
  /** from the first sign of work to completion, as seen by polling */
  readonly runMs: number
  readonly logs: ReadonlyArray<FalLog>
  /** true when an earlier run's request was collected (nothing new was paid for) */
  readonly resumed: boolean
  /** Why a new request was paid for although an earlier one existed (fal no longer held it). */
  readonly repaid?: string | undefined
}

const authHeaders = (apiKey: string) => ({ authorization: `Key ${apiKey}` })

const trimSlash = (url: string) => url.replace(/\/+$/, "")

// ---------------------------------------------------------------------------------------------------------
// Answers, decoded leniently: fal adds fields over time, and a missing optional one is not an error.

const SubmitAnswer = Schema.Struct({
  request_id: Schema.String,
  status_url: Schema.optional(Schema.String),
  response_url: Schema.optional(Schema.String),
  cancel_url: Schema.optional(Schema.String)
})

const LogEntry = Schema.Struct({
  message: Schema.String,
  level: Schema.optional(Schema.String),
  timestamp: Schema.optional(Schema.String)
})

const StatusAnswer = Schema.Struct({
  status: Schema.Literal("IN_QUEUE", "IN_PROGRESS", "COMPLETED"),
  queue_position: Schema.optional(Schema.NullOr(Schema.Number)),
  logs: Schema.optional(Schema.NullOr(Schema.Array(Schema.Unknown))),
  error: Schema.optional(Schema.NullOr(Schema.String)),
  error_type: Schema.optional(Schema.NullOr(Schema.String))
})

const decodeLogs = (logs: ReadonlyArray<unknown> | null | undefined): ReadonlyArray<FalLog> =>
  (logs ?? []).flatMap((entry) => Option.toArray(Schema.decodeUnknownOption(LogEntry)(entry)))

const parseJson = (bytes: Uint8Array): unknown | undefined => {
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8"))
  } catch {
    return undefined
  }
}

const decodeHandle = (settings: FalSettings, model: string, submittedAt: number, bytes: Uint8Array): FalHandle | undefined => {
  const answer = Schema.decodeUnknownOption(SubmitAnswer)(parseJson(bytes))
  if (Option.isNone(answer)) return undefined
  const a = answer.value
  // Only if fal ever leaves the URLs out: they live under the model's first two segments.
  const fallback = `${trimSlash(settings.baseUrl)}/${model.split("/").slice(0, 2).join("/")}/requests/${a.request_id}`
  return {
    requestId: a.request_id,
    statusUrl: a.status_url ?? `${fallback}/status`,
    responseUrl: a.response_url ?? fallback,
    cancelUrl: a.cancel_url ?? `${fallback}/cancel`,
    model,
    submittedAt
  }
}

const describeBody = (bytes: Uint8Array) => {
  const text = Buffer.from(bytes.subarray(0, 120)).toString("utf8").replace(/\s+/g, " ")
  return `${bytes.length} bytes: ${JSON.stringify(text)}${bytes.length > 120 ? "…" : ""}`
}

// ---------------------------------------------------------------------------------------------------------

/**
 * `POST {baseUrl}/{model}`: puts a request in fal's queue. The answer's bytes go to the journal ("submit")
 * before they are decoded; a Ctrl-C meanwhile waits for the answer (it is seconds at most).
 */
export const submit = Effect.fn("FalQueue.submit")(function*(settings: FalSettings, model: string, input: unknown, follow: Follow) {
  const http = yield* Http
  const submittedAt = Date.now()
  // Noted before the submit is sent and cleared with its answer kept: a kill while the answer (the request id)
  // is on its way leaves this note and no handle, so the next build's new submit is recorded as `repaid`
  // (Paid.follow), not bought again unsaid.
  yield* follow.journal.note({ submitSentAt: submittedAt })
  const keep = (answer: Answer) =>
    follow.journal.keep("submit", answer.body, "json", { model, submittedAt, submitSentAt: undefined }).pipe(Effect.ignore)
  const res = yield* finishPaid(
    http.request(provider, {
      method: "POST",
      url: `${trimSlash(settings.baseUrl)}/${model}`,
      headers: authHeaders(settings.apiKey),
      json: input,
      answerTimeoutMs: settings.submitTimeoutMs,
      keep
    }),
    follow.onWaiting?.(`waiting for fal to accept the ${"request"}`) ?? Effect.void
  ).pipe(Effect.mapError((f) => FalError.fromHttp("submit", f, { model })))
  const refusal = refusalOf(res)
  if (refusal !== undefined) {
    // Refused: nothing was bought, so the next try does not pay twice.
    yield* follow.journal.note({ submitSentAt: undefined })
    return yield* FalError.fromRefusal("submit", refusal, res.headers, { model })
  }
  const handle = decodeHandle(settings, model, submittedAt, res.body)
  if (handle === undefined) return yield* FalError.garbled("submit", `not a submit answer (${describeBody(res.body)})`, { model, status: res.status })
  yield* follow.journal.note(handle as unknown as { [k: string]: Json })
  return handle
})

const withLogs = (url: string): string => {
  const u = new URL(url)
  u.searchParams.set("logs", "1")
  return u.href
}

const reading = <A, R>(settings: FalSettings, call: Effect.Effect<A, FalError.FalError, R>) =>
  Reads.retrying(call, settings.reads, (e) => e.worthRetrying)

/** One status poll (retried in place when it fails in passing). */
export const pollStatus = (settings: FalSettings, handle: FalHandle) =>
  reading(
    settings,
    Effect.gen(function*() {
      const http = yield* Http
      const ids = { model: handle.model, requestId: handle.requestId }
      const res = yield* http.request(provider, {
        method: "GET",
        url: withLogs(handle.statusUrl),
        headers: authHeaders(settings.apiKey),
        answerTimeoutMs: settings.readTimeoutMs
      }).pipe(Effect.mapError((f) => FalError.fromHttp("status", f, ids)))
      if (res.status === 404) {
        return yield* new FalError.FalError({
          call: "status",
          reason: "gone",
          status: 404,
          said: `fal no longer holds request ${handle.requestId} (results are kept about an hour)`,
          ...ids
        })
      }
      const refusal = refusalOf(res)
      if (refusal !== undefined) return yield* FalError.fromRefusal("status", refusal, res.headers, ids)
      const answer = Schema.decodeUnknownOption(StatusAnswer)(parseJson(res.body))
      if (Option.isNone(answer)) return yield* FalError.garbled("status", `not a status answer (${describeBody(res.body)})`, { ...ids, status: res.status })
      return statusOf(answer.value)
    })
  )

const statusOf = (a: typeof StatusAnswer.Type): FalStatus =>
  a.status === "IN_QUEUE"
    ? { status: "IN_QUEUE", queuePosition: a.queue_position ?? undefined }
    : a.status === "IN_PROGRESS"
    ? { status: "IN_PROGRESS", logs: decodeLogs(a.logs) }
    : { status: "COMPLETED", logs: decodeLogs(a.logs), error: a.error ?? undefined, errorType: a.error_type ?? undefined }

/**
 * Server-sent events, read as they arrive: each event's `data:` lines (joined) is one status object, the
 * same fields as a status poll's answer; `:` lines are comments (fal's keep-alive). Returns the statuses in
 * each piece of text; an event whose data is not a status is skipped (fal may add other events).
 */
export const sseReader = () => {
  const decoder = new TextDecoder()
  let buffer = ""
  return (chunk: Uint8Array): ReadonlyArray<FalStatus> => {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, "\n")
    const out: Array<FalStatus> = []
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5))
        .join("\n")
      if (data === "") continue
      let json: unknown
      try {
        json = JSON.parse(data)
      } catch {
        continue
      }
      const answer = Schema.decodeUnknownOption(StatusAnswer)(json)
      if (Option.isSome(answer)) out.push(statusOf(answer.value))
    }
    return out
  }
}

/**
 * Streams that told nothing, one after another, per fal configuration: after a few (a gateway that buffers
 * server-sent events, say), requests are polled from the start for a while, so each does not first wait out
 * a silent stream while holding fal's slot.
 */
const broken = new WeakMap<FalSettings, { count: number; until: number }>()
const maxBrokenStreams = 3
const pollOnlyForMs = 5 * 60_000
const streamsWork = (settings: FalSettings) => {
  const b = broken.get(settings)
  if (b === undefined || b.count < maxBrokenStreams) return true
  if (Date.now() < b.until) return false
  broken.delete(settings)
  return true
}
const noteStream = (settings: FalSettings, told: boolean) => {
  if (told) return void broken.delete(settings)
  const b = broken.get(settings) ?? { count: 0, until: 0 }
  b.count++
  if (b.count >= maxBrokenStreams) b.until = Date.now() + pollOnlyForMs
  broken.set(settings, b)
}

/**
 * Follows `status_url/stream` until fal says COMPLETED (then the stream is closed at once, and fal's slot
 * can go to the next request without waiting for a poll). Undefined when the stream cannot tell: not
 * offered (any answer but 200 text/event-stream: a gateway, an older fal; a request fal no longer holds
 * is then told by the poll), dropped, or silent for `stream.idleMs`. The caller polls then; nothing
 * here is paid for, so giving up on a stream costs only the time it took.
 */
const streamUntilCompleted = (settings: FalSettings, handle: FalHandle, request: RunRequest) =>
  Effect.gen(function*() {
    const http = yield* Http
    // Statuses reach `onStatus` as they arrive, not when the stream ends (`null`: it ended).
    const seen = yield* Queue.unbounded<FalStatus | null>()
    const tellAll: Effect.Effect<void> = Effect.flatMap(Queue.take(seen), (status) =>
      status === null ? Effect.void : Effect.zipRight(request.onStatus ? request.onStatus(status) : Effect.void, Effect.suspend(() => tellAll)))
    const tell = yield* Effect.fork(tellAll)
    const read = sseReader()
    let completed: Extract<FalStatus, { status: "COMPLETED" }> | undefined
    let startedAt: number | undefined
    let events = 0
    const url = new URL(`${trimSlash(handle.statusUrl.split("?")[0]!)}/stream`)
    url.searchParams.set("logs", "1")
    yield* http.request(provider, {
      method: "GET",
      url: url.href,
      headers: { ...authHeaders(settings.apiKey), accept: "text/event-stream" },
      answerTimeoutMs: settings.readTimeoutMs,
      idleTimeoutMs: settings.stream.idleMs,
      maxBytes: 16 * 1024 * 1024,
      onChunk: (chunk) => {
        for (const status of read(chunk)) {
          events++
          if (status.status !== "IN_QUEUE" && startedAt === undefined) startedAt = Date.now()
          Queue.unsafeOffer(seen, status)
          if (status.status === "COMPLETED") {
            completed = status
            return true
          }
        }
        return false
      }
    }).pipe(Effect.ignore)
    const now = Date.now()
    // What arrived is told before the caller moves on.
    yield* Queue.offer(seen, null)
    yield* Fiber.join(tell)
    // A stream that told something works (a drop later is the network's); one that never did (not offered,
    // silent, refused) counts against streams. Either way the answer itself needs no judging: polls follow.
    noteStream(settings, events > 0)
    return completed === undefined ? undefined : { status: completed, startedAt: startedAt ?? now, now }
  })

/** `GET response_url` of a COMPLETED request; its bytes go to the journal ("answer") before they are read. */
const fetchResult = (settings: FalSettings, handle: FalHandle, completed: Extract<FalStatus, { status: "COMPLETED" }>, follow: Follow) =>
  reading(
    settings,
    Effect.gen(function*() {
      const http = yield* Http
      const ids = { model: handle.model, requestId: handle.requestId }
      const keep = (answer: Answer) => follow.journal.keep("answer", answer.body, "json").pipe(Effect.ignore)
      const res = yield* http.request(provider, {
        method: "GET",
        url: handle.responseUrl,
        headers: authHeaders(settings.apiKey),
        answerTimeoutMs: settings.readTimeoutMs,
        ...(completed.error === undefined ? { keep } : {})
      }).pipe(Effect.mapError((f) => FalError.fromHttp("result", f, ids)))
      const refusal = refusalOf(res)
      if (completed.error !== undefined || refusal !== undefined) {
        // The status already said the request failed: whatever the response URL answers is the model's
        // verdict, not a hiccup worth repeating.
        if (completed.error !== undefined) {
          return yield* new FalError.FalError({
            call: "result",
            reason: "model-failed",
            said: refusal?.said ?? completed.error,
            ...(refusal === undefined ? {} : { status: refusal.status }),
            ...(completed.errorType === undefined ? {} : { code: completed.errorType }),
            ...ids
          })
        }
        return yield* FalError.fromRefusal("result", refusal!, res.headers, ids)
      }
      return yield* outputOf(res.body, ids)
    })
  )

const outputOf = (bytes: Uint8Array, ids: { model: string; requestId: string }) => {
  const body = parseJson(bytes)
  if (body === undefined) return Effect.fail(FalError.garbled("result", `broken JSON (${describeBody(bytes)})`, ids))
  const wrapped = typeof body === "object" && body !== null && "response" in body && (body as any).status === "COMPLETED"
  return Effect.succeed(wrapped ? (body as { response: unknown }).response : body)
}

/** `PUT cancel_url` for a request still IN_QUEUE. Whether fal took it: 2xx. */
const cancel = (settings: FalSettings, handle: FalHandle) =>
  Effect.gen(function*() {
    const http = yield* Http
    const res = yield* http.request(provider, {
      method: "PUT",
      url: handle.cancelUrl,
      headers: authHeaders(settings.apiKey),
      answerTimeoutMs: Math.min(settings.readTimeoutMs, 5_000)
    })
    return isOk(res)
  }).pipe(Effect.orElseSucceed(() => false))

/**
 * What Ctrl-C does to a request we follow: a fresh look at its status decides. IN_QUEUE (nothing made, nothing
 * billed): cancelled and forgotten. IN_PROGRESS, COMPLETED or unknown: left alone, its handle kept, and the
 * next build collects the result.
 */
const onStop = (settings: FalSettings, handle: FalHandle, what: string, follow: Follow) =>
  Effect.gen(function*() {
    const now = yield* pollStatus(settings, handle).pipe(
      Effect.timeout(Duration.millis(Math.min(settings.readTimeoutMs, 3_000))),
      Effect.option
    )
    if (Option.isSome(now) && now.value.status === "IN_QUEUE" && (yield* cancel(settings, handle))) {
      yield* follow.journal.forget
      return
    }
    if (follow.onKept) yield* follow.onKept(what)
  }).pipe(Effect.ignore)

/**
 * When to look first, in ms from now: at the provider's typical time for such a request (the last build's
 * records), counted from its submit; without a record, after the first poll interval. A first look much
 * before the request can be done buys nothing; each poll after it follows the growing interval.
 */
export const firstPollIn = (settings: FalSettings, handle: FalHandle, typicalMs: number | undefined, now = Date.now()) =>
  typicalMs === undefined || !(typicalMs > 0)
    ? 0
    : Math.max(0, Math.min(handle.submittedAt + typicalMs - now, 10 * 60_000))

/**
 * How long fal took from submit to COMPLETED, per model, as this process saw it: a build's first requests
 * teach its later ones when to look (the last build's records give the first guess, `Follow.typicalMs`).
 */
const seen = new Map<string, Array<number>>()
const noteSeen = (model: string, ms: number) => {
  const list = seen.get(model) ?? []
  list.push(ms)
  if (list.length > 64) list.shift()
  seen.set(model, list)
}
const typicalFor = (model: string, fromRecords: number | undefined): number | undefined => {
  const list = seen.get(model)
  if (!list || list.length === 0) return fromRecords
  return [...list].sort((a, b) => a - b)[list.length >> 1]
}

/** What the wait saw: the COMPLETED status, and when fal started and finished. */
interface Completed {
  readonly status: Extract<FalStatus, { status: "COMPLETED" }>
  readonly from: number
  readonly startedAt: number
  readonly now: number
}

/**
 * Waits until fal says COMPLETED: on its status stream when it offers one, else (or once it drops or hangs)
 * by polling.
 */
const untilCompleted = (settings: FalSettings, handle: FalHandle, request: RunRequest, follow: Follow): Effect.Effect<Completed, FalError.FalError, Http> =>
  Effect.gen(function*() {
    const waitStart = Date.now()
    const from = Math.min(handle.submittedAt, waitStart)
    const tried = settings.stream.enabled && streamsWork(settings)
    if (tried) {
      const streamed = yield* streamUntilCompleted(settings, handle, request)
      if (streamed !== undefined) {
        // The stream says when fal finished, to the millisecond: what polls after a broken stream wait for.
        if (streamed.status.error === undefined) noteSeen(handle.model, streamed.now - handle.submittedAt)
        return { ...streamed, from }
      }
    }
    return yield* pollUntilCompleted(settings, handle, request, follow, from, tried)
  })

/**
 * Polls `status_url?logs=1` until COMPLETED. The first poll comes at the typical time a request of this model
 * takes (not at once after a stream that gave up: it looks at once); each poll after it follows the growing
 * interval. The time noted for the next requests is the middle of the last two looks, not the look that saw
 * COMPLETED: a request is never seen done before the first look, so noting that look would only ever push
 * the first look later (and a slot would stay held for nothing).
 */
const pollUntilCompleted = (settings: FalSettings, handle: FalHandle, request: RunRequest, follow: Follow, from: number, afterStream: boolean) =>
  Effect.gen(function*() {
    let startedAt: number | undefined
    const typical = typicalFor(handle.model, follow.typicalMs)
    // After a first look at the typical time, the next come soon (a twentieth of it), then back off.
    let interval = typical === undefined ? settings.poll.initialMs : Math.min(settings.poll.initialMs, Math.max(50, Math.round(typical / 20)))
    const first = afterStream ? 0 : firstPollIn(settings, handle, typical)
    if (first > 0) yield* Effect.sleep(Duration.millis(first))
    let lookedAt = handle.submittedAt
    for (;;) {
      const status = yield* pollStatus(settings, handle)
      if (request.onStatus) yield* request.onStatus(status)
      const now = Date.now()
      if (status.status !== "IN_QUEUE" && startedAt === undefined) startedAt = now
      if (status.status === "COMPLETED") {
        if (status.error === undefined) noteSeen(handle.model, Math.round((lookedAt + now) / 2) - handle.submittedAt)
        return { status, from, startedAt: startedAt ?? now, now } satisfies Completed
      }
      lookedAt = now
      yield* Effect.sleep(Duration.millis(interval))
      interval = Math.min(settings.poll.maxMs, Math.round(interval * 1.5))
    }
  })

/** Fetches a COMPLETED request's result (fal's work is done: outside its slot). */
const collect = (settings: FalSettings, handle: FalHandle, done: Completed, follow: Follow) =>
  Effect.map(fetchResult(settings, handle, done.status, follow), (output) => ({
    output,
    queueMs: done.startedAt - done.from,
    runMs: done.now - done.startedAt,
    logs: done.status.logs
  }))

/** Interrupted while following a request: `onStop` decides whether it is cancelled or kept. */
const stoppable = <A, E, R>(settings: FalSettings, handle: FalHandle, request: RunRequest, follow: Follow, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.onInterrupt(() => onStop(settings, handle, request.what, follow)))

const handleIn = (notes: { readonly [k: string]: Json }): FalHandle | undefined =>
  Option.getOrUndefined(Schema.decodeUnknownOption(FalHandle)(notes))

/**
 * Collects the request an earlier run of this node kept (its answer, or its handle to poll), or submits a new
 * one. Interrupting while fal works on it keeps the handle (see `onStop`).
 */
export const run = Effect.fn("FalQueue.run")(function*(settings: FalSettings, request: RunRequest, follow: Follow) {
  const kept = yield* follow.journal.read
  // The provider's slot (`follow.working`) is held while fal works: for the submit, and from then until the
  // status says COMPLETED. An upload before, the result fetch and download after (runForFile) run outside it.
  const working = follow.working ?? (<A, E, R>(effect: Effect.Effect<A, E, R>) => effect)
  const fresh = (repaid?: string) =>
    Effect.gen(function*() {
      const input = yield* request.input
      // fal's slot from the submit to COMPLETED, in one hold: a submitted request is one fal works on.
      const { handle, done } = yield* working(
        Effect.gen(function*() {
          const handle = yield* submit(settings, request.model, input, follow)
          const done = yield* stoppable(settings, handle, request, follow, untilCompleted(settings, handle, request, follow))
          return { handle, done }
        })
      )
      const result = yield* stoppable(settings, handle, request, follow, collect(settings, handle, done, follow))
      return { ...result, handle, resumed: false, repaid } satisfies RunResult
    })
  let handle = handleIn(kept.notes)
  if (handle === undefined) {
    // Killed between fal's submit answer and decoding it: the answer itself was kept.
    const submitted = kept.answer("submit")
    const at = typeof kept.notes.submittedAt === "number" ? kept.notes.submittedAt : Date.now()
    if (submitted !== undefined) {
      handle = decodeHandle(settings, request.model, at, submitted)
      if (handle === undefined) {
        return yield* new Failure.PaidAnswerLost({
          service: "fal",
          failure: `fal submit of ${request.model}: an earlier run's submit answer is garbled (${describeBody(submitted)})`,
          billed: "maybe",
          rerun: "storyshot build"
        })
      }
      yield* follow.journal.note(handle as unknown as { [k: string]: Json })
    }
  }
  if (handle === undefined) return yield* fresh()
  const resumed = handle
  const answer = kept.answer("answer")
  if (answer !== undefined) {
    const output = yield* outputOf(answer, { model: resumed.model, requestId: resumed.requestId }).pipe(Effect.option)
    if (Option.isSome(output)) return { output: output.value, handle: resumed, queueMs: 0, runMs: 0, logs: [], resumed: true } satisfies RunResult
    // A garbled result was kept: fal still holds the request, so fetch it again (free).
    yield* follow.journal.drop(["answer"])
  }
  return yield* working(stoppable(settings, resumed, request, follow, untilCompleted(settings, resumed, request, follow))).pipe(
    Effect.flatMap((done) => stoppable(settings, resumed, request, follow, collect(settings, resumed, done, follow))),
    Effect.map((result): RunResult => ({ ...result, handle: resumed, resumed: true })),
    Effect.catchIf(
      (e): e is FalError.FalError => e instanceof FalError.FalError && e.reason === "gone",
      () => follow.journal.forget.pipe(Effect.zipRight(fresh(`fal no longer held request ${resumed.requestId} (results are kept about an hour)`)))
    )
  )
})

export interface FileResult<A> extends RunResult {
  readonly answer: A
  readonly bytes: Uint8Array
  readonly contentType: string
}

/**
 * Runs a request, decodes its answer, and downloads the output file it points at (kept as "file" as soon as
 * it arrives). An answer without the file is the model's failure (permanent); a download that fails in
 * passing is fetched again in place, since fal keeps results for about an hour.
 */
export const runForFile = <A, I>(
  settings: FalSettings,
  request: RunRequest,
  follow: Follow,
  answer: Schema.Schema<A, I>,
  file: (answer: A) => string,
  what: string,
  fetch: { readonly maxBytes: number; readonly contentTypePrefix: string; readonly ext: (answer: A, contentType: string) => string }
) =>
  Effect.gen(function*() {
    const result = yield* run(settings, request, follow)
    const ids = { model: request.model, requestId: result.handle.requestId }
    const decoded = yield* Schema.decodeUnknown(answer)(result.output).pipe(
      Effect.mapError((e) => new FalError.FalError({ call: "result", reason: "model-failed", said: `${request.model} answered without ${what}: ${e.message}`, ...ids }))
    )
    const kept = (yield* follow.journal.read).answer("file")
    if (kept !== undefined) return { ...result, answer: decoded, bytes: kept, contentType: "" } satisfies FileResult<A>
    const got = yield* reading(
      settings,
      download(provider, file(decoded), {
        allowedBases: settings.allowedBases,
        maxBytes: fetch.maxBytes,
        contentTypePrefix: fetch.contentTypePrefix,
        answerTimeoutMs: settings.readTimeoutMs,
        keep: (a) => follow.journal.keep("file", a.body, fetch.ext(decoded, a.headers["content-type"] ?? "")).pipe(Effect.ignore)
      }).pipe(
        Effect.mapError((f) =>
          new FalError.FalError({ call: "download", reason: f.reason, said: f.said, ...(f.status === undefined ? {} : { status: f.status }), ...(f.retryAfterMs === undefined ? {} : { retryAfterMs: f.retryAfterMs }), ...ids })
        )
      )
    )
    return { ...result, answer: decoded, bytes: got.bytes, contentType: got.contentType } satisfies FileResult<A>
  })

/** The request record of a fal call. A collected request is charged here too: the run that submitted it
 *  stopped before recording anything, so this is the one record of the charge. */
export const recordOf = (model: string, result: RunResult, startedAt: number, cost: Cost.Cost): Cost.RequestRecord => ({
  provider,
  model,
  requestId: result.handle.requestId,
  startedAt: result.resumed ? startedAt : result.handle.submittedAt,
  endedAt: Date.now(),
  queueMs: result.queueMs,
  cost,
  ...(result.repaid === undefined ? {} : { repaid: result.repaid })
})
