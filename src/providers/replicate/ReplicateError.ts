/**
 * Everything that can go wrong with Replicate's predictions API, as one closed union.
 *
 * Replicate's quirks that decide what a failure means:
 * - Errors are problem details: `{"title"?, "detail": "...", "status": n}`.
 * - **A create (POST) is retried only on 429**, as Replicate's own client does: a 5xx on create may have
 *   created the prediction (and it runs, and is billed, with nobody holding its id), so it is not sent again
 *   by itself; the message says where to look. Reads (status, files, downloads) are retried on 429 and 5xx.
 * - 402 is "Payment Required": no credit, or billing not set up.
 * - A prediction that ends `failed`, `canceled` or `aborted` (the JS client's sixth status) is the model's
 *   verdict (or someone cancelled it): not retried.
 * - Outputs are deleted an hour after the prediction ends (`data_removed: true`, `output: null`): a
 *   prediction collected later was paid for and its output is lost (reason `gone`; bought again once, and
 *   reported as repaid).
 */
import { Schema } from "effect"
import * as Failure from "../Failure.ts"
import type { Refusal } from "../http/Answer.ts"
import type { HttpFailure } from "../http/Client.ts"

export const calls = {
  create: "prediction create",
  status: "prediction status",
  cancel: "prediction cancel",
  upload: "file upload",
  download: "output download"
} as const
export type ReplicateCall = keyof typeof calls

const reads: ReadonlySet<string> = new Set(["status", "cancel", "upload", "download"])

export class ReplicateError extends Schema.TaggedError<ReplicateError>()("ReplicateError", {
  call: Schema.Literal("create", "status", "cancel", "upload", "download"),
  reason: Schema.Literal(...Failure.commonReasons, "out-of-credit", "model-failed", "gone"),
  model: Schema.optional(Schema.String),
  ...Failure.fields
}) {
  override get message(): string {
    const id = this.requestId ? ` ${this.requestId}` : ""
    if (this.reason === "model-failed") return `Replicate prediction${id} of ${this.model ?? "the model"} failed: ${this.said}`
    if (this.reason === "gone") return `Replicate prediction${id}: ${this.said}`
    const base = Failure.line("Replicate", calls[this.call], this, this.reason === "out-of-credit" ? "payment required" : undefined)
    switch (this.reason) {
      case "unauthorized":
        return `${base} (Replicate refused the token: check REPLICATE_API_TOKEN in .env)`
      case "out-of-credit":
        return `${base} (add credit at https://replicate.com/account/billing, then build again)`
      case "unavailable":
        return this.call === "create"
          ? `${base} (Replicate may have started the prediction anyway: see https://replicate.com/predictions before building again)`
          : base
      default:
        return base
    }
  }

  get billed(): Failure.Billed {
    if (reads.has(this.call)) return "no"
    if (this.reason === "model-failed") return "maybe"
    if (this.reason === "unavailable" || this.reason === "no-answer" || this.reason === "dropped" || this.reason === "cut-off" || this.reason === "garbled") return "maybe"
    return "no"
  }

  get worthRetrying(): boolean {
    if (reads.has(this.call)) return this.reason !== "gone" && Failure.transient.has(this.reason)
    return this.reason === "rate-limited" || this.reason === "refused"
  }

  tried(tries: number): ReplicateError {
    return new ReplicateError({ ...this, tries })
  }
}

export const fromHttp = (call: ReplicateCall, failure: HttpFailure, model?: string) =>
  new ReplicateError({ call, reason: failure.reason, said: failure.detail, ...(model === undefined ? {} : { model }), ...(failure.status === undefined ? {} : { status: failure.status }) })

export const fromRefusal = (call: ReplicateCall, refusal: Refusal, model?: string) =>
  new ReplicateError({
    call,
    reason: refusal.status === 402 ? "out-of-credit" : Failure.reasonOfStatus(refusal.status),
    said: refusal.said,
    status: refusal.status,
    ...(model === undefined ? {} : { model }),
    ...(refusal.code === undefined ? {} : { code: refusal.code }),
    ...(refusal.requestId === undefined ? {} : { requestId: refusal.requestId }),
    ...(refusal.retryAfterMs === undefined ? {} : { retryAfterMs: refusal.retryAfterMs })
  })
