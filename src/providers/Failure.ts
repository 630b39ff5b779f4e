/**
 * What can go wrong talking to a provider, in one vocabulary that every service's error union uses, and the
 * one-line message a person reads: the service, the call, what happened (HTTP status or network trouble),
 * how many tries, and the provider's own words. For example:
 *
 *     fal storage upload answered 429 (rate limited) after 2 tries: Rate limit reached for requests
 *
 * Each service declares its own tagged error with a `call` and a `reason` from here plus its own quirks
 * (`fal/FalError.ts`, `openai/OpenAIError.ts`, `openrouter/OpenRouterError.ts`); whether a failure is worth
 * another try is decided from tag, call and reason in one place (`Retryable.ts`), never by a flag set by hand.
 */
import { Schema } from "effect"

/** Failures every HTTP service can have. */
export const commonReasons = [
  /** The request never reached the service: connection refused, no such host, connect time-out. */
  "refused",
  /** 429: asked to slow down. Nothing was done, so nothing was billed. */
  "rate-limited",
  /** 5xx: the service failed before doing the work. */
  "unavailable",
  /** The request was sent and no answer came within the time-out: the service may be working on it. */
  "no-answer",
  /** The request was sent and the connection closed before any answer. */
  "dropped",
  /** The answer stopped before its end (fewer bytes than announced, or a silence mid-body). */
  "cut-off",
  /** The answer arrived whole but is not what the protocol says: broken JSON, a wrong shape. */
  "garbled",
  /** 4xx: the request itself is wrong (a bad parameter, an unknown model); trying again fails the same way. */
  "rejected",
  /** 401/403: the key is wrong or lacks the right. */
  "unauthorized",
  /** The answer is larger than the limit set for it. */
  "too-large"
] as const
export type CommonReason = (typeof commonReasons)[number]

/** Whether a failed call may have cost money: a paid request refused before acceptance was not billed. */
export type Billed = "no" | "maybe" | "yes"

/** The transport-level reasons that are worth another try for a call that costs nothing to repeat. */
export const transient: ReadonlySet<string> = new Set<CommonReason>([
  "refused",
  "rate-limited",
  "unavailable",
  "no-answer",
  "dropped",
  "cut-off",
  "garbled"
])

/** A status code as a reason. */
export const reasonOfStatus = (status: number): CommonReason =>
  status === 429
    ? "rate-limited"
    : status >= 500 || status === 408
    ? "unavailable"
    : status === 401 || status === 403
    ? "unauthorized"
    : "rejected"

const statusLabel: Partial<Record<string, string>> = {
  "rate-limited": "rate limited",
  unavailable: "server error",
  unauthorized: "not authorised",
  rejected: "request refused"
}

/** The fields every service error carries besides its `call` and `reason`. */
export const fields = {
  /** The provider's own words (redacted), or what we observed when it said nothing. */
  said: Schema.String,
  status: Schema.optional(Schema.Number),
  code: Schema.optional(Schema.String),
  requestId: Schema.optional(Schema.String),
  /** What the provider asked us to wait before trying again. */
  retryAfterMs: Schema.optional(Schema.Number),
  /** How many times the call was made (reads are retried in place). */
  tries: Schema.optional(Schema.Number)
}

export interface Described {
  readonly reason: string
  readonly said: string
  readonly status?: number | undefined
  readonly tries?: number | undefined
}

/** `<service> <call> answered 429 (rate limited) after 2 tries: <words>` and its siblings. */
export const line = (service: string, call: string, e: Described, label?: string): string => {
  const what =
    e.status !== undefined && e.status >= 300
      ? `answered ${e.status} (${label ?? statusLabel[e.reason] ?? e.reason.replace(/-/g, " ")})`
      : e.reason === "refused"
      ? "could not be reached"
      : e.reason === "no-answer"
      ? "sent no answer in time"
      : e.reason === "dropped"
      ? "closed the connection before answering"
      : e.reason === "cut-off"
      ? "answer was cut off"
      : e.reason === "garbled"
      ? "answer is garbled"
      : e.reason === "too-large"
      ? "answer is too large"
      : label ?? e.reason.replace(/-/g, " ")
  const tries = e.tries !== undefined && e.tries > 1 ? ` after ${e.tries} tries` : ""
  return `${service} ${call} ${what}${tries}: ${e.said}`
}

/**
 * A paid answer that arrived but cannot be used (cut off, garbled, not an image), or a paid request whose
 * answer never came: the provider billed it, or may have. It is not bought again by itself: the message
 * says what to run to pay again (`retryPaid` in the config allows one automatic re-buy, reported as repaid).
 */
export class PaidAnswerLost extends Schema.TaggedError<PaidAnswerLost>()("PaidAnswerLost", {
  service: Schema.String,
  /** The failure as its service described it. */
  failure: Schema.String,
  billed: Schema.Literal("maybe", "yes"),
  /** The command that pays for a new one. */
  rerun: Schema.String
}) {
  override get message() {
    const paid = this.billed === "yes" ? `${this.service} billed it and the answer is lost` : `${this.service} may have billed it`
    return `${this.failure} (${paid}; not bought again by itself: \`${this.rerun}\` pays for a new one, or set retryPaid: 1 to let a build re-buy once)`
  }
}

/** A provider or model that the configuration names but that storyshot does not implement. */
export class ProviderUnavailable extends Schema.TaggedError<ProviderUnavailable>()("ProviderUnavailable", {
  provider: Schema.String,
  message: Schema.String
}) {}

/** Reasons worth another automatic try of a paid request: the provider refused it before accepting it. */
export const refusedBeforeAcceptance: ReadonlySet<string> = new Set(["rate-limited", "unavailable", "refused"])

/**
 * What a failure of a paid request answered in one go (a synchronous call) means for the bill: an answer
 * that never came may have been billed; one that came damaged, or unusable, was; a refusal was not.
 */
export const billedOnce = (reason: string): Billed =>
  reason === "no-answer" || reason === "dropped"
    ? "maybe"
    : reason === "cut-off" || reason === "garbled" || reason === "not-an-image" || reason === "not-audio" || reason === "invalid-answer"
    ? "yes"
    : "no"
