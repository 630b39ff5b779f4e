/**
 * Everything that can go wrong with OpenAI Images, as one closed union.
 *
 * OpenAI's quirks that decide what a failure means:
 * - An image call is synchronous and billed once the image is made (30–120 s). A 429 or a 5xx was refused
 *   before any work and is not billed; a call that got no answer, or lost its connection, may have been.
 * - A 200 whose body is cut off, is not JSON, or holds no usable image was billed: it is not bought again by
 *   itself (`Failure.PaidAnswerLost`).
 * - A moderation block is HTTP 400 with `code: "moderation_blocked"`: the same words fail the same way.
 * - Out of quota is a 429 with `code: "insufficient_quota"`: waiting does not help.
 * - The 401 message quotes part of the key: every message is redacted before it gets here.
 */
import { Schema } from "effect"
import * as Failure from "../Failure.ts"
import type { Refusal } from "../http/Answer.ts"
import type { HttpFailure } from "../http/Client.ts"

export const calls = {
  images: "image generation",
  download: "image download",
  speech: "speech",
  response: "background response",
  "response-status": "background response status",
  "response-cancel": "background response cancel"
} as const
export type OpenAICall = keyof typeof calls

/** Calls that cost nothing to repeat. */
const reads: ReadonlySet<string> = new Set(["download", "response-status", "response-cancel"])

export class OpenAIError extends Schema.TaggedError<OpenAIError>()("OpenAIError", {
  call: Schema.Literal("images", "download", "speech", "response", "response-status", "response-cancel"),
  reason: Schema.Literal(
    ...Failure.commonReasons,
    /** The safety system refused the prompt. */
    "moderation",
    /** The account's quota or billing limit is reached. */
    "out-of-credit",
    /** A 200 without a usable image (empty, or bytes that are no PNG/JPEG/WebP). */
    "not-an-image",
    /** A 200 from the speech endpoint that holds no audio. */
    "not-audio",
    /** A background response that ended `failed`, `cancelled` or `incomplete`: OpenAI's verdict. */
    "model-failed",
    /** A background response OpenAI no longer holds (404 when re-attaching after its retention). */
    "gone"
  ),
  ...Failure.fields
}) {
  override get message(): string {
    const label = this.reason === "moderation" ? "moderation blocked" : this.reason === "out-of-credit" ? "out of credit" : undefined
    const base = this.reason === "not-an-image"
      ? `OpenAI ${calls[this.call]} answered without a usable image: ${this.said}`
      : this.reason === "not-audio"
      ? `OpenAI ${calls[this.call]} answered without audio: ${this.said}`
      : this.reason === "model-failed" || this.reason === "gone"
      ? `OpenAI ${calls[this.call]}${this.requestId ? ` ${this.requestId}` : ""}: ${this.reason === "gone" ? "is gone" : "failed"}: ${this.said}`
      : Failure.line("OpenAI", calls[this.call], this, label)
    switch (this.reason) {
      case "moderation":
        return `${base}. Edit the sentence, or the prompt for this shot, so it no longer trips the safety system, then build again; retrying the same words fails the same way.`
      case "unauthorized":
        return `${base} (OpenAI refused the key: check OPENAI_KEY / OPENAI_API_KEY in .env)`
      case "out-of-credit":
        return `${base} (add credit or raise the limit at https://platform.openai.com/settings/organization/billing, then build again)`
      default:
        return base
    }
  }

  get billed(): Failure.Billed {
    if (reads.has(this.call)) return "no"
    if (this.reason === "model-failed") return "maybe"
    if (this.reason === "no-answer" || this.reason === "dropped") return "maybe"
    if (this.reason === "cut-off" || this.reason === "garbled" || this.reason === "not-an-image" || this.reason === "not-audio") return "yes"
    return "no"
  }

  get worthRetrying(): boolean {
    if (reads.has(this.call)) return this.reason !== "gone" && Failure.transient.has(this.reason)
    return this.reason === "rate-limited" || this.reason === "unavailable" || this.reason === "refused"
  }


  tried(tries: number): OpenAIError {
    return new OpenAIError({ ...this, tries })
  }
}

export const fromHttp = (call: OpenAICall, failure: HttpFailure) =>
  new OpenAIError({ call, reason: failure.reason, said: failure.detail, ...(failure.status === undefined ? {} : { status: failure.status }) })

export const fromRefusal = (call: OpenAICall, refusal: Refusal) =>
  new OpenAIError({
    call,
    reason:
      refusal.code === "moderation_blocked" || (refusal.status === 400 && /moderation|safety system/i.test(refusal.said))
        ? "moderation"
        : refusal.code === "insufficient_quota" || refusal.code === "billing_hard_limit_reached"
        ? "out-of-credit"
        : Failure.reasonOfStatus(refusal.status),
    said: refusal.said,
    status: refusal.status,
    ...(refusal.code === undefined ? {} : { code: refusal.code }),
    ...(refusal.requestId === undefined ? {} : { requestId: refusal.requestId }),
    ...(refusal.retryAfterMs === undefined ? {} : { retryAfterMs: refusal.retryAfterMs })
  })
