/**
 * A fake OpenAI-compatible chat server on 127.0.0.1 (`POST /v1/chat/completions`), in two dialects:
 * - "openai": OpenAI's errors `{error: {message, type, param, code}}`; 429 `insufficient_quota` when out of
 *   money; a 401 whose message echoes the key it was given (as OpenAI's "Incorrect API key provided: ..."
 *   does, there partly masked); `message.refusal` when the model declines.
 * - "llamacpp": llama.cpp's `llama-server`: no key needed; errors `{error: {code, message, type}}` with the
 *   HTTP status in `code` (`exceed_context_size_error`, 503 `unavailable_error` "Loading model"); and, as
 *   there, a `response_format: {type: "json_schema", schema}` (the README's shape, not OpenAI's nested one)
 *   is silently ignored: the answer is free prose, HTTP 200.
 * Faults: a wrong shot count, not JSON, an error inside a 200, a refusal, a cut answer
 * (`finish_reason: "length"`), out of quota, loading, context exceeded; plus every common HTTP fault.
 */
import { startServer, type CommonFault, type FakeRequest, type FakeServer, type Reply } from "./server.ts"
import { pinnedCount, sentenceOf, shotList, tokens } from "./shots.ts"

export type ChatFault =
  | { readonly kind: "wrongCount" }
  | { readonly kind: "notJson" }
  | { readonly kind: "errorIn200" }
  | { readonly kind: "refusal" }
  | { readonly kind: "cut" }
  | { readonly kind: "outOfQuota" }
  | { readonly kind: "loading" }
  | { readonly kind: "contextExceeded" }

export interface ChatFake extends FakeServer<ChatFault | CommonFault> {
  readonly baseUrl: string
  readonly apiKey: string
  /** POST /chat/completions received */
  readonly completions: () => number
}

export const defaultKey = "sk-proj-fakechat0123456789abcdefABCDEF0123"

export const start = async (dialect: "openai" | "llamacpp" = "openai", apiKey = defaultKey): Promise<ChatFake> => {
  let counter = 0
  const oaError = (status: number, message: string, type: string, code: string | null): Reply =>
    ({ status, json: dialect === "openai" ? { error: { message, type, param: null, code } } : { error: { code: status, message, type } } })

  const handle = (req: FakeRequest, fault: ChatFault | undefined): Reply => {
    if (req.method !== "POST" || !req.path.startsWith("/v1/chat/completions")) return oaError(404, `Not found: ${req.method} ${req.path}`, "not_found_error", null)
    if (dialect === "openai" && req.headers.authorization !== `Bearer ${apiKey}`) {
      const given = String(req.headers.authorization ?? "").replace(/^Bearer /, "")
      return oaError(401, `Incorrect API key provided: ${given}. You can find your API key at https://platform.openai.com/account/api-keys.`, "invalid_request_error", "invalid_api_key")
    }
    if (fault?.kind === "outOfQuota") return oaError(429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota")
    if (fault?.kind === "loading") return { status: 503, json: { error: { code: 503, message: "Loading model", type: "unavailable_error" } } }
    if (fault?.kind === "contextExceeded") {
      return { status: 400, json: { error: { code: 400, message: "request (9000 tokens) exceeds the available context size (4096 tokens), try increasing it", type: "exceed_context_size_error", n_prompt_tokens: 9000, n_ctx: 4096 } } }
    }
    const body = req.json as Record<string, any> | undefined
    if (!body || !Array.isArray(body.messages)) return oaError(400, "'messages' is a required property", "invalid_request_error", null)
    const id = `chatcmpl-fake${++counter}`
    if (fault?.kind === "errorIn200") return { status: 200, json: { error: { message: "The upstream server is overloaded", type: "server_error", code: 503 } } }
    const format = body.response_format
    // llama.cpp reads `response_format.json_schema.schema` (OpenAI's nested shape) or `json_object`; its
    // README's flat `{type: "json_schema", schema}` reaches no grammar at all.
    const ignoresFormat = dialect === "llamacpp" && format?.type === "json_schema" && format.json_schema === undefined
    const count = pinnedCount(body)
    const subject = sentenceOf(body)
    let content = ignoresFormat ? `Here is a storyboard for "${subject}": first a wide view...` : JSON.stringify(shotList(fault?.kind === "wrongCount" ? count + 1 : count, subject))
    if (fault?.kind === "notJson") content = "Sure! Here are your shots: 1) a wide view of the harbour..."
    let finish = "stop"
    if (fault?.kind === "cut") {
      content = content.slice(0, Math.floor(content.length / 2))
      finish = "length"
    }
    const refusal = fault?.kind === "refusal" ? "I'm sorry, I can't help with that request." : null
    const promptTokens = tokens(JSON.stringify(body.messages))
    const completionTokens = tokens(content)
    return {
      status: 200,
      headers: { "x-request-id": `req_fake${counter}` },
      json: {
        id,
        object: "chat.completion",
        created: 1_760_000_000 + counter,
        model: body.model,
        choices: [{ index: 0, finish_reason: finish, message: { role: "assistant", content: refusal ? null : content, refusal } }],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
        ...(dialect === "llamacpp" ? { timings: { prompt_n: promptTokens, predicted_n: completionTokens, predicted_ms: 12.5 } } : {})
      }
    }
  }
  const server = await startServer<ChatFault>({
    handle,
    errorBody: (status, message) => (dialect === "openai" ? { error: { message, type: "server_error", param: null, code: null } } : { error: { code: status, message, type: "server_error" } })
  })
  return {
    ...server,
    baseUrl: `${server.url}/v1`,
    apiKey,
    completions: () => server.requests.filter((r) => r.method === "POST" && r.path.startsWith("/v1/chat/completions")).length
  }
}
