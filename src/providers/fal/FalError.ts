/**
 * Everything that can go wrong with fal, as one closed union: the call that failed, why, and fal's words.
 *
 * fal's quirks that decide what a failure means:
 * - A submit refused with 429 or 5xx was never queued: fal bills neither, so it may be sent again.
 * - `x-fal-retryable: false` on an answer means "do not send this again" whatever its status; `true` the opposite.
 * - A submit whose answer never came, or came cut off or garbled, may have been queued (and will be billed
 *   when it runs): it is not sent again by itself.
 * - A request that COMPLETED with an error (there is no FAILED state) is the model's verdict: permanent.
 *   fal says 422 "may be" billed.
 * - Status polls, result fetches, uploads and downloads cost nothing to repeat; they are retried in place
 *   (`../Reads.ts`), and a node whose read still fails may be tried again, because the next try re-attaches to
 *   the kept request instead of paying for a new one.
 */
import { Schema } from "effect"
import * as Failure from "../Failure.ts"
import type { HttpFailure } from "../http/Client.ts"
import type { Refusal } from "../http/Answer.ts"

export const calls = {
  submit: "submit",
  status: "status poll",
  result: "result",
  cancel: "cancel",
  upload: "storage upload",
  download: "download"
} as const
export type FalCall = keyof typeof calls

export const reads: ReadonlySet<FalCall> = new Set<FalCall>(["status", "result", "cancel", "upload", "download"])

export class FalError extends Schema.TaggedError<FalError>()("FalError", {
  call: Schema.Literal("submit", "status", "result", "cancel", "upload", "download"),
  reason: Schema.Literal(
    ...Failure.commonReasons,
    /** The request COMPLETED with an error: the model's own verdict. */
    "model-failed",
    /** fal no longer holds a request we re-attached to (results are kept about an hour). */
    "gone",
    /** The model's safety checker flagged the output (`has_nsfw_concepts`). */
    "moderation",
    /** The account is locked for an exhausted balance (a 403 "User is locked. Reason: Exhausted balance"). */
    "out-of-credit"
  ),
  model: Schema.optional(Schema.String),
  /** fal's `x-fal-retryable` header, when it sent one. */
  falRetryable: Schema.optional(Schema.Boolean),
  ...Failure.fields
}) {
  override get message(): string {
    const label = this.reason === "model-failed" ? "the model failed" : this.reason === "gone" ? "request is gone" : this.reason === "moderation" ? "moderation blocked" : undefined
    if (this.reason === "out-of-credit") {
      return `${Failure.line("fal", calls[this.call], this, "out of credit")} (the key is fine; top up at https://fal.ai/dashboard/billing, then build again)`
    }
    const base = this.reason === "model-failed" || this.reason === "gone" || this.reason === "moderation"
      ? `fal ${calls[this.call]}${this.model ? ` of ${this.model}` : ""}: ${label}: ${this.said}`
      : Failure.line("fal", calls[this.call], this)
    if (this.reason === "moderation") return `${base}. Edit the sentence or the shot's prompt, then build again; the same words fail the same way.`
    return this.reason === "unauthorized" ? `${base} (fal refused the key: check FAL_KEY in .env)` : base
  }

  /** Whether this failure may have cost money. */
  get billed(): Failure.Billed {
    if (reads.has(this.call)) return "no"
    if (this.reason === "model-failed" || this.reason === "moderation") return "maybe"
    return this.reason === "no-answer" || this.reason === "dropped" || this.reason === "cut-off" || this.reason === "garbled"
      ? "maybe"
      : "no"
  }

  /** Worth another try: a read that failed in passing, or a submit fal refused before queuing it. */
  get worthRetrying(): boolean {
    if (this.falRetryable !== undefined) return this.falRetryable && this.billed === "no"
    if (reads.has(this.call)) return Failure.transient.has(this.reason)
    return this.reason === "rate-limited" || this.reason === "unavailable" || this.reason === "refused"
  }


  tried(tries: number): FalError {
    return new FalError({ ...this, tries })
  }
}

export const fromHttp = (call: FalCall, failure: HttpFailure, extra: { model?: string; requestId?: string } = {}) =>
  new FalError({ call, reason: failure.reason, said: failure.detail, ...(failure.status === undefined ? {} : { status: failure.status }), ...extra })

export const fromRefusal = (call: FalCall, refusal: Refusal, headers: Record<string, string>, extra: { model?: string; requestId?: string } = {}) => {
  const retryable = headers["x-fal-retryable"]?.trim().toLowerCase()
  return new FalError({
    call,
    reason: /exhausted balance|user is locked/i.test(refusal.said) || refusal.status === 402 ? "out-of-credit" : Failure.reasonOfStatus(refusal.status),
    said: refusal.said,
    status: refusal.status,
    ...(refusal.code === undefined ? {} : { code: refusal.code }),
    ...(refusal.requestId === undefined ? {} : { requestId: refusal.requestId }),
    ...(refusal.retryAfterMs === undefined ? {} : { retryAfterMs: refusal.retryAfterMs }),
    ...(retryable === "true" ? { falRetryable: true } : retryable === "false" ? { falRetryable: false } : {}),
    ...extra
  })
}

export const garbled = (call: FalCall, said: string, extra: { model?: string; requestId?: string; status?: number } = {}) =>
  new FalError({ call, reason: "garbled", said, ...extra })
