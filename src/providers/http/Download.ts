/**
 * Downloading a provider's output file (fal's audio and clips, an image URL from an older OpenAI model):
 * https only, except URLs under the configured base URLs (so a gateway or a local fake works); redirects
 * followed by hand (undici's `request` does not), each hop checked again; size limit and content type checked.
 * A download costs nothing to repeat: the caller retries it in place (`../Reads.ts`).
 */
import { Effect } from "effect"
import type * as Failure from "../Failure.ts"
import { refusalOf } from "./Answer.ts"
import { Http, type Answer, type HttpFailure } from "./Client.ts"

/** Why a download failed, in the shared vocabulary; the caller names it in its service's words. */
export interface DownloadFailure {
  readonly reason: Failure.CommonReason
  readonly said: string
  readonly status?: number | undefined
  readonly retryAfterMs?: number | undefined
}

export interface DownloadOptions {
  readonly allowedBases: ReadonlyArray<string>
  readonly maxBytes?: number | undefined
  readonly contentTypePrefix?: string | undefined
  readonly answerTimeoutMs?: number | undefined
  /** Called with the file's bytes as soon as they arrived (see `Client.ts`). */
  readonly keep?: ((answer: Answer) => Effect.Effect<void>) | undefined
}

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

const checkUrl = (raw: string, allowedBases: ReadonlyArray<string>): URL | DownloadFailure => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { reason: "garbled", said: `the output URL is not a URL: ${raw}` }
  }
  if (url.protocol === "https:" || allowedBases.some((base) => isUnder(url, base))) return url
  return { reason: "rejected", said: `refusing to download ${url.href}: output files must come over https (or from under a configured base URL)` }
}

const fromHttp = (f: HttpFailure): DownloadFailure => ({ reason: f.reason, said: f.detail, status: f.status })

/** The file's bytes and its content type. */
export const download = Effect.fn("Http.download")(function*(service: string, url: string, opts: DownloadOptions) {
  const http = yield* Http
  const first = checkUrl(url, opts.allowedBases)
  if (!(first instanceof URL)) return yield* Effect.fail(first)
  let current = first
  for (let hop = 0; hop <= 5; hop++) {
    const res = yield* http.request(service, {
      method: "GET",
      url: current.href,
      ...(opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes }),
      ...(opts.answerTimeoutMs === undefined ? {} : { answerTimeoutMs: opts.answerTimeoutMs }),
      keep: opts.keep
    }).pipe(Effect.mapError(fromHttp))
    if (res.status >= 300 && res.status < 400 && res.headers["location"] !== undefined) {
      const next = checkUrl(new URL(res.headers["location"], current).href, opts.allowedBases)
      if (!(next instanceof URL)) return yield* Effect.fail(next)
      current = next
      continue
    }
    const refusal = refusalOf(res)
    if (refusal !== undefined) {
      const reason: Failure.CommonReason =
        refusal.status === 429 ? "rate-limited" : refusal.status >= 500 || refusal.status === 408 ? "unavailable" : refusal.status === 401 || refusal.status === 403 ? "unauthorized" : "rejected"
      return yield* Effect.fail<DownloadFailure>({ reason, said: refusal.said, status: refusal.status, retryAfterMs: refusal.retryAfterMs })
    }
    if (res.body.length === 0) {
      return yield* Effect.fail<DownloadFailure>({ reason: "cut-off", said: `the file at ${current.href} is empty`, status: res.status })
    }
    const type = res.headers["content-type"] ?? ""
    if (opts.contentTypePrefix !== undefined && !type.toLowerCase().startsWith(opts.contentTypePrefix.toLowerCase())) {
      return yield* Effect.fail<DownloadFailure>({
        reason: "garbled",
        said: `expected a ${opts.contentTypePrefix}* file from ${current.href} but got "${type || "no content-type"}"`,
        status: res.status
      })
    }
    return { bytes: res.body, contentType: type }
  }
  return yield* Effect.fail<DownloadFailure>({ reason: "rejected", said: `too many redirects downloading ${url}` })
})
