/**
 * Everything that can go wrong with an OpenAI-compatible chat server (OpenAI itself, llama.cpp's
 * llama-server, Ollama, LM Studio, a gateway), as one closed union.
 *
 * What decides a failure's meaning:
 * - Errors come as `{error: {message, type, code}}` (OpenAI; llama.cpp puts the HTTP status in `code` and a
 *   type such as `exceed_context_size_error`); a gateway may send one inside an HTTP 200.
 * - OpenAI's "out of money" is a 429 `insufficient_quota`: waiting does not help, so it is not a rate limit.
 * - A server that is loading its model answers 503 (llama.cpp `unavailable_error`): tried again.
 * - A local server costs nothing: whatever it did is free to ask again (`local`), so a lost answer there is
 *   only time, never money.
 */
import { Schema } from "effect"
import * as Failure from "../Failure.ts"
import type { Refusal } from "../http/Answer.ts"
import type { HttpFailure } from "../http/Client.ts"

export const calls = { chat: "chat completion" } as const

export class ChatError extends Schema.TaggedError<ChatError>()("ChatError", {
  call: Schema.Literal("chat"),
  reason: Schema.Literal(
    ...Failure.commonReasons,
    "out-of-credit",
    /** The model refused to answer (OpenAI's `message.refusal`). */
    "moderation",
    /** Not a valid shot list, even after one repair turn. */
    "invalid-answer"
  ),
  /** The server's base URL, as the person configured it (no key in it). */
  server: Schema.String,
  model: Schema.optional(Schema.String),
  /** A server on this machine or this network: nothing it does is billed. */
  local: Schema.Boolean,
  ...Failure.fields
}) {
  override get message(): string {
    const who = `chat server ${this.server}`
    const label = this.reason === "out-of-credit" ? "out of credit" : this.reason === "moderation" ? "refused" : undefined
    const base = this.reason === "invalid-answer"
      ? `${who} ${calls[this.call]}: model ${this.model ?? "?"} returned an invalid shot list after one repair turn: ${this.said}`
      : Failure.line(who, calls[this.call], this, label)
    switch (this.reason) {
      case "unauthorized":
        return `${base} (${who} refused the key: check CHAT_API_KEY in .env)`
      case "out-of-credit":
        return `${base} (add credit with the server's provider, then build again)`
      case "invalid-answer":
        return `${base} (try CHAT_STRUCTURED=json_schema, or a model that follows JSON schemas)`
      case "refused":
        return this.local ? `${base} (is the server running? start it, or set CHAT_BASE_URL)` : base
      default:
        return base
    }
  }

  get billed(): Failure.Billed {
    return this.local ? "no" : Failure.billedOnce(this.reason)
  }

  get worthRetrying(): boolean {
    if (this.local) return Failure.transient.has(this.reason)
    return Failure.refusedBeforeAcceptance.has(this.reason)
  }

  tried(tries: number): ChatError {
    return new ChatError({ ...this, tries })
  }
}

export interface Where {
  readonly server: string
  readonly local: boolean
  readonly model?: string
}

export const fromHttp = (where: Where, failure: HttpFailure) =>
  new ChatError({ call: "chat", ...where, reason: failure.reason, said: failure.detail, ...(failure.status === undefined ? {} : { status: failure.status }) })

export const fromRefusal = (where: Where, refusal: Refusal) =>
  new ChatError({
    call: "chat",
    ...where,
    reason:
      refusal.status === 402 || refusal.code === "insufficient_quota" || refusal.code === "billing_hard_limit_reached"
        ? "out-of-credit"
        : Failure.reasonOfStatus(refusal.status),
    said: refusal.said,
    status: refusal.status,
    ...(refusal.code === undefined ? {} : { code: refusal.code }),
    ...(refusal.requestId === undefined ? {} : { requestId: refusal.requestId }),
    ...(refusal.retryAfterMs === undefined ? {} : { retryAfterMs: refusal.retryAfterMs })
  })
