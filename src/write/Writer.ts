/**
 * The writer model behind `storyshot write`: one chat completion that answers with a narration script.
 * `write` sees only this small interface, so the model's provider can change without touching the command.
 *
 * The implementation here is the prompts provider's endpoint: OpenRouter's chat completions (DESIGN.md), or
 * any OpenAI-compatible endpoint at `OPENROUTER_BASE_URL`. The request holds only the standard fields (model,
 * messages, max_tokens); OpenRouter's own `usage: {include: true}` is added only when the host is OpenRouter,
 * since an OpenAI-compatible server may refuse a field it does not know.
 *
 * It speaks through the prompts adapter's parts: the shared HTTP client (`http/Client.ts`: connect, answer
 * and idle time-outs, redaction, the io log) and OpenRouter's error union (`OpenRouterError.ts`: reason,
 * whether it was billed, its one-line message).
 *
 * Surprises (the same as the prompts adapter, src/providers/openrouter/OpenRouter.ts):
 * - An error can arrive as HTTP 200 with `error: {code, message}` in the body; `code` is an HTTP-like status.
 * - 402 means the account is out of credit: permanent, and the message says where to add credit.
 * - `usage.cost` (USD) is the real charge when the endpoint reports it; otherwise the cost is priced from the
 *   model list, or unknown (never $0).
 * - A call refused before it was accepted (429, 5xx, connection refused) cannot have been billed: it is tried
 *   again (twice at most, honouring `Retry-After`). Nothing else is retried: one that got no answer, or half
 *   of one, may have been billed, and the person decides whether to pay again.
 * - The request and the answer are logged in full by `Http` (keys redacted) before the answer is read.
 */
import { Context, Duration, Effect, Layer, ParseResult, Schema } from "effect"
import { refusalFrom, refusalOf } from "../providers/http/Answer.ts"
import { Http } from "../providers/http/Client.ts"
import { redact } from "../providers/http/Redact.ts"
import { fromHttp, fromRefusal, OpenRouterError } from "../providers/openrouter/OpenRouterError.ts"
import { WriteError } from "./Errors.ts"

export interface ScriptRequest {
  readonly system: string
  readonly user: string
  readonly maxTokens: number
}

export interface ScriptAnswer {
  readonly text: string
  readonly requestId: string | undefined
  readonly promptTokens: number
  readonly completionTokens: number
  /** `usage.cost` when the endpoint reports it (USD). */
  readonly reportedUsd: number | undefined
  readonly finishReason: string | undefined
  readonly startedAt: number
  readonly endedAt: number
  /** 1, or more when a 429 was tried again (those were refused, not billed). */
  readonly attempts: number
}

export interface WriterService {
  /** For the io log, run records and messages: "openrouter". */
  readonly provider: string
  readonly model: string
  readonly write: (req: ScriptRequest) => Effect.Effect<ScriptAnswer, WriteError>
}

export class ScriptWriter extends Context.Tag("storyshot/ScriptWriter")<ScriptWriter, WriterService>() {
  /** OpenRouter, or an OpenAI-compatible endpoint at `baseUrl`. */
  static readonly layerOpenRouter = (settings: WriterSettings): Layer.Layer<ScriptWriter, never, Http> =>
    Layer.effect(this, Effect.map(Http, (http) => openRouterWriter(settings, http)))
}

export interface WriterSettings {
  readonly baseUrl: string
  readonly apiKey: string
  readonly model: string
  /** How long the answer may take. */
  readonly timeoutMs: number
  /** First wait before a 429 is tried again, when the server names none. */
  readonly retryBaseMs?: number | undefined
}

export const provider = "openrouter"

const Answer = Schema.Struct({
  id: Schema.optional(Schema.String),
  choices: Schema.Array(
    Schema.Struct({
      message: Schema.optional(
        Schema.NullOr(Schema.Struct({ content: Schema.optional(Schema.NullOr(Schema.String)), refusal: Schema.optional(Schema.NullOr(Schema.String)) }))
      ),
      finish_reason: Schema.optional(Schema.NullOr(Schema.String)),
      error: Schema.optional(Schema.Unknown)
    })
  ),
  usage: Schema.optional(
    Schema.NullOr(
      Schema.Struct({
        prompt_tokens: Schema.optional(Schema.Number),
        completion_tokens: Schema.optional(Schema.Number),
        cost: Schema.optional(Schema.NullOr(Schema.Number))
      })
    )
  )
})

const isOpenRouter = (baseUrl: string): boolean => {
  try {
    return /(^|\.)openrouter\.ai$/i.test(new URL(baseUrl).hostname)
  } catch {
    return false
  }
}

const statusOf = (error: unknown): number => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined
  const n = typeof code === "number" ? code : typeof code === "string" ? Number(code) : NaN
  return Number.isInteger(n) && n >= 400 && n < 600 ? n : 502
}

/** The provider's failure in words a person acts on; the key never appears. */
const failure = (settings: WriterSettings, error: OpenRouterError): WriteError => {
  const said = redact(error.said, [settings.apiKey])
  const status = error.status === undefined ? "" : `HTTP ${error.status}: `
  const where = `the writer model (${settings.model} at ${settings.baseUrl})`
  if (error.reason === "out-of-credit")
    return new WriteError({ reason: "writer", message: `${where} says the account is out of credit (${said}): add credit at https://openrouter.ai/settings/credits, then run again` })
  if (error.reason === "unauthorized")
    return new WriteError({ reason: "writer", message: `${where} refused the key (${status}${said}): check OPENROUTER_KEY in .env` })
  if (error.reason === "rejected")
    return new WriteError({ reason: "writer", message: `${where} refused the request (${status}${said}): check OPENROUTER_MODEL (storyshot models lists them)` })
  // No answer, or half of one: the request may have reached the model, and been billed.
  const maybeBilled = error.billed !== "no"
  return new WriteError({
    reason: "writer",
    message: `${where} failed: ${status}${said}${maybeBilled ? "; it may have been billed (check your provider's activity page before running again)" : ""}`
  })
}

const openRouterWriter = (settings: WriterSettings, http: Http["Type"]): WriterService => {
  const url = `${settings.baseUrl.replace(/\/+$/, "")}/chat/completions`
  const once = (req: ScriptRequest) =>
    Effect.gen(function* () {
      const startedAt = Date.now()
      const res = yield* http
        .request(provider, {
          method: "POST",
          url,
          headers: { authorization: `Bearer ${settings.apiKey}`, "x-title": "storyshot write" },
          json: {
            model: settings.model,
            messages: [
              { role: "system", content: req.system },
              { role: "user", content: req.user }
            ],
            max_tokens: req.maxTokens,
            ...(isOpenRouter(settings.baseUrl) ? { usage: { include: true } } : {})
          },
          answerTimeoutMs: settings.timeoutMs
        })
        .pipe(Effect.mapError((f) => fromHttp("chat", f)))
      const endedAt = Date.now()
      const refused = refusalOf(res)
      if (refused !== undefined) return yield* fromRefusal("chat", refused)
      const body = yield* res.json().pipe(Effect.mapError((f) => fromHttp("chat", f)))
      if (typeof body === "object" && body !== null && (body as { error?: unknown }).error != null) {
        const inner = (body as { error: unknown }).error
        return yield* fromRefusal("chat", refusalFrom(statusOf(inner), res.headers, body))
      }
      const answer = yield* Schema.decodeUnknown(Answer)(body, { onExcessProperty: "ignore" }).pipe(
        Effect.mapError((e) => new OpenRouterError({ call: "chat", reason: "garbled", said: `unexpected answer: ${ParseResult.TreeFormatter.formatErrorSync(e)}`, status: 200 }))
      )
      const choice = answer.choices[0]
      if (choice?.error != null) return yield* fromRefusal("chat", refusalFrom(statusOf(choice.error), res.headers, { error: choice.error }))
      const text = choice?.message?.content ?? ""
      if (text.trim() === "" && typeof choice?.message?.refusal === "string")
        return yield* new OpenRouterError({ call: "chat", reason: "rejected", said: `the model refused: ${choice.message.refusal}`, status: 200 })
      const result: ScriptAnswer = {
        text,
        requestId: answer.id ?? res.headers["x-request-id"],
        promptTokens: answer.usage?.prompt_tokens ?? 0,
        completionTokens: answer.usage?.completion_tokens ?? 0,
        reportedUsd: answer.usage?.cost ?? undefined,
        finishReason: choice?.finish_reason ?? undefined,
        startedAt,
        endedAt,
        attempts: 1
      }
      return result
    })
  const write = (req: ScriptRequest): Effect.Effect<ScriptAnswer, WriteError> =>
    Effect.gen(function* () {
      for (let attempt = 1; ; attempt++) {
        const result = yield* once(req).pipe(Effect.either)
        if (result._tag === "Right") return { ...result.right, attempts: attempt }
        const error = result.left
        // Only what was refused before it was accepted is tried again: nothing is paid twice behind the person's back.
        if (error.worthRetrying && error.billed === "no" && attempt < 3) {
          const waitMs = Math.min(30_000, error.retryAfterMs ?? (settings.retryBaseMs ?? 1000) * 2 ** (attempt - 1))
          yield* Effect.sleep(Duration.millis(waitMs))
          continue
        }
        return yield* failure(settings, error)
      }
    })
  return { provider, model: settings.model, write }
}
