/**
 * Reading an HTTP answer the way providers write them: their own words from the error shapes we know,
 * `Retry-After`, and the request id. Which service error an answer becomes is each adapter's business; these
 * are the parts they share.
 */
import type { HttpResponse } from "./Client.ts"

export const isOk = (res: { readonly status: number }) => res.status >= 200 && res.status < 300

export const requestIdOf = (headers: Record<string, string>): string | undefined =>
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

export interface ErrorBody {
  readonly message: string | undefined
  readonly code: string | undefined
}

const str = (v: unknown): string | undefined =>
  typeof v === "string" && v.trim() !== "" ? v : typeof v === "number" ? String(v) : undefined

/** The provider's own words from `{error:{message,code}}`, `{error: "..."}`, `{detail}` (a string, or fal's
 *  FastAPI list of `{loc, msg, type}`), or `{message}`. */
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

export interface Refusal {
  readonly status: number
  readonly said: string
  readonly code: string | undefined
  readonly requestId: string | undefined
  readonly retryAfterMs: number | undefined
}

/** What a non-2xx answer says: status, the provider's words (or its text, shortened), code, request id,
 *  `Retry-After`. Undefined for a 2xx answer. */
export const refusalOf = (res: HttpResponse): Refusal | undefined => {
  if (isOk(res)) return undefined
  const text = res.text()
  let body: unknown = undefined
  try {
    body = JSON.parse(text)
  } catch {
    // Not JSON (a proxy's HTML page, plain text): the text itself is the message.
  }
  return refusalFrom(res.status, res.headers, body, text.length > 2000 ? `${text.slice(0, 2000)}…` : text)
}

/** The same, for an answer already parsed (e.g. OpenRouter's error inside an HTTP 200). */
export const refusalFrom = (status: number, headers: Record<string, string>, body: unknown, text = ""): Refusal => {
  const parsed = errorBodyOf(body, text.trim())
  const message = (parsed.message ?? text).trim()
  return {
    status,
    said: message !== "" ? message : `HTTP ${status} with no explanation`,
    code: parsed.code,
    requestId: requestIdOf(headers),
    retryAfterMs: retryAfterOf(headers)
  }
}
