/**
 * OpenRouter chat completions, used to write one still-image prompt per shot.
 *
 * Surprises:
 * - An error can arrive as HTTP 200 with `error: {code, message, metadata}` in the body (the upstream
 *   provider failed after OpenRouter accepted the request); `code` is an HTTP-like status, so it is read as
 *   one (`OpenRouterError.ts`).
 * - Structured output is asked for with `response_format: json_schema` and `provider.require_parameters`
 *   (so OpenRouter only routes to providers that honour it), yet models still miscount or wrap JSON in
 *   fences now and then: we validate, and make ONE repair attempt that shows the model its mistake.
 * - `usage.cost` is the real charge in USD (`Cost.reported`); both attempts are paid when a repair happens.
 * - Each answer's bytes are kept in the node's journal ("answer", "repair") before they are parsed: a build
 *   that resumes after a crash uses them and pays for neither again.
 * - `/models` prices are strings, USD per token; router pseudo-models use "-1". The list is optional: it
 *   waits a few seconds at most (`Models.ts` warns and goes on).
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import * as Cost from "../../engine/Cost.ts"
import type { Json } from "../../engine/Hash.ts"
import { cameraMoves, parseShots, shotFields, shotListJsonSchema, type CameraMove, type DirectedShot, type Shot } from "../../Shot.ts"
import { refusalFrom, refusalOf } from "../http/Answer.ts"
import { Http, type Answer } from "../http/Client.ts"
import { redact } from "../http/Redact.ts"
import { finishPaid, none, type Follow } from "../Keep.ts"
import * as Reads from "../Reads.ts"
import { fromHttp, fromRefusal, OpenRouterError } from "./OpenRouterError.ts"

export const provider = "openrouter"


export { cameraMoves, parseShots, shotListJsonSchema }
export type { CameraMove, DirectedShot, Shot }

export interface ChatUsage {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly totalTokens: number
}

/** How the adapter talks to OpenRouter (from `ProviderConfig`). */
export interface OpenRouterSettings {
  readonly apiKey: string
  readonly baseUrl: string
  /** How long a chat completion may take. */
  readonly timeoutMs: number
  /** The model list is optional: this short. */
  readonly modelsTimeoutMs: number
}

export const defaultSettings = (apiKey: string, baseUrl: string): OpenRouterSettings => ({
  apiKey,
  baseUrl,
  timeoutMs: 120_000,
  modelsTimeoutMs: 3_000
})

export interface ShotListRequest {
  readonly model: string
  readonly system: string
  readonly user: string
  readonly count: number
  /** The story bible's names the shots may show (the schema offers only these). */
  readonly names?: { readonly cast?: ReadonlyArray<string>; readonly places?: ReadonlyArray<string> } | undefined
  /** Sent as `HTTP-Referer` (OpenRouter's app attribution). */
  readonly referer?: string
  /** Sent as `X-Title`. */
  readonly title?: string
}

export interface ShotList {
  readonly shots: ReadonlyArray<DirectedShot>
  /** The generation id of the answer that was used. */
  readonly requestId?: string | undefined
  /** Both attempts when a repair happened; unknown if any attempt did not report its cost. */
  readonly cost: Cost.Cost
  readonly usage: ChatUsage
  /** 1, or 2 when the repair attempt was needed. */
  readonly attempts: number
  /** Answers an earlier run received and kept were used (nothing new was paid for them). */
  readonly resumed: boolean
}

export interface ModelInfo {
  readonly id: string
  /** USD per token. */
  readonly pricing: { readonly prompt: number; readonly completion: number }
  readonly contextLength: number | undefined
  readonly supportedParameters: ReadonlyArray<string>
}

// ---------------------------------------------------------------------------------------------------------
// One chat completion

const Usage = Schema.Struct({
  prompt_tokens: Schema.Number,
  completion_tokens: Schema.Number,
  total_tokens: Schema.optional(Schema.Number),
  cost: Schema.optional(Schema.NullOr(Schema.Number))
})

const ChatAnswer = Schema.Struct({
  id: Schema.optional(Schema.String),
  choices: Schema.Array(
    Schema.Struct({
      message: Schema.optional(Schema.NullOr(Schema.Struct({
        content: Schema.optional(Schema.NullOr(Schema.String)),
        refusal: Schema.optional(Schema.NullOr(Schema.String))
      }))),
      finish_reason: Schema.optional(Schema.NullOr(Schema.String)),
      error: Schema.optional(Schema.Unknown)
    })
  ),
  usage: Schema.optional(Schema.NullOr(Usage))
})

interface Message {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
}

interface Attempt {
  readonly content: string
  readonly requestId: string | undefined
  readonly usage: ChatUsage
  readonly costUsd: number | undefined
}

const statusOf = (error: unknown): number => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined
  const n = typeof code === "number" ? code : typeof code === "string" ? Number(code) : NaN
  // A code that is not a status (e.g. "server_error") is treated as an upstream failure.
  return Number.isInteger(n) && n >= 400 && n < 600 ? n : 502
}

const headersFor = (apiKey: string, referer?: string, title?: string): Record<string, string> => ({
  authorization: `Bearer ${apiKey}`,
  ...(referer === undefined ? {} : { "http-referer": referer }),
  ...(title === undefined ? {} : { "x-title": title })
})

const said = (settings: OpenRouterSettings, error: OpenRouterError) =>
  new OpenRouterError({ ...error, said: redact(error.said, [settings.apiKey]) })

/** A chat answer's bytes as an attempt, or the error it carries (inside the 200) or is. */
const attemptOf = (settings: OpenRouterSettings, bytes: Uint8Array, headers: Record<string, string>) =>
  Effect.gen(function*() {
    const headerId = headers["x-request-id"]
    const ids = headerId === undefined ? {} : { requestId: headerId }
    let body: unknown
    try {
      body = JSON.parse(Buffer.from(bytes).toString("utf8"))
    } catch {
      return yield* new OpenRouterError({ call: "chat", reason: "garbled", said: `broken JSON (${bytes.length} bytes)`, status: 200, ...ids })
    }
    if (typeof body === "object" && body !== null && "error" in body && (body as { error: unknown }).error != null) {
      const inner = (body as { error: unknown }).error
      return yield* said(settings, fromRefusal("chat", refusalFrom(statusOf(inner), headers, body)))
    }
    const answer = yield* Schema.decodeUnknown(ChatAnswer)(body, { onExcessProperty: "ignore" }).pipe(
      Effect.mapError((e) =>
        new OpenRouterError({ call: "chat", reason: "garbled", said: `unexpected answer: ${ParseResult.TreeFormatter.formatErrorSync(e)}`, status: 200, ...ids })
      )
    )
    const requestId = answer.id ?? headerId
    const choice = answer.choices[0]
    if (choice?.error !== undefined && choice.error !== null) {
      return yield* said(settings, fromRefusal("chat", refusalFrom(statusOf(choice.error), headers, { error: choice.error })))
    }
    const usage: ChatUsage = {
      promptTokens: answer.usage?.prompt_tokens ?? 0,
      completionTokens: answer.usage?.completion_tokens ?? 0,
      totalTokens: answer.usage?.total_tokens ?? (answer.usage ? answer.usage.prompt_tokens + answer.usage.completion_tokens : 0)
    }
    const costUsd = answer.usage?.cost ?? undefined
    const refusal = choice?.message?.refusal
    const content = choice?.message?.content ?? (typeof refusal === "string" ? refusal : "")
    const attempt: Attempt = { content, requestId, usage, costUsd }
    return attempt
  })

/** What one structured completion asks: the messages, and the JSON schema the answer must follow. */
export interface StructuredRequest<A> {
  readonly model: string
  readonly system: string
  readonly user: string
  /** `json_schema.name`, e.g. "shot_list", "story_bible". */
  readonly schemaName: string
  readonly schema: unknown
  /** Checks the answer's content; Left is a reason short enough to show the model and a person. */
  readonly parse: (content: string) => Either.Either<A, string>
  /** What the one repair attempt asks for after an invalid answer, given the reason. */
  readonly repair: (reason: string) => string
  /** What a Ctrl-C waits for ("shot list", "story bible"). */
  readonly what: string
  readonly referer?: string
  readonly title?: string
}

export interface Structured<A> {
  readonly value: A
  readonly requestId?: string | undefined
  readonly cost: Cost.Cost
  readonly usage: ChatUsage
  readonly attempts: number
  readonly resumed: boolean
}

/** One paid completion; its bytes go to the journal under `name` before they are parsed. */
const complete = Effect.fn("OpenRouter.complete")(function*(
  settings: OpenRouterSettings,
  req: StructuredRequest<unknown>,
  messages: ReadonlyArray<Message>,
  follow: Follow,
  name: "answer" | "repair"
) {
  const http = yield* Http
  const keep = (answer: Answer) =>
    follow.journal.keep(name, answer.body, "json", { [`${name}Headers`]: { "x-request-id": answer.headers["x-request-id"] ?? null } }).pipe(Effect.ignore)
  const res = yield* finishPaid(
    http.request(provider, {
      method: "POST",
      url: `${settings.baseUrl.replace(/\/+$/, "")}/chat/completions`,
      headers: headersFor(settings.apiKey, req.referer, req.title),
      json: {
        model: req.model,
        messages,
        response_format: {
          type: "json_schema",
          json_schema: { name: req.schemaName, strict: true, schema: req.schema }
        },
        provider: { require_parameters: true },
        usage: { include: true }
      },
      answerTimeoutMs: settings.timeoutMs,
      keep
    }),
    follow.onWaiting?.(req.what) ?? Effect.void
  ).pipe(Effect.mapError((f) => fromHttp("chat", f)))
  const refusal = refusalOf(res)
  if (refusal !== undefined) return yield* said(settings, fromRefusal("chat", refusal))
  return yield* attemptOf(settings, res.body, res.headers)
})

/** The kept answer `name` as an attempt; an error the provider sent inside its 200 was not billed and is dropped. */
const keptAttempt = (settings: OpenRouterSettings, follow: Follow, name: "answer" | "repair") =>
  Effect.gen(function*() {
    const kept = yield* follow.journal.read
    const bytes = kept.answer(name)
    if (bytes === undefined) return undefined
    const headers = kept.notes[`${name}Headers`]
    const h = typeof headers === "object" && headers !== null && !Array.isArray(headers) ? headers as { [k: string]: Json } : {}
    const attempt = yield* attemptOf(settings, bytes, typeof h["x-request-id"] === "string" ? { "x-request-id": h["x-request-id"] } : {}).pipe(Effect.either)
    if (attempt._tag === "Right") return attempt.right
    if (attempt.left.billed === "no") {
      yield* follow.journal.drop([name])
      return undefined
    }
    return yield* attempt.left
  })

/**
 * One structured answer (a shot list, a story bible): the schema is sent as `response_format`, the answer
 * checked with `parse`, and ONE repair attempt shows the model its mistake. No retries (the scheduler's job).
 */
export const structured = <A>(settings: OpenRouterSettings, req: StructuredRequest<A>, follow: Follow = { journal: none }) =>
  Effect.gen(function*() {
    const messages: ReadonlyArray<Message> = [
      { role: "system", content: req.system },
      { role: "user", content: req.user }
    ]
    const keptFirst = yield* keptAttempt(settings, follow, "answer")
    const first = keptFirst ?? (yield* complete(settings, req, messages, follow, "answer"))
    let resumed = keptFirst !== undefined
    const attempts: Array<Attempt> = [first]
    let parsed = req.parse(first.content)
    if (Either.isLeft(parsed)) {
      const repair: ReadonlyArray<Message> = [
        ...messages,
        { role: "assistant", content: first.content },
        { role: "user", content: req.repair(parsed.left) }
      ]
      const keptSecond = yield* keptAttempt(settings, follow, "repair")
      const second = keptSecond ?? (yield* complete(settings, req, repair, follow, "repair"))
      resumed = resumed && keptSecond !== undefined
      attempts.push(second)
      parsed = req.parse(second.content)
    }
    const last = attempts[attempts.length - 1]!
    if (Either.isLeft(parsed)) {
      return yield* new OpenRouterError({
        call: "chat",
        reason: "invalid-answer",
        said: parsed.left,
        model: req.model,
        ...(last.requestId === undefined ? {} : { requestId: last.requestId })
      })
    }
    const costs = attempts.map((a) => a.costUsd)
    const cost = costs.every((c): c is number => typeof c === "number")
      ? Cost.reported(costs.reduce((a, b) => a + b, 0))
      : Cost.unknown
    const usage: ChatUsage = {
      promptTokens: attempts.reduce((n, a) => n + a.usage.promptTokens, 0),
      completionTokens: attempts.reduce((n, a) => n + a.usage.completionTokens, 0),
      totalTokens: attempts.reduce((n, a) => n + a.usage.totalTokens, 0)
    }
    const result: Structured<A> = { value: parsed.right, requestId: last.requestId, cost, usage, attempts: attempts.length, resumed }
    return result
  }).pipe(Effect.withSpan("OpenRouter.structured", { attributes: { schema: req.schemaName } }))

/** Asks `model` for exactly `count` shots. One repair attempt on invalid output; no retries (the scheduler's job). */
export const shotList = Effect.fn("OpenRouter.shotList")(function*(settings: OpenRouterSettings, req: ShotListRequest, follow: Follow = { journal: none }) {
  if (!Number.isInteger(req.count) || req.count < 1) {
    return yield* Effect.die(new Error(`shotList needs a positive whole number of shots, got ${req.count}`))
  }
  const answer = yield* structured(settings, {
    model: req.model,
    system: req.system,
    user: req.user,
    schemaName: "shot_list",
    schema: shotListJsonSchema(req.count, req.names ?? {}),
    parse: (content) => parseShots(content, req.count),
    repair: (reason) =>
      `That answer is not a valid shot list: ${reason}. Reply with only the JSON object ` +
      `{"shots": [...]} holding exactly ${req.count} shot${req.count === 1 ? "" : "s"}, each with ${shotFields}.`,
    what: "shot list",
    ...(req.referer === undefined ? {} : { referer: req.referer }),
    ...(req.title === undefined ? {} : { title: req.title })
  }, follow)
  const result: ShotList = { shots: answer.value, requestId: answer.requestId, cost: answer.cost, usage: answer.usage, attempts: answer.attempts, resumed: answer.resumed }
  return result
})

// ---------------------------------------------------------------------------------------------------------
// Models and prices

const Price = Schema.Union(Schema.String, Schema.Number)

const ModelsAnswer = Schema.Struct({
  data: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      pricing: Schema.Struct({ prompt: Price, completion: Price }),
      context_length: Schema.optional(Schema.NullOr(Schema.Number)),
      supported_parameters: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
    })
  )
})

/** `GET {baseUrl}/models`: ids, per-token prices and what each model supports. Optional: a few seconds at most. */
export const listModels = Effect.fn("OpenRouter.listModels")(function*(settings: OpenRouterSettings, policy: Reads.ReadPolicy = Reads.optionalPolicy) {
  const http = yield* Http
  return yield* Reads.retrying(
    Effect.gen(function*() {
      const res = yield* http.request(provider, {
        method: "GET",
        url: `${settings.baseUrl.replace(/\/+$/, "")}/models`,
        headers: headersFor(settings.apiKey),
        answerTimeoutMs: settings.modelsTimeoutMs
      }).pipe(Effect.mapError((f) => fromHttp("models", f)))
      const refusal = refusalOf(res)
      if (refusal !== undefined) return yield* said(settings, fromRefusal("models", refusal))
      const body = yield* res.json().pipe(Effect.mapError((f) => fromHttp("models", f)))
      const answer = yield* Schema.decodeUnknown(ModelsAnswer)(body, { onExcessProperty: "ignore" }).pipe(
        Effect.mapError((e) =>
          new OpenRouterError({ call: "models", reason: "garbled", said: `unexpected model list: ${ParseResult.TreeFormatter.formatErrorSync(e)}` })
        )
      )
      const models: ReadonlyArray<ModelInfo> = answer.data.map((m) => ({
        id: m.id,
        pricing: { prompt: Number(m.pricing.prompt), completion: Number(m.pricing.completion) },
        contextLength: m.context_length ?? undefined,
        supportedParameters: m.supported_parameters ?? []
      }))
      return models
    }),
    policy,
    (e) => e.worthRetrying
  )
})

/** A dry-run estimate from the model list's prices; unknown when the model or its price is not known. */
export const estimateCost = (
  model: string,
  models: ReadonlyArray<ModelInfo>,
  promptTokens: number,
  completionTokens: number
): Cost.Cost => {
  const info = models.find((m) => m.id === model)
  if (info === undefined) return Cost.unknown
  const { prompt, completion } = info.pricing
  // Router pseudo-models ("openrouter/auto") price at -1: the real price depends on where it routes.
  if (!(Number.isFinite(prompt) && Number.isFinite(completion) && prompt >= 0 && completion >= 0)) return Cost.unknown
  return Cost.fromTable(prompt * promptTokens + completion * completionTokens)
}
