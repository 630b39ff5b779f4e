/**
 * Everything that can go wrong with OpenRouter, as one closed union.
 *
 * OpenRouter's quirks that decide what a failure means:
 * - An error can arrive as HTTP 200 with `error: {code, message}` in the body (the upstream provider failed
 *   after OpenRouter accepted the request); `code` is an HTTP-like status and is read as one. OpenRouter does
 *   not bill a generation that failed.
 * - 402 is out of credit: waiting does not help.
 * - A 200 that is cut off or garbled, or a shot list still invalid after the one repair attempt, was billed.
 * - The model list is optional: its failures are warnings (the caller decides), never a failed build.
 */
import { Schema } from "effect"
import * as Failure from "../Failure.ts"
import type { Refusal } from "../http/Answer.ts"
import type { HttpFailure } from "../http/Client.ts"

export const calls = { chat: "chat completion", models: "model list" } as const
export type OpenRouterCall = keyof typeof calls

export class OpenRouterError extends Schema.TaggedError<OpenRouterError>()("OpenRouterError", {
  call: Schema.Literal("chat", "models"),
  reason: Schema.Literal(
    ...Failure.commonReasons,
    "out-of-credit",
    /** The model's answer is not a valid shot list, even after one repair attempt. */
    "invalid-answer"
  ),
  model: Schema.optional(Schema.String),
  ...Failure.fields
}) {
  override get message(): string {
    const base = this.reason === "invalid-answer"
      ? `OpenRouter ${calls[this.call]}: model returned an invalid shot list: ${this.said}`
      : Failure.line("OpenRouter", calls[this.call], this, this.reason === "out-of-credit" ? "out of credit" : undefined)
    switch (this.reason) {
      case "out-of-credit":
        return `${base} Add credit at https://openrouter.ai/settings/credits, then build again.`
      case "unauthorized":
        return `${base} (check OPENROUTER_KEY in .env)`
      case "invalid-answer":
        return `${base} (model ${this.model ?? "?"}, after one repair attempt; try another OPENROUTER_MODEL that supports structured outputs)`
      default:
        return base
    }
  }

  get billed(): Failure.Billed {
    if (this.call === "models") return "no"
    if (this.reason === "no-answer" || this.reason === "dropped") return "maybe"
    if (this.reason === "cut-off" || this.reason === "garbled" || this.reason === "invalid-answer") return "yes"
    return "no"
  }

  get worthRetrying(): boolean {
    if (this.call === "models") return Failure.transient.has(this.reason)
    return this.reason === "rate-limited" || this.reason === "unavailable" || this.reason === "refused"
  }


  tried(tries: number): OpenRouterError {
    return new OpenRouterError({ ...this, tries })
  }
}

export const fromHttp = (call: OpenRouterCall, failure: HttpFailure) =>
  new OpenRouterError({ call, reason: failure.reason, said: failure.detail, ...(failure.status === undefined ? {} : { status: failure.status }) })

export const fromRefusal = (call: OpenRouterCall, refusal: Refusal) =>
  new OpenRouterError({
    call,
    reason: refusal.status === 402 ? "out-of-credit" : Failure.reasonOfStatus(refusal.status),
    said: refusal.said,
    status: refusal.status,
    ...(refusal.code === undefined ? {} : { code: refusal.code }),
    ...(refusal.requestId === undefined ? {} : { requestId: refusal.requestId }),
    ...(refusal.retryAfterMs === undefined ? {} : { retryAfterMs: refusal.retryAfterMs })
  })
