/**
 * The one HTTP client every cloud provider goes through, and the one place that decides what an HTTP
 * answer means (`classify`): which failures are worth retrying, and how long the other side asked us to wait.
 *
 * Surprises handled here:
 * - undici's `request` never follows redirects (undici 7 dropped `maxRedirections` from `request`);
 *   `download` follows them itself, re-checking each hop against the allowed URLs.
 * - undici does not throw on 4xx/5xx: `request` returns every answer and `classify` judges it.
 * - A body cut short (the server closes before `content-length` bytes) surfaces as a socket error while
 *   reading; we also compare the byte count with `content-length` ourselves, and call both transient.
 * - Secrets are redacted before an exchange reaches the IoLog, including the key inside `Authorization`
 *   and any configured secret that a provider echoes back in a URL or a body.
 */
import { Clock, Context, Effect, Layer } from "effect"
import { request as undiciRequest } from "undici"
import { ProviderError } from "./ProviderError.ts"
import { IoLog, type IoBody, type IoEntry } from "./IoLog.ts"

export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT"
  readonly url: string
  readonly headers?: Record<string, string>
  /** Sent as application/json. */
  readonly json?: unknown
  /** Raw body (e.g. a PUT upload); set content-type in headers. */
  readonly body?: Uint8Array
  /** Whole-request time-out, body included (default 120_000). */
  readonly timeoutMs?: number
  /** Response size limit (default 512 MiB); larger → permanent ProviderError. */
  readonly maxBytes?: number
}

export interface HttpResponse {
  readonly status: number
  /** Lower-case names. */
  readonly headers: Record<string, string>
  readonly body: Uint8Array
  readonly text: () => string
  /** Malformed JSON → transient ProviderError ("malformed JSON from <provider>"). */
  readonly json: () => Effect.Effect<unknown, ProviderError>
}

export const defaultTimeoutMs = 120_000
export const defaultMaxBytes = 512 * 1024 * 1024

export interface HttpOptions {
  /** Values replaced by `***` wherever they appear in what the IoLog receives. */
  readonly secrets: ReadonlyArray<string>
  /** When set, the time-out of every request, replacing each call's own (`STORYSHOT_HTTP_TIMEOUT_MS`). */
  readonly timeoutMs?: number | undefined
}

interface HttpService {
  /** Sends the request; never fails on a status code (the caller decides with `classify`). Fails only on
   *  network trouble: time-out, reset, refused, truncated body (content-length mismatch) → transient ProviderError. */
  readonly request: (provider: string, req: HttpRequest) => Effect.Effect<HttpResponse, ProviderError>
}

// ---------------------------------------------------------------------------------------------------------
// Redaction

const mask = "***"

/** Replaces every occurrence of every secret in `text` by `***`. Empty secrets are ignored. */
export const redact = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join(mask)
  return out
}

const redactJson = (value: unknown, secrets: ReadonlyArray<string>): unknown => {
  if (typeof value === "string") return redact(value, secrets)
  if (Array.isArray(value)) return value.map((v) => redactJson(v, secrets))
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[redact(k, secrets)] = redactJson(v, secrets)
    return out
  }
  return value
}

const redactBytes = (bytes: Uint8Array, secrets: ReadonlyArray<string>): Uint8Array => {
  let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let changed = false
  for (const secret of secrets) {
    if (secret.length === 0 || buf.indexOf(secret) < 0) continue
    // latin1 maps bytes 1:1, so splitting on the key's UTF-8 bytes leaves every other byte untouched.
    buf = Buffer.from(buf.toString("latin1").split(Buffer.from(secret).toString("latin1")).join(mask), "latin1")
    changed = true
  }
  return changed ? new Uint8Array(buf) : bytes
}

const secretHeaders = new Set(["authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"])

const redactHeaders = (headers: Record<string, string>, secrets: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    if (lower === "authorization" || lower === "proxy-authorization") {
      // Keep the scheme so a log reader can see which kind of key was sent ("Key ***", "Bearer ***").
      const scheme = /^(\S+)\s+\S/.exec(value)?.[1]
      out[name] = scheme === undefined ? mask : `${scheme} ${mask}`
    } else if (secretHeaders.has(lower)) {
      out[name] = mask
    } else {
      out[name] = redact(value, secrets)
    }
  }
  return out
}

/** The key inside an `Authorization` header is a secret even if nobody registered it. */
const secretsOf = (headers: Record<string, string> | undefined, secrets: ReadonlyArray<string>): ReadonlyArray<string> => {
  const found = [...secrets]
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase()
    if (lower === "authorization" || lower === "proxy-authorization") {
      const token = /^\S+\s+(.+)$/.exec(value)?.[1]?.trim() ?? value.trim()
      if (token.length > 0) found.push(token)
    } else if (secretHeaders.has(lower) && value.trim().length > 0) {
      found.push(value.trim())
    }
  }
  // Longest first, so a secret that contains another is masked whole.
  return found.filter((s) => s.length > 0).sort((a, b) => b.length - a.length)
}

// ---------------------------------------------------------------------------------------------------------
// Bodies as the log keeps them

const logBody = (bytes: Uint8Array | undefined, contentType: string | undefined, secrets: ReadonlyArray<string>): IoBody => {
  if (bytes === undefined || bytes.length === 0) return undefined
  const type = (contentType ?? "").toLowerCase()
  const textual = type.includes("json") || type.startsWith("text/") || type === ""
  if (textual) {
    const text = Buffer.from(bytes).toString("utf8")
    if (type.includes("json") || type === "") {
      try {
        return redactJson(JSON.parse(text), secrets)
      } catch {
        if (type === "" && !isProbablyText(bytes)) return { file: redactBytes(bytes, secrets), contentType: "application/octet-stream" }
      }
    }
    return redact(text, secrets)
  }
  return { file: redactBytes(bytes, secrets), contentType }
}

const isProbablyText = (bytes: Uint8Array): boolean => {
  const n = Math.min(bytes.length, 512)
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return false
  return true
}

// ---------------------------------------------------------------------------------------------------------
// The layer

const lowerHeaders = (headers: Record<string, string | Array<string> | undefined>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

class TooLarge extends Error {}
class Truncated extends Error {}

interface RawAnswer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: Uint8Array
}

const send = async (req: HttpRequest, headers: Record<string, string>, body: Uint8Array | undefined, maxBytes: number, signal: AbortSignal): Promise<RawAnswer> => {
  const res = await undiciRequest(req.url, { method: req.method, headers, body: body ?? null, signal })
  const resHeaders = lowerHeaders(res.headers)
  const declared = resHeaders["content-length"] === undefined ? undefined : Number(resHeaders["content-length"])
  if (declared !== undefined && Number.isFinite(declared) && declared > maxBytes) {
    res.body.destroy()
    throw new TooLarge(`${declared} bytes`)
  }
  const chunks: Array<Buffer> = []
  let size = 0
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer
      size += buf.length
      if (size > maxBytes) {
        res.body.destroy()
        throw new TooLarge(`more than ${maxBytes} bytes`)
      }
      chunks.push(buf)
    }
  } catch (cause) {
    if (cause instanceof TooLarge || signal.aborted) throw cause
    // The headers arrived, the body did not: the connection dropped mid-answer.
    throw new Truncated(`connection closed after ${size}${declared === undefined ? "" : ` of ${declared}`} bytes (${describe(cause)})`)
  }
  if (declared !== undefined && Number.isFinite(declared) && size !== declared) {
    throw new Truncated(`received ${size} of ${declared} bytes`)
  }
  return { status: res.statusCode, headers: resHeaders, body: new Uint8Array(Buffer.concat(chunks)) }
}

const describe = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    const inner = (cause as { cause?: unknown }).cause
    const innerText = inner instanceof Error && inner.message !== cause.message ? ` (${inner.message})` : ""
    return `${cause.message}${typeof code === "string" ? ` [${code}]` : ""}${innerText}`
  }
  return String(cause)
}

export const makeResponse = (provider: string, raw: RawAnswer): HttpResponse => {
  const text = () => Buffer.from(raw.body).toString("utf8")
  return {
    status: raw.status,
    headers: raw.headers,
    body: raw.body,
    text,
    json: () =>
      Effect.try({
        try: () => JSON.parse(text()) as unknown,
        catch: () =>
          new ProviderError({
            provider,
            message: `malformed JSON from ${provider} (HTTP ${raw.status}, ${raw.body.length} bytes)`,
            status: raw.status,
            requestId: requestIdOf(raw.headers),
            transient: true
          })
      })
  }
}

const make = (options: HttpOptions) =>
  Effect.gen(function*() {
    const io = yield* IoLog
    const request = Effect.fn("Http.request")(function*(provider: string, req: HttpRequest) {
      const timeoutMs = options.timeoutMs ?? req.timeoutMs ?? defaultTimeoutMs
      const maxBytes = req.maxBytes ?? defaultMaxBytes
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
          let timedOut = false
          const timer = setTimeout(() => {
            timedOut = true
            controller.abort()
          }, timeoutMs)
          const onInterrupt = () => controller.abort()
          interrupt.addEventListener("abort", onInterrupt)
          try {
            return await send(req, headers, body, maxBytes, controller.signal)
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
        provider,
        method: req.method,
        url: redact(req.url, secrets),
        requestHeaders: redactHeaders(headers, secrets),
        requestBody: req.json !== undefined ? redactJson(req.json, secrets) : logBody(body, requestType ?? "application/octet-stream", secrets),
        startedAt,
        endedAt
      }

      if (result._tag === "Right") {
        const raw = result.right
        const entry: IoEntry = {
          ...base,
          status: raw.status,
          responseHeaders: redactHeaders(raw.headers, secrets),
          responseBody: logBody(raw.body, raw.headers["content-type"], secrets)
        }
        yield* io.log(entry)
        return makeResponse(provider, raw)
      }

      const cause = result.left
      const error = cause instanceof TimedOut
        ? new ProviderError({ provider, message: `no complete answer from ${provider} within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`} (${req.method} ${redact(req.url, secrets)})`, transient: true })
        : cause instanceof TooLarge
        ? new ProviderError({ provider, message: `answer from ${provider} is larger than the ${maxBytes}-byte limit (${cause.message}); raise maxBytes if this file is expected`, transient: false })
        : cause instanceof Truncated
        ? new ProviderError({ provider, message: `answer from ${provider} was cut short: ${cause.message}`, transient: true })
        : new ProviderError({ provider, message: `network error talking to ${provider}: ${redact(describe(cause), secrets)}`, transient: true })
      yield* io.log({ ...base, status: undefined, responseHeaders: {}, responseBody: undefined, error: error.message })
      return yield* error
    })
    return { request } satisfies HttpService
  })

class TimedOut extends Error {}

export class Http extends Context.Tag("storyshot/Http")<Http, HttpService>() {
  /** Redacts only the keys it sees in `Authorization` headers. */
  static readonly layer: Layer.Layer<Http, never, IoLog> = Layer.effect(this, make({ secrets: [] }))
  /** Also redacts every listed secret wherever it appears. */
  static readonly layerWith = (options: HttpOptions): Layer.Layer<Http, never, IoLog> => Layer.effect(this, make(options))
}

// ---------------------------------------------------------------------------------------------------------
// Classification

const transientStatus = new Set([408, 409, 429, 500, 502, 503, 504])

const requestIdOf = (headers: Record<string, string>): string | undefined =>
  headers["x-request-id"] ?? headers["x-fal-request-id"] ?? headers["request-id"] ?? undefined

/** `retry-after-ms` (milliseconds), else `retry-after` (seconds, or an HTTP date). */
export const retryAfterOf = (headers: Record<string, string>, now: number = Date.now()): number | undefined => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined && ms.trim() !== "" && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms)
  const after = headers["retry-after"]?.trim()
  if (after === undefined || after === "") return undefined
  if (/^\d+(\.\d+)?$/.test(after)) return Math.round(Number(after) * 1000)
  const date = Date.parse(after)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

interface ErrorBody {
  readonly message: string | undefined
  readonly code: string | undefined
}

const str = (v: unknown): string | undefined =>
  typeof v === "string" && v.trim() !== "" ? v : typeof v === "number" ? String(v) : undefined

/** The provider's own words from the error shapes we know. */
export const errorBodyOf = (body: unknown, text: string): ErrorBody => {
  if (typeof body === "object" && body !== null) {
    const b = body as Record<string, unknown>
    const error = b.error
    if (typeof error === "object" && error !== null) {
      const e = error as Record<string, unknown>
      return { message: str(e.message) ?? text, code: str(e.code) ?? str(e.type) }
    }
    if (typeof error === "string") return { message: error, code: str(b.code) ?? str(b.error_type) }
    const detail = b.detail
    if (typeof detail === "string") return { message: detail, code: str(b.code) }
    if (Array.isArray(detail)) {
      // fal / FastAPI validation errors: [{loc, msg, type}]
      const parts = detail.map((d) => {
        if (typeof d !== "object" || d === null) return String(d)
        const r = d as Record<string, unknown>
        const loc = Array.isArray(r.loc) ? r.loc.filter((x) => x !== "body").join(".") : undefined
        const msg = str(r.msg) ?? JSON.stringify(d)
        return loc ? `${loc}: ${msg}` : msg
      })
      const first = detail[0] as Record<string, unknown> | undefined
      return { message: parts.join("; "), code: str(first?.type) }
    }
    if (typeof b.message === "string") return { message: b.message, code: str(b.code) }
  }
  return { message: undefined, code: undefined }
}

/** Builds the classified error for an answer that was already parsed (e.g. OpenRouter's HTTP 200 with an
 *  `error` body, whose `code` is an HTTP-like status). */
export const errorFrom = (
  provider: string,
  status: number,
  headers: Record<string, string>,
  body: unknown,
  text: string = ""
): ProviderError => {
  const parsed = errorBodyOf(body, text.trim())
  const code = parsed.code
  const message = parsed.message ?? text
  const falRetryable = headers["x-fal-retryable"]?.trim().toLowerCase()
  const transient = falRetryable === "false"
    ? false
    : falRetryable === "true"
    ? true
    : code === "moderation_blocked"
    ? false
    : transientStatus.has(status)
  const retryAfterMs = transient ? retryAfterOf(headers) : undefined
  return new ProviderError({
    provider,
    message: message !== undefined && message.trim() !== "" ? message.trim() : `${provider} answered HTTP ${status} with no explanation`,
    status,
    code,
    requestId: requestIdOf(headers),
    transient,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs })
  })
}

/** The one classification of HTTP answers: undefined for 2xx; otherwise a ProviderError whose message is the
 *  provider's own (from `{error:{message}}`, `{detail}` (string or fal's array of {msg}), or the text), with
 *  status, code, transient = 408/409/429/500/502/503/504 (and `x-fal-retryable: true`; `x-fal-retryable: false`
 *  forces permanent), retryAfterMs from `retry-after` (seconds or HTTP date) or `retry-after-ms`.
 *  400/401/402/403/404/422 and moderation blocks are permanent. */
export const classify = (provider: string, res: HttpResponse): ProviderError | undefined => {
  if (res.status >= 200 && res.status < 300) return undefined
  const text = res.text()
  let body: unknown = undefined
  try {
    body = JSON.parse(text)
  } catch {
    // Not JSON (a proxy's HTML page, plain text): the text itself is the message.
  }
  return errorFrom(provider, res.status, res.headers, body, text.length > 2000 ? `${text.slice(0, 2000)}…` : text)
}

// ---------------------------------------------------------------------------------------------------------
// Downloads

const isUnder = (url: URL, base: string): boolean => {
  let b: URL
  try {
    b = new URL(base)
  } catch {
    return false
  }
  if (url.origin !== b.origin) return false
  const prefix = b.pathname.endsWith("/") ? b.pathname : `${b.pathname}/`
  return b.pathname === "/" || url.pathname === b.pathname || url.pathname.startsWith(prefix)
}

const checkUrl = (provider: string, raw: string, allowedBases: ReadonlyArray<string>): Effect.Effect<URL, ProviderError> => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return Effect.fail(new ProviderError({ provider, message: `${provider} returned an output URL that is not a URL: ${raw}`, transient: false }))
  }
  if (url.protocol === "https:" || allowedBases.some((base) => isUnder(url, base))) return Effect.succeed(url)
  return Effect.fail(
    new ProviderError({
      provider,
      message: `refusing to download ${url.href}: output files must come over https (or from under a configured base URL)`,
      transient: false
    })
  )
}

/** Downloads a provider's output file: https only, except URLs under the configured base URLs (so local fakes
 *  work); checks the size limit and, when given, the content-type prefix; truncated → transient. */
export const download = Effect.fn("Http.download")(function*(
  provider: string,
  url: string,
  opts: { allowedBases: ReadonlyArray<string>; maxBytes?: number; contentTypePrefix?: string }
) {
  const http = yield* Http
  let current = yield* checkUrl(provider, url, opts.allowedBases)
  for (let hop = 0; hop <= 5; hop++) {
    const res = yield* http.request(provider, { method: "GET", url: current.href, ...(opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes }) })
    if (res.status >= 300 && res.status < 400 && res.headers["location"] !== undefined) {
      current = yield* checkUrl(provider, new URL(res.headers["location"], current).href, opts.allowedBases)
      continue
    }
    const error = classify(provider, res)
    if (error !== undefined) return yield* error
    if (res.body.length === 0) {
      return yield* new ProviderError({ provider, message: `the file at ${current.href} from ${provider} is empty`, status: res.status, transient: true })
    }
    const type = res.headers["content-type"] ?? ""
    if (opts.contentTypePrefix !== undefined && !type.toLowerCase().startsWith(opts.contentTypePrefix.toLowerCase())) {
      return yield* new ProviderError({
        provider,
        message: `expected a ${opts.contentTypePrefix}* file from ${current.href} but ${provider} sent "${type || "no content-type"}"`,
        status: res.status,
        transient: false
      })
    }
    return res.body
  }
  return yield* new ProviderError({ provider, message: `too many redirects downloading ${url} from ${provider}`, transient: false })
})
