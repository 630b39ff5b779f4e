/**
 * The one HTTP client every cloud provider goes through (REST over undici, no vendor SDKs).
 *
 * Three time-outs, because they mean different things to a paying user:
 * - connect (a few seconds): nothing was sent, so nothing can have been billed, and a host that is down is
 *   known at once;
 * - answer (per call: seconds for a status poll, minutes for an image): the request was sent and the other
 *   side is silent. A host that accepts connections and never answers is known after this, and for a paid
 *   request it means "may have been billed";
 * - idle (while the body streams in): an answer that stalls half-way is cut off.
 *
 * Surprises handled here:
 * - undici's `request` never follows redirects (`download.ts` does, re-checking each hop) and does not throw
 *   on 4xx/5xx: every answer is returned and the adapter judges it (`Answer.ts`).
 * - A body cut short surfaces as a socket error while reading; the byte count is also compared with
 *   `content-length`. Both are `cut-off`.
 * - `keep` is called with a 2xx answer's bytes the moment they are complete, before they are logged, parsed
 *   or checked: a paid answer is kept in the store there (`../Keep.ts`), so a crash after it arrived loses
 *   nothing. The time that takes is logged (`keptMs`).
 * - Secrets are redacted before an exchange reaches the IoLog (`Redact.ts`).
 */
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { Agent, request as undiciRequest } from "undici"
import { IoLog, type IoEntry } from "../IoLog.ts"
import { logBody, redact, redactHeaders, redactJson, secretsOf } from "./Redact.ts"

export interface Answer {
  readonly status: number
  /** Lower-case names. */
  readonly headers: Record<string, string>
  readonly body: Uint8Array
}

export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT"
  readonly url: string
  readonly headers?: Record<string, string>
  /** Sent as application/json. */
  readonly json?: unknown
  /** Raw body (e.g. a PUT upload); set content-type in headers. */
  readonly body?: Uint8Array
  /** How long to wait for the answer once the request is sent (default 60 s). */
  readonly answerTimeoutMs?: number
  /** Longest silence while the body streams in (default 30 s). */
  readonly idleTimeoutMs?: number
  /** Response size limit (default 512 MiB); larger → `too-large`. */
  readonly maxBytes?: number
  /** Called with a 2xx answer as soon as its last byte arrived, before anything reads it. */
  readonly keep?: ((answer: Answer) => Effect.Effect<void>) | undefined
  /**
   * An answer read as it arrives (an event stream): called with each piece of the body; `true` ends the
   * answer there (the connection is closed, and what arrived so far is the body). The idle time-out still
   * applies between pieces, so a stream that falls silent is cut off.
   */
  readonly onChunk?: ((chunk: Uint8Array) => boolean) | undefined
}

export interface HttpResponse extends Answer {
  readonly text: () => string
  /** Broken JSON → `garbled`. */
  readonly json: () => Effect.Effect<unknown, HttpFailure>
}

/** Network trouble, as the adapters see it before they name it in their service's words. */
export class HttpFailure extends Schema.TaggedError<HttpFailure>()("HttpFailure", {
  reason: Schema.Literal("refused", "no-answer", "dropped", "cut-off", "too-large", "garbled"),
  /** What happened, e.g. "connection refused (ECONNREFUSED)", "received 1200 of 2200 bytes". */
  detail: Schema.String,
  status: Schema.optional(Schema.Number)
}) {
  override get message() {
    return this.detail
  }
}

export const defaults = {
  connectTimeoutMs: 5_000,
  answerTimeoutMs: 60_000,
  idleTimeoutMs: 30_000,
  maxBytes: 512 * 1024 * 1024
} as const

export interface HttpOptions {
  /** Values replaced by `***` wherever they appear in what the IoLog receives. */
  readonly secrets: ReadonlyArray<string>
  /** When set, replaces every call's answer and idle time-outs (`STORYSHOT_HTTP_TIMEOUT_MS`). */
  readonly timeoutMs?: number | undefined
  readonly connectTimeoutMs?: number | undefined
}

export interface HttpService {
  /** Sends the request; never fails on a status code. Fails only on network trouble (`HttpFailure`). */
  readonly request: (service: string, req: HttpRequest) => Effect.Effect<HttpResponse, HttpFailure>
}

const lowerHeaders = (headers: Record<string, string | Array<string> | undefined>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

const seconds = (ms: number) => (ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`)

const codeOf = (cause: unknown): string | undefined => {
  for (let c: any = cause, depth = 0; c && depth < 4; c = c.cause, depth++) {
    if (typeof c.code === "string") return c.code
  }
  return undefined
}

const describe = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = codeOf(cause)
    const inner = (cause as { cause?: unknown }).cause
    const innerText = inner instanceof Error && inner.message !== cause.message ? ` (${inner.message})` : ""
    return `${cause.message}${code ? ` [${code}]` : ""}${innerText}`
  }
  return String(cause)
}

const refusedCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"])

class TooLarge extends Error {}
class CutOff extends Error {}
class TimedOut extends Error {}

/** What an undici failure means for the caller. `sent` = the request went out (headers were not back yet). */
const failureOf = (cause: unknown, req: HttpRequest, answerMs: number, idleMs: number, secrets: ReadonlyArray<string>): HttpFailure => {
  if (cause instanceof TooLarge) return new HttpFailure({ reason: "too-large", detail: `larger than the limit (${cause.message})` })
  if (cause instanceof CutOff) return new HttpFailure({ reason: "cut-off", detail: cause.message })
  if (cause instanceof TimedOut) return new HttpFailure({ reason: "no-answer", detail: `no complete answer within ${seconds(answerMs + idleMs)}` })
  const code = codeOf(cause)
  if (code !== undefined && refusedCodes.has(code))
    return new HttpFailure({ reason: "refused", detail: redact(describe(cause), secrets) })
  if (code === "UND_ERR_HEADERS_TIMEOUT")
    return new HttpFailure({ reason: "no-answer", detail: `no answer within ${seconds(answerMs)} (${req.method} ${redact(req.url, secrets)})` })
  if (code === "UND_ERR_BODY_TIMEOUT")
    return new HttpFailure({ reason: "cut-off", detail: `the answer stalled for ${seconds(idleMs)} mid-body` })
  return new HttpFailure({ reason: "dropped", detail: redact(describe(cause), secrets) })
}

const make = (options: HttpOptions) =>
  Effect.gen(function*() {
    const io = yield* IoLog
    const connectTimeoutMs = options.connectTimeoutMs ?? defaults.connectTimeoutMs
    // Made on the first request: loading undici costs a build with nothing to fetch (a no-op) ~50 ms.
    let agent: Agent | undefined
    const dispatcher = () => (agent ??= new Agent({ connect: { timeout: connectTimeoutMs } }))
    yield* Effect.addFinalizer(() => Effect.promise(() => agent?.close().catch(() => undefined) ?? Promise.resolve()))

    const send = async (req: HttpRequest, headers: Record<string, string>, body: Uint8Array | undefined, limits: { answerMs: number; idleMs: number; maxBytes: number }, signal: AbortSignal): Promise<Answer> => {
      const res = await undiciRequest(req.url, {
        method: req.method,
        headers,
        body: body ?? null,
        signal,
        dispatcher: dispatcher(),
        headersTimeout: limits.answerMs,
        bodyTimeout: limits.idleMs
      })
      const resHeaders = lowerHeaders(res.headers)
      const declared = resHeaders["content-length"] === undefined ? undefined : Number(resHeaders["content-length"])
      if (declared !== undefined && Number.isFinite(declared) && declared > limits.maxBytes) {
        res.body.destroy()
        throw new TooLarge(`${declared} bytes`)
      }
      const chunks: Array<Buffer> = []
      let size = 0
      let enough = false
      try {
        for await (const chunk of res.body) {
          const buf = chunk as Buffer
          size += buf.length
          if (size > limits.maxBytes) {
            res.body.destroy()
            throw new TooLarge(`more than ${limits.maxBytes} bytes`)
          }
          chunks.push(buf)
          if (req.onChunk !== undefined && req.onChunk(new Uint8Array(buf.buffer, buf.byteOffset, buf.length))) {
            enough = true
            res.body.destroy()
            break
          }
        }
      } catch (cause) {
        if (cause instanceof TooLarge || signal.aborted) throw cause
        if (codeOf(cause) === "UND_ERR_BODY_TIMEOUT") throw cause
        // The headers arrived, the body did not: the connection dropped mid-answer.
        throw new CutOff(`the connection closed after ${size}${declared === undefined ? "" : ` of ${declared}`} bytes`)
      }
      if (!enough && declared !== undefined && Number.isFinite(declared) && size !== declared) {
        throw new CutOff(`received ${size} of ${declared} bytes`)
      }
      return { status: res.statusCode, headers: resHeaders, body: new Uint8Array(Buffer.concat(chunks)) }
    }

    const request = Effect.fn("Http.request")(function*(service: string, req: HttpRequest) {
      const answerMs = options.timeoutMs ?? req.answerTimeoutMs ?? defaults.answerTimeoutMs
      const idleMs = options.timeoutMs ?? req.idleTimeoutMs ?? defaults.idleTimeoutMs
      const maxBytes = req.maxBytes ?? defaults.maxBytes
      const headers: Record<string, string> = { ...req.headers }
      let body = req.body
      if (req.json !== undefined) {
        body = new TextEncoder().encode(JSON.stringify(req.json))
        if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json"
      }
      const secrets = secretsOf(req.headers, options.secrets)
      const startedAt = yield* Clock.currentTimeMillis

      const result = yield* Effect.tryPromise({
        try: async (interrupt) => {
          const controller = new AbortController()
          // A last resort behind undici's own time-outs: a body that trickles in forever.
          let timedOut = false
          const timer = setTimeout(() => {
            timedOut = true
            controller.abort()
          }, connectTimeoutMs + answerMs + Math.max(idleMs, 10 * 60_000))
          const onInterrupt = () => controller.abort()
          interrupt.addEventListener("abort", onInterrupt)
          try {
            return await send(req, headers, body, { answerMs, idleMs, maxBytes }, controller.signal)
          } catch (cause) {
            throw timedOut ? new TimedOut() : cause
          } finally {
            clearTimeout(timer)
            interrupt.removeEventListener("abort", onInterrupt)
          }
        },
        catch: (cause) => cause
      }).pipe(Effect.either)

      const endedAt = yield* Clock.currentTimeMillis
      const requestType = Object.entries(headers).find(([h]) => h.toLowerCase() === "content-type")?.[1]
      const base = {
        provider: service,
        method: req.method,
        url: redact(req.url, secrets),
        requestHeaders: redactHeaders(headers, secrets),
        requestBody: req.json !== undefined ? redactJson(req.json, secrets) : logBody(body, requestType ?? "application/octet-stream", secrets),
        startedAt,
        endedAt
      }

      if (result._tag === "Right") {
        const raw = result.right
        // Keep first, log second: a line in the run log means the answer is already safe in the store.
        let keptMs: number | undefined
        if (req.keep !== undefined && raw.status >= 200 && raw.status < 300) {
          const t0 = performance.now()
          yield* Effect.uninterruptible(req.keep(raw))
          keptMs = Math.round((performance.now() - t0) * 100) / 100
        }
        const entry: IoEntry = {
          ...base,
          status: raw.status,
          responseHeaders: redactHeaders(raw.headers, secrets),
          responseBody: logBody(raw.body, raw.headers["content-type"], secrets),
          ...(keptMs === undefined ? {} : { keptMs })
        }
        yield* io.log(entry)
        return makeResponse(raw)
      }

      const failure = failureOf(result.left, req, answerMs, idleMs, secrets)
      yield* io.log({ ...base, status: undefined, responseHeaders: {}, responseBody: undefined, error: failure.detail })
      return yield* failure
    })
    return { request } satisfies HttpService
  })

export const makeResponse = (raw: Answer): HttpResponse => {
  const text = () => Buffer.from(raw.body).toString("utf8")
  return {
    ...raw,
    text,
    json: () =>
      Effect.try({
        try: () => JSON.parse(text()) as unknown,
        catch: () => new HttpFailure({ reason: "garbled", detail: `broken JSON (HTTP ${raw.status}, ${raw.body.length} bytes)`, status: raw.status })
      })
  }
}

export class Http extends Context.Tag("storyshot/Http")<Http, HttpService>() {
  /** Redacts only the keys it sees in `Authorization` headers. */
  static readonly layer: Layer.Layer<Http, never, IoLog> = Layer.scoped(this, make({ secrets: [] }))
  /** Also redacts every listed secret wherever it appears. */
  static readonly layerWith = (options: HttpOptions): Layer.Layer<Http, never, IoLog> => Layer.scoped(this, make(options))
}
