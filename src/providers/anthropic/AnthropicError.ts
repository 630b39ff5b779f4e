/**
 * Everything that can go wrong with Anthropic's Messages API, as one closed union.
 *
 * Anthropic's quirks that decide what a failure means:
 * - Errors are `{"type": "error", "error": {"type": "<error type>", "message": "..."}, "request_id"}`.
 * - **Out of credit is HTTP 400 `invalid_request_error`** ("Your credit balance is too low to access the
 *   Anthropic API…"), still in 2026, although a `billing_error` type exists: the message decides, so it is
 *   not mistaken for a bad request (the words are the same on every try; only credit fixes it).
 * - 529 `overloaded_error` and 5xx were refused before any work: tried again, after `retry-after` when given.
 *   `x-should-retry: false` means the server says not to.
 * - A `refusal` stop reason is the model declining: the same text fails the same way.
 */
import { Schema } from "effect"
import * as Failure from "../Failure.ts"
import type { Refusal } from "../http/Answer.ts"
import type { HttpFailure } from "../http/Client.ts"

export const calls = { messages: "messages" } as const

export class AnthropicError extends Schema.TaggedError<AnthropicError>()("AnthropicError", {
  call: Schema.Literal("messages"),
  reason: Schema.Literal(...Failure.commonReasons, "out-of-credit", "moderation", "invalid-answer"),
  model: Schema.optional(Schema.String),
  /** `x-should-retry`, when Anthropic sent it. */
  shouldRetry: Schema.optional(Schema.Boolean),
  ...Failure.fields
}) {
  override get message(): string {
    const label = this.reason === "out-of-credit" ? "out of credit" : this.reason === "moderation" ? "refused" : undefined
    const base = this.reason === "invalid-answer"
      ? `Anthropic ${calls[this.call]}: ${this.model ?? "the model"} returned an invalid shot list after one repair turn: ${this.said}`
      : Failure.line("Anthropic", calls[this.call], this, label)
    switch (this.reason) {
      case "unauthorized":
        return `${base} (Anthropic refused the key: check ANTHROPIC_API_KEY in .env)`
      case "out-of-credit":
        return `${base} (add credit at https://console.anthropic.com/settings/billing, then build again)`
      default:
        return base
    }
  }

  get billed(): Failure.Billed {
    return Failure.billedOnce(this.reason)
  }

  get worthRetrying(): boolean {
    if (this.shouldRetry === false) return false
    return Failure.refusedBeforeAcceptance.has(this.reason)
  }

  tried(tries: number): AnthropicError {
    return new AnthropicError({ ...this, tries })
  }
}

export const fromHttp = (failure: HttpFailure, model?: string) =>
  new AnthropicError({ call: "messages", reason: failure.reason, said: failure.detail, ...(model === undefined ? {} : { model }), ...(failure.status === undefined ? {} : { status: failure.status }) })

export const fromRefusal = (refusal: Refusal, headers: Record<string, string>, model?: string) => {
  const should = headers["x-should-retry"]?.trim().toLowerCase()
  const reason: AnthropicError["reason"] =
    refusal.code === "billing_error" || refusal.status === 402 || /credit balance is too low/i.test(refusal.said)
      ? "out-of-credit"
      : refusal.code === "authentication_error" || refusal.code === "permission_error"
      ? "unauthorized"
      : refusal.code === "overloaded_error" || refusal.status === 529
      ? "unavailable"
      : Failure.reasonOfStatus(refusal.status)
  return new AnthropicError({
    call: "messages",
    reason,
    said: refusal.said,
    status: refusal.status,
    ...(model === undefined ? {} : { model }),
    ...(refusal.code === undefined ? {} : { code: refusal.code }),
    ...(refusal.requestId === undefined ? {} : { requestId: refusal.requestId }),
    ...(refusal.retryAfterMs === undefined ? {} : { retryAfterMs: refusal.retryAfterMs }),
    ...(should === "true" ? { shouldRetry: true } : should === "false" ? { shouldRetry: false } : {})
  })
}
