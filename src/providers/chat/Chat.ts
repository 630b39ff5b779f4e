/**
 * Shot lists from any OpenAI-compatible chat endpoint (`POST {CHAT_BASE_URL}/chat/completions`): OpenAI
 * itself, or a local llama.cpp `llama-server`, Ollama (`:11434/v1`), LM Studio (`:1234/v1`), a gateway.
 *
 * Structured output, three ways (`CHAT_STRUCTURED`), because servers honour different shapes:
 * - `json_schema` (default): `response_format: {type: "json_schema", json_schema: {name, strict, schema}}`,
 *   OpenAI's nested shape. llama.cpp, LM Studio and Ollama (≥ 0.5) read this one. **llama.cpp's README shows
 *   `{type: "json_schema", schema}` (not nested): that shape is silently ignored (HTTP 200, free prose)**, so
 *   it is never sent.
 * - `json_object`: `response_format: {type: "json_object"}` with the schema in the instructions (LM Studio
 *   does not support it).
 * - `prompt`: no response_format at all, the schema in the instructions, for servers that refuse the field.
 * Whatever the server claims, every answer is checked against the schema (servers also fail open when
 * their grammar does not compile), and a wrong one gets ONE repair turn that shows the model its mistake.
 *
 * Money: a server on this machine or a private network (127.0.0.1, localhost, 10/8, 192.168/16, 172.16/12,
 * *.local) costs $0; OpenAI (api.openai.com) is priced from its `usage` and the table; any other server is
 * unknown, never $0, unless it reports `usage.cost` (OpenRouter-style gateways do).
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { refusalFrom, refusalOf } from "../http/Answer.ts"
import { redact } from "../http/Redact.ts"
import type { Follow } from "../Keep.ts"
import * as Once from "../Once.ts"
import { textPrices } from "../openai/prices.ts"
import * as ShotList from "../ShotList.ts"
import { ChatError, fromHttp, fromRefusal, type Where } from "./ChatError.ts"

export const provider = "chat"

export type Structured = "json_schema" | "json_object" | "prompt"

export interface ChatSettings {
  readonly apiKey: string
  readonly baseUrl: string
  readonly model: string
  readonly structured: Structured
  readonly timeoutMs: number
}

export const defaults = { baseUrl: "https://api.openai.com/v1", model: "gpt-4o-mini", structured: "json_schema" as Structured }

export const defaultSettings = (apiKey: string, baseUrl: string): ChatSettings => ({
  apiKey,
  baseUrl,
  model: defaults.model,
  structured: defaults.structured,
  timeoutMs: 120_000
})

/** A server on this machine or a private network: nothing it does is billed. */
export const isLocal = (baseUrl: string): boolean => {
  let host: string
  try {
    host = new URL(baseUrl).hostname.toLowerCase().replace(/^\[|\]$/g, "")
  } catch {
    return false
  }
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host === "::1") return true
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host)
  if (v4 === null) return false
  const [a, b] = [Number(v4[1]), Number(v4[2])]
  return a === 127 || a === 10 || (a === 192 && b === 168) || (a === 172 && b >= 16 && b <= 31)
}

const isOpenAI = (baseUrl: string) => {
  try {
    return new URL(baseUrl).hostname === "api.openai.com"
  } catch {
    return false
  }
}

/** What a shot list costs at this server: free when local, OpenAI's table for OpenAI, else unknown. */
export const costAt = (settings: Pick<ChatSettings, "baseUrl" | "model">, inputTokens: number, outputTokens: number): Cost.Cost => {
  if (isLocal(settings.baseUrl)) return Cost.free
  if (!isOpenAI(settings.baseUrl)) return Cost.unknown
  const price = textPrices[settings.model] ?? textPrices[settings.model.replace(/-\d{4}-\d{2}-\d{2}$/, "")]
  return price === undefined ? Cost.unknown : Cost.fromTable(inputTokens * price.input + outputTokens * price.output)
}

export interface ShotListRequest {
  readonly model: string
  readonly system: string
  readonly user: string
  readonly count: number
  /** The bible's names the shots may use (the schema's enums), when there is a bible. */
  readonly names?: ShotList.Names | undefined
}

export interface ChatShotList extends ShotList.Written {
  readonly cost: Cost.Cost
}

interface Message {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
}

const ChatAnswer = Schema.Struct({
  id: Schema.optional(Schema.NullOr(Schema.String)),
  choices: Schema.Array(Schema.Struct({
    message: Schema.optional(Schema.NullOr(Schema.Struct({
      content: Schema.optional(Schema.NullOr(Schema.String)),
      refusal: Schema.optional(Schema.NullOr(Schema.String))
    }))),
    finish_reason: Schema.optional(Schema.NullOr(Schema.String))
  })),
  usage: Schema.optional(Schema.NullOr(Schema.Struct({
    prompt_tokens: Schema.optional(Schema.Number),
    completion_tokens: Schema.optional(Schema.Number),
    cost: Schema.optional(Schema.NullOr(Schema.Number))
  })))
})

const where = (settings: ChatSettings): Where => ({ server: settings.baseUrl, local: isLocal(settings.baseUrl), model: settings.model })

const statusOf = (error: unknown): number => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined
  const n = typeof code === "number" ? code : typeof code === "string" ? Number(code) : NaN
  return Number.isInteger(n) && n >= 400 && n < 600 ? n : 502
}

/** The messages and response_format for the configured way of asking for JSON. */
const requestBody = (settings: ChatSettings, req: ShotListRequest, messages: ReadonlyArray<Message>) => {
  const schema = ShotList.jsonSchema(req.count, req.names)
  if (settings.structured === "json_schema") {
    return { model: req.model, messages, response_format: { type: "json_schema", json_schema: { name: ShotList.schemaName, strict: true, schema } } }
  }
  const [first, ...rest] = messages
  const withSchema = [{ ...first!, content: `${first!.content} The JSON must follow this JSON schema: ${JSON.stringify(schema)}` }, ...rest]
  return settings.structured === "json_object"
    ? { model: req.model, messages: withSchema, response_format: { type: "json_object" } }
    : { model: req.model, messages: withSchema }
}

const decode = (settings: ChatSettings, res: Once.OnceAnswer, count: number, follow: Follow, name: string) =>
  Effect.gen(function*() {
    const w = where(settings)
    const requestId = res.headers["x-request-id"]
    const ids = requestId === undefined ? {} : { requestId }
    // A local server's damaged answer cost nothing: it is forgotten, so that trying again asks again (a paid
    // one is dropped by `targets/Paid.ts`, which also notes the loss).
    const garbled = (said: string) =>
      (w.local ? Once.drop(follow, name) : Effect.void).pipe(Effect.zipRight(Effect.fail(new ChatError({ call: "chat", ...w, reason: "garbled", said, status: 200, ...ids }))))
    let body: unknown
    try {
      body = JSON.parse(res.text())
    } catch {
      return yield* garbled(`broken JSON (${res.body.length} bytes)`)
    }
    // A gateway's error inside a 200: not an answer, and not billed; the next try asks again.
    if (typeof body === "object" && body !== null && (body as { error?: unknown }).error != null) {
      yield* Once.drop(follow, name)
      const error = fromRefusal(w, refusalFrom(statusOf((body as { error: unknown }).error), res.headers, body))
      return yield* new ChatError({ ...error, said: redact(error.said, [settings.apiKey]) })
    }
    const answer = yield* Schema.decodeUnknown(ChatAnswer)(body, { onExcessProperty: "ignore" }).pipe(
      Effect.catchAll((e) => garbled(`unexpected answer: ${ParseResult.TreeFormatter.formatErrorSync(e)}`))
    )
    const message = answer.choices[0]?.message
    if (typeof message?.refusal === "string" && message.refusal.trim() !== "" && !message.content) {
      return yield* new ChatError({ call: "chat", ...w, reason: "moderation", said: message.refusal, status: 200, ...ids })
    }
    const content = message?.content ?? ""
    const cut = answer.choices[0]?.finish_reason === "length"
    const shots = ShotList.parse(content, count)
    const attempt: ShotList.Attempt = {
      shots: Either.isLeft(shots) && cut ? Either.left(`${shots.left} (the answer was cut short: finish_reason "length")`) : shots,
      requestId: answer.id ?? requestId,
      inputTokens: answer.usage?.prompt_tokens ?? 0,
      outputTokens: answer.usage?.completion_tokens ?? 0,
      reportedUsd: answer.usage?.cost ?? undefined
    }
    return { attempt, content, resumed: res.resumed }
  })

/** One completion (its answer kept as `name` before it is read). */
const complete = (settings: ChatSettings, req: ShotListRequest, messages: ReadonlyArray<Message>, follow: Follow, name: "answer" | "repair") =>
  Effect.gen(function*() {
    const w = where(settings)
    const res = yield* Once.send(provider, follow, {
      method: "POST",
      url: `${settings.baseUrl.replace(/\/+$/, "")}/chat/completions`,
      headers: settings.apiKey === "" ? {} : { authorization: `Bearer ${settings.apiKey}` },
      json: requestBody(settings, req, messages),
      answerTimeoutMs: settings.timeoutMs
    }, { name, ext: "json", headers: ["x-request-id"], what: "shot list", markSent: !w.local }).pipe(Effect.mapError((f) => fromHttp(w, f)))
    const refusal = refusalOf(res)
    if (refusal !== undefined) {
      const error = fromRefusal(w, refusal)
      return yield* new ChatError({ ...error, said: redact(error.said, [settings.apiKey]) })
    }
    return yield* decode(settings, res, req.count, follow, name)
  })

export const shotList = Effect.fn("Chat.shotList")(function*(settings: ChatSettings, req: ShotListRequest, follow: Follow) {
  const messages: ReadonlyArray<Message> = [
    { role: "system", content: req.system },
    { role: "user", content: req.user }
  ]
  let firstContent = ""
  const written = yield* ShotList.writeWithRepair({
    first: complete(settings, req, messages, follow, "answer").pipe(Effect.tap((a) => Effect.sync(() => (firstContent = a.content)))),
    repair: (_first, reason) =>
      complete(settings, req, [...messages, { role: "assistant", content: firstContent }, { role: "user", content: ShotList.repair(reason, req.count) }], follow, "repair"),
    invalid: (reason, last) =>
      new ChatError({ call: "chat", ...where(settings), reason: "invalid-answer", said: reason, ...(last.requestId === undefined ? {} : { requestId: last.requestId }) })
  })
  const reported = written.attempts.map((a) => a.reportedUsd)
  const tokens = written.attempts.reduce((t, a) => ({ in: t.in + a.inputTokens, out: t.out + a.outputTokens }), { in: 0, out: 0 })
  const cost = reported.every((c): c is number => typeof c === "number") && !isLocal(settings.baseUrl)
    ? Cost.reported(reported.reduce((a, b) => a + b, 0))
    : costAt({ baseUrl: settings.baseUrl, model: req.model }, tokens.in, tokens.out)
  return { ...written, cost } satisfies ChatShotList
})
