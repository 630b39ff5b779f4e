/**
 * OpenRouter chat completions, used to write one still-image prompt per shot.
 *
 * Surprises:
 * - An error can arrive as HTTP 200 with `error: {code, message, metadata}` in the body (the upstream
 *   provider failed after OpenRouter accepted the request); `code` is an HTTP-like status, so it goes
 *   through the same classification as a real status.
 * - Structured output is asked for with `response_format: json_schema` and `provider.require_parameters`
 *   (so OpenRouter only routes to providers that honour it), yet models still miscount or wrap JSON in
 *   fences now and then: we validate, and make ONE repair attempt that shows the model its mistake.
 * - `usage.cost` is the real charge in USD (`Cost.reported`); both attempts are paid when a repair happens.
 * - 402 means the account is out of credit: permanent, and the message says so.
 * - `/models` prices are strings, USD per token; router pseudo-models use "-1".
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { ProviderError } from "../ProviderError.ts"
import { Http, classify, errorFrom, redact, type HttpResponse } from "../Http.ts"
import { cameraMoves, type CameraMove, type Shot } from "../../Shot.ts"

export const provider = "openrouter"


export { cameraMoves }
export type { CameraMove, Shot }

export interface ChatUsage {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly totalTokens: number
}

export interface ShotListRequest {
  readonly baseUrl: string
  readonly apiKey: string
  readonly model: string
  readonly system: string
  readonly user: string
  readonly count: number
  /** Sent as `HTTP-Referer` (OpenRouter's app attribution). */
  readonly referer?: string
  /** Sent as `X-Title`. */
  readonly title?: string
  readonly timeoutMs?: number
}

export interface ShotList {
  readonly shots: ReadonlyArray<Shot>
  /** The generation id of the answer that was used. */
  readonly requestId?: string | undefined
  /** Both attempts when a repair happened; unknown if any attempt did not report its cost. */
  readonly cost: Cost.Cost
  readonly usage: ChatUsage
  /** 1, or 2 when the repair attempt was needed. */
  readonly attempts: number
}

export interface ModelInfo {
  readonly id: string
  /** USD per token. */
  readonly pricing: { readonly prompt: number; readonly completion: number }
  readonly contextLength: number | undefined
  readonly supportedParameters: ReadonlyArray<string>
}

// ---------------------------------------------------------------------------------------------------------
// The shot list: the JSON schema sent to the model and the Schema that checks its answer

/** The JSON schema for `response_format`; it pins the number of shots. */
export const shotListJsonSchema = (count: number) => ({
  type: "object",
  additionalProperties: false,
  required: ["shots"],
  properties: {
    shots: {
      type: "array",
      minItems: count,
      maxItems: count,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["prompt", "shotType", "camera"],
        properties: {
          prompt: { type: "string", description: "A self-contained still-image prompt for this shot." },
          shotType: { type: "string", description: "Framing, e.g. wide, medium, close-up, extreme close-up." },
          camera: { type: "string", enum: [...cameraMoves], description: "The camera move over the still." }
        }
      }
    }
  }
})

const ShotSchema = Schema.Struct({
  prompt: Schema.String.pipe(Schema.filter((s) => s.trim().length > 0 || "a shot's prompt is empty")),
  shotType: Schema.String,
  camera: Schema.Literal(...cameraMoves)
})

const ShotListSchema = Schema.Struct({ shots: Schema.Array(ShotSchema) })

/** Checks a model's message content; Left carries a reason short enough to show the model and a person. */
export const parseShots = (content: string, count: number): Either.Either<ReadonlyArray<Shot>, string> => {
  // Some models wrap JSON in a Markdown fence even under a json_schema response_format.
  const text = content.trim().replace(/^```(?:json)?\s*/i, "").replace(/\s*```$/, "")
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Either.left(`the answer is not JSON (${e instanceof Error ? e.message : String(e)})`)
  }
  const decoded = Schema.decodeUnknownEither(ShotListSchema)(json, { onExcessProperty: "ignore" })
  if (Either.isLeft(decoded)) return Either.left(ParseResult.TreeFormatter.formatErrorSync(decoded.left))
  const shots = decoded.right.shots
  if (shots.length !== count) return Either.left(`expected exactly ${count} shot${count === 1 ? "" : "s"}, got ${shots.length}`)
  return Either.right(shots)
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

const explain = (error: ProviderError, apiKey: string): ProviderError => {
  const said = redact(error.message, [apiKey])
  if (error.status === 402) {
    return new ProviderError({
      ...error,
      message: `OpenRouter says the account is out of credit (${said}). Add credit at https://openrouter.ai/settings/credits, then build again.`,
      transient: false
    })
  }
  if (error.status === 401) {
    return new ProviderError({ ...error, message: `${said} (check OPENROUTER_KEY in .env)` })
  }
  return said === error.message ? error : new ProviderError({ ...error, message: said })
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

const permanent = (message: string, requestId?: string) =>
  new ProviderError({ provider, message, transient: false, ...(requestId === undefined ? {} : { requestId }) })

const complete = Effect.fn("OpenRouter.complete")(function*(req: ShotListRequest, messages: ReadonlyArray<Message>) {
  const http = yield* Http
  const res: HttpResponse = yield* http.request(provider, {
    method: "POST",
    url: `${req.baseUrl.replace(/\/+$/, "")}/chat/completions`,
    headers: headersFor(req.apiKey, req.referer, req.title),
    json: {
      model: req.model,
      messages,
      response_format: {
        type: "json_schema",
        json_schema: { name: "shot_list", strict: true, schema: shotListJsonSchema(req.count) }
      },
      provider: { require_parameters: true },
      usage: { include: true }
    },
    ...(req.timeoutMs === undefined ? {} : { timeoutMs: req.timeoutMs })
  })
  const error = classify(provider, res)
  if (error !== undefined) return yield* explain(error, req.apiKey)
  const body = yield* res.json()
  const headerId = res.headers["x-request-id"]

  if (typeof body === "object" && body !== null && "error" in body && (body as { error: unknown }).error != null) {
    const inner = (body as { error: unknown }).error
    return yield* explain(errorFrom(provider, statusOf(inner), res.headers, body), req.apiKey)
  }
  const answer = yield* Schema.decodeUnknown(ChatAnswer)(body, { onExcessProperty: "ignore" }).pipe(
    Effect.mapError((e) =>
      new ProviderError({
        provider,
        message: `unexpected answer from OpenRouter: ${ParseResult.TreeFormatter.formatErrorSync(e)}`,
        transient: true,
        ...(headerId === undefined ? {} : { requestId: headerId })
      })
    )
  )
  const requestId = answer.id ?? headerId
  const choice = answer.choices[0]
  if (choice?.error !== undefined && choice.error !== null) {
    return yield* explain(errorFrom(provider, statusOf(choice.error), res.headers, { error: choice.error }), req.apiKey)
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

/** Asks `model` for exactly `count` shots. One repair attempt on invalid output; no retries (the scheduler's job). */
export const shotList = Effect.fn("OpenRouter.shotList")(function*(req: ShotListRequest) {
  if (!Number.isInteger(req.count) || req.count < 1) {
    return yield* Effect.die(new Error(`shotList needs a positive whole number of shots, got ${req.count}`))
  }
  const messages: ReadonlyArray<Message> = [
    { role: "system", content: req.system },
    { role: "user", content: req.user }
  ]
  const first = yield* complete(req, messages)
  const attempts: Array<Attempt> = [first]
  let parsed = parseShots(first.content, req.count)
  if (Either.isLeft(parsed)) {
    const repair: ReadonlyArray<Message> = [
      ...messages,
      { role: "assistant", content: first.content },
      {
        role: "user",
        content: `That answer is not a valid shot list: ${parsed.left}. Reply with only the JSON object ` +
          `{"shots": [...]} holding exactly ${req.count} shot${req.count === 1 ? "" : "s"}, each with "prompt", ` +
          `"shotType" and "camera" (one of ${cameraMoves.join(", ")}).`
      }
    ]
    const second = yield* complete(req, repair)
    attempts.push(second)
    parsed = parseShots(second.content, req.count)
  }
  const last = attempts[attempts.length - 1]!
  if (Either.isLeft(parsed)) {
    return yield* permanent(
      `model returned an invalid shot list: ${parsed.left} (model ${req.model}, after one repair attempt; ` +
        `try another OPENROUTER_MODEL that supports structured outputs)`,
      last.requestId
    )
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
  const result: ShotList = { shots: parsed.right, requestId: last.requestId, cost, usage, attempts: attempts.length }
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

/** `GET {baseUrl}/models`: ids, per-token prices and what each model supports. */
export const listModels = Effect.fn("OpenRouter.listModels")(function*(req: { readonly baseUrl: string; readonly apiKey: string }) {
  const http = yield* Http
  const res = yield* http.request(provider, {
    method: "GET",
    url: `${req.baseUrl.replace(/\/+$/, "")}/models`,
    headers: headersFor(req.apiKey)
  })
  const error = classify(provider, res)
  if (error !== undefined) return yield* explain(error, req.apiKey)
  const body = yield* res.json()
  const answer = yield* Schema.decodeUnknown(ModelsAnswer)(body, { onExcessProperty: "ignore" }).pipe(
    Effect.mapError((e) =>
      new ProviderError({ provider, message: `unexpected model list from OpenRouter: ${ParseResult.TreeFormatter.formatErrorSync(e)}`, transient: true })
    )
  )
  const models: ReadonlyArray<ModelInfo> = answer.data.map((m) => ({
    id: m.id,
    pricing: { prompt: Number(m.pricing.prompt), completion: Number(m.pricing.completion) },
    contextLength: m.context_length ?? undefined,
    supportedParameters: m.supported_parameters ?? []
  }))
  return models
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
