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
 * - Results are kept about an hour after completion. A build that recorded the handle can re-attach
 *   (poll the same request) instead of paying again; a 404 on its status URL means fal no longer holds
 *   it (`code: "request_gone"`), and only then is a new request worth paying for.
 * - `PUT cancel_url` answers 202 while the request is pending and 400 once it completed: cancel is best
 *   effort and its answer is ignored.
 * - The documented response shape (`{status, logs, response}`) is not what the REST endpoint sends today
 *   (it sends the model output itself); both are accepted.
 */
import { Duration, Effect, Option, Schedule, Schema } from "effect"
import type * as Cost from "../../engine/Cost.ts"
import * as Transient from "../../engine/Transient.ts"
import { classify, download, Http } from "../Http.ts"
import { ProviderError } from "../ProviderError.ts"

export const provider = "fal"

/** A submitted request, as fal described it. Persist it (it is a plain Schema struct) to re-attach later. */
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

export interface FalResult {
  readonly output: unknown
  /** from submit (or from the start of waiting, for a re-attached request) to the first sign of work */
  readonly queueMs: number
  /** from the first sign of work to completion, as seen by polling */
  readonly runMs: number
  readonly logs: ReadonlyArray<FalLog>
}

export interface PollOptions {
  /** first interval between status polls (default 500 ms) */
  readonly initialMs?: number
  /** the interval grows by half each poll up to this (default 5 s) */
  readonly maxMs?: number
}

export interface SubmitOptions {
  readonly baseUrl: string
  readonly apiKey: string
  readonly model: string
  readonly input: unknown
  /** time-out of the submit call (default 60 s) */
  readonly timeoutMs?: number
}

export interface AwaitOptions {
  readonly apiKey: string
  readonly pollMs?: PollOptions
  readonly onStatus?: (status: FalStatus) => Effect.Effect<void>
}

export interface RunOptions extends Omit<SubmitOptions, "input">, Omit<AwaitOptions, "apiKey"> {
  /** The JSON body, or a function that builds it only when a request is actually submitted (a function is
   *  never a JSON body). Use the function when building costs something, e.g. uploading an image that a
   *  re-attached request does not need. */
  readonly input: unknown | (() => Effect.Effect<unknown, ProviderError, Http>)
  /** Called at once after submit, before waiting, so the request id can be recorded. */
  readonly onSubmitted?: (handle: FalHandle) => Effect.Effect<void>
  /** A handle recorded by an earlier run: poll it instead of paying again, unless fal no longer holds it. */
  readonly resume?: FalHandle | undefined
  /** Send `PUT cancel_url` when the wait is interrupted while the request is pending (default true).
   *  A resumable build that means to re-attach later may prefer false. */
  readonly cancelOnInterrupt?: boolean
  /** Called after a cancel was sent on interruption: a recorded handle must be forgotten, or the next
   *  build would re-attach to a request fal reports as cancelled. */
  readonly onCancelled?: (handle: FalHandle) => Effect.Effect<void>
}

export interface RunResult extends FalResult {
  readonly handle: FalHandle
  /** true when an earlier request was re-attached (nothing new was paid for) */
  readonly resumed: boolean
}

export const requestGoneCode = "request_gone"

/** fal no longer holds a request we re-attached to: the caller may submit anew. */
export const isRequestGone = (error: unknown): boolean =>
  error instanceof ProviderError && error.code === requestGoneCode

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

const unexpected = (what: string, requestId?: string) => (cause: unknown) =>
  new ProviderError({
    provider,
    message: `fal answered ${what} with an unexpected shape: ${String((cause as { message?: unknown })?.message ?? cause)}`,
    transient: false,
    ...(requestId === undefined ? {} : { requestId })
  })

// ---------------------------------------------------------------------------------------------------------

/** `POST {baseUrl}/{model}`: puts a request in fal's queue and returns where to follow it. */
export const submit = Effect.fn("FalQueue.submit")(function*(options: SubmitOptions) {
  const http = yield* Http
  const submittedAt = Date.now()
  const res = yield* http.request(provider, {
    method: "POST",
    url: `${trimSlash(options.baseUrl)}/${options.model}`,
    headers: authHeaders(options.apiKey),
    json: options.input,
    timeoutMs: options.timeoutMs ?? 60_000
  })
  const error = classify(provider, res)
  if (error !== undefined) return yield* error
  const answer = yield* res.json().pipe(
    Effect.flatMap(Schema.decodeUnknown(SubmitAnswer)),
    Effect.mapError((e) => (e instanceof ProviderError ? e : unexpected(`the submit of ${options.model}`)(e)))
  )
  // Only if fal ever leaves the URLs out: they live under the model's first two segments.
  const fallback = `${trimSlash(options.baseUrl)}/${options.model.split("/").slice(0, 2).join("/")}/requests/${answer.request_id}`
  const handle: FalHandle = {
    requestId: answer.request_id,
    statusUrl: answer.status_url ?? `${fallback}/status`,
    responseUrl: answer.response_url ?? fallback,
    cancelUrl: answer.cancel_url ?? `${fallback}/cancel`,
    model: options.model,
    submittedAt
  }
  return handle
})

const withLogs = (url: string): string => {
  const u = new URL(url)
  u.searchParams.set("logs", "1")
  return u.href
}

/** Status polls are free, so a transient failure of one (a 503, a reset) is retried here rather than
 *  failing the node, whose retry would pay for a new request. */
const pollRetry = Schedule.exponential(Duration.millis(250), 2).pipe(
  Schedule.intersect(Schedule.recurs(5)),
  Schedule.whileInput((error: ProviderError) => Transient.isTransient(error))
)

/** A finished request's output file is paid for and fal keeps it about an hour: a download cut short (or
 *  any transient failure fetching it) is tried again here, where a node retry would pay for a new request. */
export const downloadRetry = Schedule.exponential(Duration.millis(250), 2).pipe(
  Schedule.intersect(Schedule.recurs(3)),
  Schedule.whileInput((error: ProviderError) => Transient.isTransient(error))
)

const pollStatus = (handle: FalHandle, apiKey: string) =>
  Effect.gen(function*() {
    const http = yield* Http
    const res = yield* http.request(provider, {
      method: "GET",
      url: withLogs(handle.statusUrl),
      headers: authHeaders(apiKey),
      timeoutMs: 30_000
    })
    if (res.status === 404) {
      return yield* new ProviderError({
        provider,
        message: `fal no longer holds request ${handle.requestId} for ${handle.model} (results are kept about an hour); a new request is needed`,
        status: 404,
        code: requestGoneCode,
        requestId: handle.requestId,
        transient: false
      })
    }
    const error = classify(provider, res)
    if (error !== undefined) return yield* error
    const answer = yield* res.json().pipe(
      Effect.flatMap(Schema.decodeUnknown(StatusAnswer)),
      Effect.mapError((e) => (e instanceof ProviderError ? e : unexpected("a status poll", handle.requestId)(e)))
    )
    const status: FalStatus = answer.status === "IN_QUEUE"
      ? { status: "IN_QUEUE", queuePosition: answer.queue_position ?? undefined }
      : answer.status === "IN_PROGRESS"
      ? { status: "IN_PROGRESS", logs: decodeLogs(answer.logs) }
      : {
        status: "COMPLETED",
        logs: decodeLogs(answer.logs),
        error: answer.error ?? undefined,
        errorType: answer.error_type ?? undefined
      }
    return status
  }).pipe(Effect.retry(pollRetry))

const fetchResponse = (handle: FalHandle, apiKey: string, completed: Extract<FalStatus, { status: "COMPLETED" }>) =>
  Effect.gen(function*() {
    const http = yield* Http
    const res = yield* http.request(provider, {
      method: "GET",
      url: handle.responseUrl,
      headers: authHeaders(apiKey),
      timeoutMs: 60_000
    })
    const error = classify(provider, res)
    if (error !== undefined) {
      // The status already said the request failed: whatever the response URL answers, it is the model's
      // verdict, not a hiccup worth retrying (a retry would pay for the same failure again).
      return yield* new ProviderError({
        provider,
        message: error.message,
        status: error.status,
        code: error.code,
        requestId: handle.requestId,
        transient: completed.error === undefined && error.transient,
        retryAfterMs: completed.error === undefined ? error.retryAfterMs : undefined
      })
    }
    if (completed.error !== undefined) {
      return yield* new ProviderError({
        provider,
        message: completed.error,
        code: completed.errorType,
        requestId: handle.requestId,
        transient: false
      })
    }
    const body = yield* res.json()
    const wrapped = typeof body === "object" && body !== null && "response" in body && (body as any).status === "COMPLETED"
    return wrapped ? (body as { response: unknown }).response : body
  }).pipe(Effect.retry(pollRetry))

/**
 * Polls `status_url?logs=1` with a growing interval until COMPLETED, then fetches `response_url`.
 * A COMPLETED request with an error fails with the model's own message (permanent). A 404 on the status
 * URL fails with `code: "request_gone"` (see `isRequestGone`).
 */
export const awaitResult = Effect.fn("FalQueue.awaitResult")(function*(handle: FalHandle, options: AwaitOptions) {
  const initialMs = options.pollMs?.initialMs ?? 500
  const maxMs = options.pollMs?.maxMs ?? 5_000
  const waitStart = Date.now()
  const from = Math.min(handle.submittedAt, waitStart)
  let startedAt: number | undefined
  let interval = initialMs
  for (;;) {
    const status = yield* pollStatus(handle, options.apiKey)
    if (options.onStatus) yield* options.onStatus(status)
    const now = Date.now()
    if (status.status !== "IN_QUEUE" && startedAt === undefined) startedAt = now
    if (status.status === "COMPLETED") {
      const output = yield* fetchResponse(handle, options.apiKey, status)
      return {
        output,
        queueMs: (startedAt ?? now) - from,
        runMs: now - (startedAt ?? now),
        logs: status.logs
      } satisfies FalResult
    }
    yield* Effect.sleep(Duration.millis(interval))
    interval = Math.min(maxMs, Math.round(interval * 1.5))
  }
})

/** `PUT cancel_url`, best effort: fal answers 400 when the request already completed, and nothing a
 *  failed cancel could tell us changes what the caller does next. */
export const cancel = Effect.fn("FalQueue.cancel")(function*(handle: FalHandle, apiKey: string) {
  const http = yield* Http
  yield* http.request(provider, {
    method: "PUT",
    url: handle.cancelUrl,
    headers: authHeaders(apiKey),
    timeoutMs: 10_000
  }).pipe(Effect.ignore)
})

/**
 * Submit (or re-attach to `resume`), report the handle through `onSubmitted` before waiting, and wait for
 * the result. Interrupting the wait while the request is still pending cancels it at fal, unless
 * `cancelOnInterrupt` is false.
 */
export const run = Effect.fn("FalQueue.run")(function*(options: RunOptions) {
  const cancelOnInterrupt = options.cancelOnInterrupt ?? true
  const follow = (handle: FalHandle) => {
    let completed = false
    const onStatus = (status: FalStatus) =>
      Effect.suspend(() => {
        if (status.status === "COMPLETED") completed = true
        return options.onStatus ? options.onStatus(status) : Effect.void
      })
    return awaitResult(handle, {
      apiKey: options.apiKey,
      onStatus,
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs })
    }).pipe(
      Effect.onInterrupt(() =>
        cancelOnInterrupt && !completed
          ? cancel(handle, options.apiKey).pipe(Effect.zipRight(options.onCancelled ? options.onCancelled(handle) : Effect.void))
          : Effect.void
      )
    )
  }
  const fresh = Effect.gen(function*() {
    const input = typeof options.input === "function"
      ? yield* (options.input as () => Effect.Effect<unknown, ProviderError, Http>)()
      : options.input
    const handle = yield* submit({
      baseUrl: options.baseUrl,
      apiKey: options.apiKey,
      model: options.model,
      input,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs })
    })
    if (options.onSubmitted) yield* options.onSubmitted(handle)
    const result = yield* follow(handle)
    return { ...result, handle, resumed: false } satisfies RunResult
  })
  if (options.resume === undefined) return yield* fresh
  const resume = options.resume
  return yield* follow(resume).pipe(
    Effect.map((result): RunResult => ({ ...result, handle: resume, resumed: true })),
    Effect.catchIf(isRequestGone, () => fresh)
  )
})

/** How a call follows its request: the parts of `RunOptions` a caller of `runForFile` passes through. */
export type Follow = Pick<RunOptions, "pollMs" | "onStatus" | "onSubmitted" | "resume" | "cancelOnInterrupt" | "onCancelled">

export interface FileResult<A> extends RunResult {
  readonly answer: A
  readonly bytes: Uint8Array
}

/**
 * Runs a request, decodes its answer, and downloads the output file it points at. What TTS and
 * image-to-video share: an answer without the file is a permanent failure (nothing to retry into), and a
 * download cut short is fetched again in place, since fal keeps results for about an hour (a node retry
 * would submit, and pay, again).
 */
export const runForFile = <A, I>(
  options: RunOptions,
  answer: Schema.Schema<A, I>,
  file: (answer: A) => string,
  what: string,
  fetch: { readonly allowedBases: ReadonlyArray<string>; readonly maxBytes: number; readonly contentTypePrefix: string }
) =>
  Effect.gen(function*() {
    const result = yield* run(options)
    const decoded = yield* Schema.decodeUnknown(answer)(result.output).pipe(
      Effect.mapError((e) =>
        new ProviderError({
          provider,
          message: `${options.model} answered without ${what}: ${e.message}`,
          requestId: result.handle.requestId,
          transient: false
        })
      )
    )
    const bytes = yield* download(provider, file(decoded), fetch).pipe(Effect.retry(downloadRetry))
    return { ...result, answer: decoded, bytes } satisfies FileResult<A>
  })

/** The request record of a fal call. A re-attached request is charged here too: the run that submitted it
 *  stopped before recording anything, so this is the one record of the charge. */
export const recordOf = (
  model: string,
  result: RunResult,
  startedAt: number,
  cost: Cost.Cost
): Cost.RequestRecord => ({
  provider,
  model,
  requestId: result.handle.requestId,
  startedAt: result.resumed ? startedAt : result.handle.submittedAt,
  endedAt: Date.now(),
  queueMs: result.queueMs,
  cost
})
