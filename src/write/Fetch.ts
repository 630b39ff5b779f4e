/**
 * Fetching a page for `write --url`: undici, with a time-out for the whole fetch, a size limit and a
 * redirect limit. Every failure is one line that names the URL and says what was wrong.
 *
 * Surprises:
 * - undici's `request` never follows redirects (undici 7 dropped `maxRedirections` from `request`); they
 *   are followed here, hop by hop, so each hop is re-checked (http or https only) and counted.
 * - undici does not throw on 4xx/5xx; the status is judged here.
 * - The content type is checked from the headers before the body is read, so a 50 MB PDF is refused without
 *   downloading it; a body larger than the limit is cut off (the stream destroyed) as soon as it passes it.
 * - A page's charset comes from `content-type`, else from a `<meta charset>` in its first bytes, else UTF-8.
 *   `TextDecoder` knows the WHATWG labels (windows-1252, iso-8859-1, shift_jis, ...).
 * - The exchange goes to the run's io log (`IoLog`) like every outside request; a page carries no key.
 */
import { Clock, Effect } from "effect"
import { request } from "undici"
import { IoLog } from "../providers/IoLog.ts"
import { WriteError } from "./Errors.ts"

export interface Limits {
  /** The whole fetch, redirects and body included. */
  readonly timeoutMs: number
  readonly maxBytes: number
  readonly maxRedirects: number
}

export const defaultLimits: Limits = { timeoutMs: 20_000, maxBytes: 5 * 1024 * 1024, maxRedirects: 5 }

export interface Page {
  /** The URL that answered, after redirects. */
  readonly url: string
  readonly requested: string
  readonly contentType: string
  readonly html: string
  readonly bytes: number
}

const htmlTypes = ["text/html", "application/xhtml+xml"]

const userAgent = "storyshot-write/0.1 (a command-line tool that turns a page into a narration script)"

const megabytes = (n: number) => (n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MB` : `${Math.round(n / 1024)} KB`)

const fail = (message: string) => new WriteError({ reason: "page", message })

/** Parses and checks a --url: http or https, nothing else. */
export const checkUrl = (raw: string): URL | WriteError => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return fail(`--url ${raw} is not a URL: write it in full, e.g. https://example.org/article`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return fail(`--url ${raw}: only http and https pages can be fetched (for a file on disk, use --from FILE)`)
  return url
}

class Refused extends Error {}

interface Hop {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body?: Uint8Array
}

const lower = (headers: Record<string, string | Array<string> | undefined>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v
  return out
}

const reasonPhrase = (status: number): string =>
  ({ 400: "bad request", 401: "needs a login", 403: "forbidden", 404: "not found", 410: "gone", 429: "too many requests", 451: "unavailable for legal reasons", 500: "server error", 502: "bad gateway", 503: "unavailable", 504: "gateway time-out" } as Record<number, string>)[status] ??
  (status >= 500 ? "server error" : "refused")

const mediaType = (contentType: string) => contentType.split(";")[0]!.trim().toLowerCase()

/** One hop: the answer's head, and its body only when it is a 2xx HTML page within the size limit. */
const hop = async (url: URL, limits: Limits, signal: AbortSignal): Promise<Hop> => {
  const res = await request(url, {
    method: "GET",
    headers: { "user-agent": userAgent, accept: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1" },
    signal,
    headersTimeout: limits.timeoutMs,
    bodyTimeout: limits.timeoutMs
  })
  const headers = lower(res.headers)
  // A body we do not read is destroyed; undici then emits an AbortError on it, which nobody should see.
  const drop = () => {
    res.body.on("error", () => {})
    res.body.destroy()
  }
  if (res.statusCode < 200 || res.statusCode >= 300) {
    drop()
    return { status: res.statusCode, headers }
  }
  const type = headers["content-type"] ?? ""
  if (!htmlTypes.includes(mediaType(type))) {
    drop()
    throw new Refused(`${url.href} is ${type === "" ? "of no stated type" : mediaType(type)}, not an HTML page: save its text and use --from FILE`)
  }
  const declared = Number(headers["content-length"])
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    drop()
    throw new Refused(`${url.href} is larger than ${megabytes(limits.maxBytes)} (${megabytes(declared)}): save the part you want and use --from FILE`)
  }
  const chunks: Array<Buffer> = []
  let size = 0
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length
    if (size > limits.maxBytes) {
      drop()
      throw new Refused(`${url.href} is larger than ${megabytes(limits.maxBytes)}: save the part you want and use --from FILE`)
    }
    chunks.push(chunk as Buffer)
  }
  return { status: res.statusCode, headers, body: new Uint8Array(Buffer.concat(chunks)) }
}

/** The page's text: by the charset it declares in its headers, else in a `<meta>` near its top, else UTF-8. */
export const decode = (bytes: Uint8Array, contentType: string): string => {
  const fromHeader = /charset\s*=\s*"?([\w.:-]+)/i.exec(contentType)?.[1]
  const head = Buffer.from(bytes.subarray(0, 2048)).toString("latin1")
  const fromMeta = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(head)?.[1]
  for (const label of [fromHeader, fromMeta, "utf-8"]) {
    if (label === undefined) continue
    try {
      return new TextDecoder(label).decode(bytes)
    } catch {
      // An unknown label: try the next source of truth.
    }
  }
  return new TextDecoder("utf-8").decode(bytes)
}

const describe = (cause: unknown): string => {
  const e = cause as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } }
  const code = typeof e?.code === "string" ? e.code : typeof e?.cause?.code === "string" ? e.cause.code : undefined
  const what: Record<string, string> = {
    ECONNREFUSED: "the connection was refused",
    ENOTFOUND: "no such host",
    EAI_AGAIN: "the host name could not be looked up (offline?)",
    ECONNRESET: "the connection was reset",
    UND_ERR_SOCKET: "the connection closed",
    CERT_HAS_EXPIRED: "its certificate has expired",
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate cannot be verified",
    DEPTH_ZERO_SELF_SIGNED_CERT: "its certificate is self-signed"
  }
  if (code !== undefined && what[code] !== undefined) return `${what[code]} (${code})`
  const message = typeof e?.message === "string" ? e.message : String(cause)
  return code === undefined ? message : `${message} (${code})`
}

/** Fetches an HTML page, following at most `maxRedirects` redirects, within `timeoutMs` in all. */
export const fetchPage = Effect.fn("Write.fetchPage")(function* (raw: string, limits: Limits = defaultLimits) {
  const checked = checkUrl(raw)
  if (checked instanceof WriteError) return yield* checked
  return yield* Effect.acquireUseRelease(
    Effect.sync(() => {
      const controller = new AbortController()
      const timer = setTimeout(() => controller.abort(), limits.timeoutMs)
      return { controller, timer }
    }),
    ({ controller }) => follow(raw, checked, limits, controller),
    ({ timer }) => Effect.sync(() => clearTimeout(timer))
  )
})

const follow = (raw: string, first: URL, limits: Limits, controller: AbortController) =>
  Effect.gen(function* () {
    const io = yield* IoLog
    let url = first
    const seconds = limits.timeoutMs >= 1000 ? `${Math.round(limits.timeoutMs / 1000)} s` : `${limits.timeoutMs} ms`
    for (let redirects = 0; ; redirects++) {
      const startedAt = yield* Clock.currentTimeMillis
      const result = yield* Effect.tryPromise({
        try: (interrupt) => {
          const onInterrupt = () => controller.abort()
          interrupt.addEventListener("abort", onInterrupt)
          return hop(url, limits, controller.signal).finally(() => interrupt.removeEventListener("abort", onInterrupt))
        },
        catch: (cause) => cause
      }).pipe(Effect.either)
      const endedAt = yield* Clock.currentTimeMillis
      const base = { provider: "page", method: "GET", url: url.href, requestHeaders: { "user-agent": userAgent }, requestBody: undefined, startedAt, endedAt }
      if (result._tag === "Left") {
        const cause = result.left
        const message = cause instanceof Refused
          ? cause.message
          : controller.signal.aborted
          ? `no complete answer from ${url.href} within ${seconds}`
          : `could not fetch ${url.href}: ${describe(cause)}`
        yield* io.log({ ...base, status: undefined, responseHeaders: {}, responseBody: undefined, error: message })
        return yield* fail(message)
      }
      const answer = result.right
      const html = answer.body === undefined ? undefined : decode(answer.body, answer.headers["content-type"] ?? "")
      yield* io.log({ ...base, status: answer.status, responseHeaders: answer.headers, responseBody: html })
      if (answer.status >= 300 && answer.status < 400 && answer.headers["location"] !== undefined) {
        if (redirects >= limits.maxRedirects)
          return yield* fail(`${raw} redirected more than ${limits.maxRedirects} times (last to ${answer.headers["location"]}): give the final URL`)
        let next: URL
        try {
          next = new URL(answer.headers["location"], url)
        } catch {
          return yield* fail(`${url.href} redirected to "${answer.headers["location"]}", which is not a URL`)
        }
        if (next.protocol !== "http:" && next.protocol !== "https:")
          return yield* fail(`${url.href} redirected to ${next.href}: only http and https pages can be fetched`)
        url = next
        continue
      }
      if (answer.status < 200 || answer.status >= 300 || html === undefined)
        return yield* fail(`HTTP ${answer.status} from ${url.href}: ${reasonPhrase(answer.status)}`)
      const page: Page = { url: url.href, requested: raw, contentType: answer.headers["content-type"] ?? "", html, bytes: answer.body!.length }
      return page
    }
  })
