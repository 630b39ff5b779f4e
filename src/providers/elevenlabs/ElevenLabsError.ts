/**
 * Everything that can go wrong with ElevenLabs' text-to-speech, as one closed union.
 *
 * ElevenLabs' quirks that decide what a failure means:
 * - Its errors are `{"detail": {"status": "<code>", "message": "<words>"}}` (FastAPI; validation errors are
 *   `{"detail": [{loc, msg, type}]}`), so the words and the code come from `detail`, not `error`.
 * - **Out of quota is HTTP 401**, the same status as a wrong key: `detail.status` tells them apart
 *   (`quota_exceeded` vs `invalid_api_key`). A person told "check ELEVENLABS_API_KEY" when the key is fine
 *   but the credits are spent would look in the wrong place.
 * - 429 (`too_many_concurrent_requests`, `system_busy`) and 5xx were refused before any speech was made: not
 *   billed, tried again. An answer that never came, or came cut off, may have been (characters are counted
 *   when the audio is made).
 */
import { Schema } from "effect"
import * as Failure from "../Failure.ts"
import type { HttpFailure } from "../http/Client.ts"

export const calls = { speech: "text-to-speech" } as const
export type ElevenLabsCall = keyof typeof calls

export class ElevenLabsError extends Schema.TaggedError<ElevenLabsError>()("ElevenLabsError", {
  call: Schema.Literal("speech"),
  reason: Schema.Literal(
    ...Failure.commonReasons,
    /** The account's character quota is spent (a 401 with `detail.status: quota_exceeded`). */
    "out-of-credit",
    /** The text was refused by ElevenLabs' content rules. */
    "moderation",
    /** A 200 that holds no audio. */
    "not-audio"
  ),
  ...Failure.fields
}) {
  override get message(): string {
    const label = this.reason === "out-of-credit" ? "out of credit" : this.reason === "moderation" ? "refused by ElevenLabs' content rules" : undefined
    const base = this.reason === "not-audio"
      ? `ElevenLabs ${calls[this.call]} answered without audio: ${this.said}`
      : Failure.line("ElevenLabs", calls[this.call], this, label)
    switch (this.reason) {
      case "unauthorized":
        return `${base} (ElevenLabs refused the key: check ELEVENLABS_API_KEY in .env)`
      case "out-of-credit":
        return `${base} (the key is fine; add characters at https://elevenlabs.io/app/subscription, then build again)`
      case "moderation":
        return `${base}. Edit the sentence, then build again; the same words fail the same way.`
      default:
        return base
    }
  }

  get billed(): Failure.Billed {
    return Failure.billedOnce(this.reason)
  }

  get worthRetrying(): boolean {
    return Failure.refusedBeforeAcceptance.has(this.reason)
  }

  tried(tries: number): ElevenLabsError {
    return new ElevenLabsError({ ...this, tries })
  }
}

export const fromHttp = (failure: HttpFailure) =>
  new ElevenLabsError({ call: "speech", reason: failure.reason, said: failure.detail, ...(failure.status === undefined ? {} : { status: failure.status }) })

/** The words and code of an ElevenLabs error body. */
export const wordsOf = (body: unknown): { said: string | undefined; code: string | undefined } => {
  const detail = typeof body === "object" && body !== null ? (body as { detail?: unknown }).detail : undefined
  if (typeof detail === "string") return { said: detail, code: undefined }
  if (Array.isArray(detail)) {
    const parts = detail.map((d) => {
      const r = (typeof d === "object" && d !== null ? d : {}) as { loc?: unknown; msg?: unknown }
      const loc = Array.isArray(r.loc) ? r.loc.filter((x) => x !== "body").join(".") : ""
      return `${loc ? `${loc}: ` : ""}${typeof r.msg === "string" ? r.msg : JSON.stringify(d)}`
    })
    return { said: parts.join("; "), code: "validation_error" }
  }
  if (typeof detail === "object" && detail !== null) {
    const d = detail as { status?: unknown; message?: unknown }
    return { said: typeof d.message === "string" ? d.message : undefined, code: typeof d.status === "string" ? d.status : undefined }
  }
  return { said: undefined, code: undefined }
}

export const fromAnswer = (status: number, body: unknown, text: string, retryAfterMs: number | undefined, requestId: string | undefined) => {
  const { said, code } = wordsOf(body)
  const reason: ElevenLabsError["reason"] =
    code === "quota_exceeded" || status === 402
      ? "out-of-credit"
      : code !== undefined && /moderat|policy|safety|terms_of_service/i.test(code)
      ? "moderation"
      : Failure.reasonOfStatus(status)
  return new ElevenLabsError({
    call: "speech",
    reason,
    said: said ?? (text.trim() || `HTTP ${status} with no explanation`),
    status,
    ...(code === undefined ? {} : { code }),
    ...(requestId === undefined ? {} : { requestId }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs })
  })
}
