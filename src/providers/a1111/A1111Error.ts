/**
 * Everything that can go wrong with a self-hosted AUTOMATIC1111 / Forge server, as one closed union.
 *
 * The server's quirks: its middleware turns every exception into `{"error": "<ExceptionClass>", "detail":
 * "<words>", "body": "", "errors": "<str(e)>"}` with the exception's status (an unknown sampler is a 404
 * "Sampler not found", a CUDA out-of-memory a 500 with torch's words in `errors`); request validation is
 * FastAPI's 422 `{"detail": [{loc, msg, type}]}`; `--api-auth` answers 401 "Incorrect username or password".
 * Nothing is billed: whatever went wrong in passing (a refused connection while it starts, a 5xx, a time-out
 * on a busy GPU) is worth another try; the server's verdict (404, 422, 401) is not.
 */
import { Schema } from "effect"
import * as Failure from "../Failure.ts"
import type { HttpFailure } from "../http/Client.ts"

export class A1111Error extends Schema.TaggedError<A1111Error>()("A1111Error", {
  call: Schema.Literal("txt2img"),
  reason: Schema.Literal(...Failure.commonReasons, "not-an-image"),
  server: Schema.String,
  ...Failure.fields
}) {
  override get message(): string {
    const who = `AUTOMATIC1111 server ${this.server}`
    if (this.reason === "not-an-image") return `${who} txt2img answered without a usable image: ${this.said}`
    const base = Failure.line(who, "txt2img", this)
    if (this.reason === "refused") return `${base} (start it with --api, or set A1111_BASE_URL)`
    if (this.reason === "unauthorized") return `${base} (the server refused the credentials: check A1111_AUTH=user:password in .env)`
    return base
  }

  get billed(): Failure.Billed {
    return "no"
  }

  get worthRetrying(): boolean {
    return Failure.transient.has(this.reason)
  }

  tried(tries: number): A1111Error {
    return new A1111Error({ ...this, tries })
  }
}

export const fromHttp = (server: string, failure: HttpFailure) =>
  new A1111Error({ call: "txt2img", server, reason: failure.reason, said: failure.detail, ...(failure.status === undefined ? {} : { status: failure.status }) })

/** The server's words: `detail` (its own or FastAPI's list), and torch's in `errors` when it says more. */
export const fromAnswer = (server: string, status: number, body: unknown, text: string) => {
  const b = (typeof body === "object" && body !== null ? body : {}) as { detail?: unknown; errors?: unknown; error?: unknown }
  const detail = typeof b.detail === "string"
    ? b.detail
    : Array.isArray(b.detail)
    ? b.detail.map((d) => {
      const r = (d ?? {}) as { loc?: unknown; msg?: unknown }
      return `${Array.isArray(r.loc) ? `${r.loc.filter((x) => x !== "body").join(".")}: ` : ""}${String(r.msg ?? JSON.stringify(d))}`
    }).join("; ")
    : undefined
  const errors = typeof b.errors === "string" && b.errors.trim() !== "" && b.errors !== detail ? b.errors : undefined
  const said = [detail, errors].filter((x) => x !== undefined).join(": ") || text.trim().slice(0, 500) || `HTTP ${status} with no explanation`
  return new A1111Error({
    call: "txt2img",
    server,
    reason: Failure.reasonOfStatus(status),
    said,
    status,
    ...(typeof b.error === "string" ? { code: b.error } : {})
  })
}
