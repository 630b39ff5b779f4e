/**
 * Shot lists from Anthropic's Messages API: `POST {base}/messages` with `x-api-key` and
 * `anthropic-version: 2023-06-01`.
 *
 * Structured output the way every Claude model supports it: one tool, `shot_list`, whose `input_schema` is
 * the shot-list schema (`../ShotList.ts`), forced with `tool_choice: {type: "tool", name}`; the answer is a
 * `tool_use` block whose `input` is the list. It is still checked (a schema is guidance, not a guarantee);
 * a wrong one gets ONE repair turn, sent as the tool's `tool_result` with `is_error: true`, as the tool-use
 * protocol requires after a `tool_use`.
 *
 * Surprises: out of credit is a 400 (`AnthropicError.ts`); 529 is "overloaded"; the answer has no cost, only
 * `usage` tokens, priced from the table (`prices.ts`). The answer is kept in the journal as it arrives.
 */
import { Effect, Either, Option, Schema } from "effect"
import type * as Cost from "../../engine/Cost.ts"
import { refusalOf, requestIdOf } from "../http/Answer.ts"
import { redact } from "../http/Redact.ts"
import type { Follow } from "../Keep.ts"
import * as Once from "../Once.ts"
import * as ShotList from "../ShotList.ts"
import { AnthropicError, fromHttp, fromRefusal } from "./AnthropicError.ts"
import { costOf } from "./prices.ts"

export const provider = "anthropic"
export const version = "2023-06-01"

export interface AnthropicSettings {
  readonly apiKey: string
  readonly baseUrl: string
  readonly model: string
  readonly timeoutMs: number
}

export const defaults = { baseUrl: "https://api.anthropic.com/v1", model: "claude-haiku-4-5" } as const

export const defaultSettings = (apiKey: string, baseUrl: string): AnthropicSettings => ({ apiKey, baseUrl, model: defaults.model, timeoutMs: 120_000 })

export interface ShotListRequest {
  readonly model: string
  readonly system: string
  readonly user: string
  readonly count: number
  /** The bible's names the shots may use (the schema's enums), when there is a bible. */
  readonly names?: ShotList.Names | undefined
}

export interface AnthropicShotList extends ShotList.Written {
  readonly cost: Cost.Cost
}

const Message = Schema.Struct({
  id: Schema.String,
  content: Schema.Array(Schema.Struct({
    type: Schema.String,
    id: Schema.optional(Schema.String),
    name: Schema.optional(Schema.String),
    input: Schema.optional(Schema.Unknown),
    text: Schema.optional(Schema.String)
  })),
  stop_reason: Schema.optional(Schema.NullOr(Schema.String)),
  usage: Schema.optional(Schema.Struct({ input_tokens: Schema.Number, output_tokens: Schema.Number }))
})

type Block = { readonly type: string; readonly [k: string]: unknown }
interface Turn {
  readonly role: "user" | "assistant"
  readonly content: string | ReadonlyArray<Block>
}

const tool = (count: number, names?: ShotList.Names) => ({
  name: ShotList.schemaName,
  description: "Record the shot list for this sentence: exactly the shots asked for, in order.",
  input_schema: ShotList.jsonSchema(count, names)
})

const call = (settings: AnthropicSettings, req: ShotListRequest, turns: ReadonlyArray<Turn>, follow: Follow, name: "answer" | "repair") =>
  Effect.gen(function*() {
    const res = yield* Once.send(provider, follow, {
      method: "POST",
      url: `${settings.baseUrl.replace(/\/+$/, "")}/messages`,
      headers: { "x-api-key": settings.apiKey, "anthropic-version": version },
      json: {
        model: req.model,
        max_tokens: 2048,
        system: req.system,
        messages: turns,
        tools: [tool(req.count, req.names)],
        tool_choice: { type: "tool", name: ShotList.schemaName }
      },
      answerTimeoutMs: settings.timeoutMs
    }, { name, ext: "json", headers: ["request-id"], what: "shot list" }).pipe(Effect.mapError((f) => fromHttp(f, req.model)))
    const refusal = refusalOf(res)
    if (refusal !== undefined) {
      const error = fromRefusal(refusal, res.headers, req.model)
      return yield* new AnthropicError({ ...error, said: redact(error.said, [settings.apiKey]) })
    }
    const requestId = requestIdOf(res.headers)
    const garbled = (said: string) => new AnthropicError({ call: "messages", reason: "garbled", said, status: 200, model: req.model, ...(requestId === undefined ? {} : { requestId }) })
    let body: unknown
    try {
      body = JSON.parse(res.text())
    } catch {
      return yield* garbled(`broken JSON (${res.body.length} bytes)`)
    }
    // An error inside a 200 (a proxy's, or a streamed error written as one): not billed, asked again next time.
    if (typeof body === "object" && body !== null && (body as { type?: unknown }).type === "error") {
      yield* Once.drop(follow, name)
      const inner = (body as { error?: { type?: string } }).error
      const status = inner?.type === "overloaded_error" ? 529 : inner?.type === "rate_limit_error" ? 429 : inner?.type === "api_error" ? 500 : 400
      const error = fromRefusal({ ...refusalOf({ ...res, status })!, status }, res.headers, req.model)
      return yield* new AnthropicError({ ...error, said: redact(error.said, [settings.apiKey]) })
    }
    const message = Option.getOrUndefined(Schema.decodeUnknownOption(Message)(body, { onExcessProperty: "ignore" }))
    if (message === undefined) return yield* garbled("not a message")
    if (message.stop_reason === "refusal") {
      const text = message.content.find((b) => b.type === "text")?.text ?? "the model declined to answer"
      return yield* new AnthropicError({ call: "messages", reason: "moderation", said: text, status: 200, model: req.model, requestId: message.id })
    }
    const use = message.content.find((b) => b.type === "tool_use" && b.name === ShotList.schemaName)
    const attempt: ShotList.Attempt = {
      shots: use === undefined
        ? Either.left(message.stop_reason === "max_tokens" ? "the answer was cut short (max_tokens) before the shot list" : "the answer holds no shot_list tool call")
        : ShotList.check(use.input, req.count),
      requestId: message.id,
      inputTokens: message.usage?.input_tokens ?? 0,
      outputTokens: message.usage?.output_tokens ?? 0
    }
    return { attempt, resumed: res.resumed, content: message.content as ReadonlyArray<Block>, toolUseId: use?.id }
  })

export const shotList = Effect.fn("Anthropic.shotList")(function*(settings: AnthropicSettings, req: ShotListRequest, follow: Follow) {
  const first: ReadonlyArray<Turn> = [{ role: "user", content: req.user }]
  let reply: { content: ReadonlyArray<Block>; toolUseId: string | undefined } = { content: [], toolUseId: undefined }
  const written = yield* ShotList.writeWithRepair({
    first: call(settings, req, first, follow, "answer").pipe(Effect.tap((r) => Effect.sync(() => (reply = r)))),
    repair: (_attempt, reason) =>
      call(settings, req, [
        ...first,
        { role: "assistant", content: reply.content },
        {
          role: "user",
          content: reply.toolUseId === undefined
            ? ShotList.repair(reason, req.count)
            : [{ type: "tool_result", tool_use_id: reply.toolUseId, is_error: true, content: ShotList.repair(reason, req.count) }]
        }
      ], follow, "repair"),
    invalid: (reason, last) =>
      new AnthropicError({ call: "messages", reason: "invalid-answer", said: reason, model: req.model, ...(last.requestId === undefined ? {} : { requestId: last.requestId }) })
  })
  const input = written.attempts.reduce((n, a) => n + a.inputTokens, 0)
  const output = written.attempts.reduce((n, a) => n + a.outputTokens, 0)
  return { ...written, cost: costOf(req.model, input, output) } satisfies AnthropicShotList
})
