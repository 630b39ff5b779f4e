/**
 * A fake Anthropic Messages API on 127.0.0.1 (`POST /v1/messages`, `x-api-key`, `anthropic-version`).
 * A forced tool call (`tool_choice: {type: "tool", name}`) is answered with one `tool_use` block whose
 * `input` follows the tool's schema, `stop_reason: "tool_use"`, and `usage` tokens (no cost: Anthropic
 * reports none). Errors are `{type: "error", error: {type, message}, request_id}` with a `request-id` header.
 *
 * Its surprises: out of credit is a **400 invalid_request_error** "Your credit balance is too low..."; 529 is
 * `overloaded_error`; a 401 here echoes the key it was given (the client must never print it); an error can
 * arrive inside a 200 (a proxy in the way); `stop_reason: "refusal"` when the model declines.
 */
import { startServer, type CommonFault, type FakeRequest, type FakeServer, type Reply } from "./server.ts"
import { pinnedCount, sentenceOf, shotList, tokens } from "./shots.ts"

export type AnthropicFault =
  | { readonly kind: "wrongCount" }
  | { readonly kind: "noToolUse" }
  | { readonly kind: "lowCredit" }
  | { readonly kind: "overloaded" }
  | { readonly kind: "errorIn200" }
  | { readonly kind: "refusal" }
  | { readonly kind: "maxTokens" }

export interface AnthropicFake extends FakeServer<AnthropicFault | CommonFault> {
  readonly baseUrl: string
  readonly apiKey: string
  readonly messages: () => number
}

export const defaultKey = "sk-ant-api03-fake0123456789abcdefghijklmnopqrstuvwxyz-AAAA"

const error = (status: number, type: string, message: string, n: number, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { "request-id": `req_fake${n}`, ...headers },
  json: { type: "error", error: { type, message }, request_id: `req_fake${n}` }
})

export const start = async (apiKey = defaultKey): Promise<AnthropicFake> => {
  let counter = 0
  const handle = (req: FakeRequest, fault: AnthropicFault | undefined): Reply => {
    const n = ++counter
    if (req.method !== "POST" || !req.path.startsWith("/v1/messages")) return error(404, "not_found_error", `Not found: ${req.path}`, n)
    const given = String(req.headers["x-api-key"] ?? "")
    if (given !== apiKey) return error(401, "authentication_error", `invalid x-api-key: ${given}`, n)
    if (req.headers["anthropic-version"] !== "2023-06-01") return error(400, "invalid_request_error", "anthropic-version: header is required", n)
    const body = req.json as Record<string, any> | undefined
    if (!body || typeof body.max_tokens !== "number" || !Array.isArray(body.messages)) return error(400, "invalid_request_error", "max_tokens: Field required", n)
    if (fault?.kind === "lowCredit") return error(400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.", n)
    if (fault?.kind === "overloaded") return error(529, "overloaded_error", "Overloaded", n, { "x-should-retry": "true" })
    if (fault?.kind === "errorIn200") return { status: 200, json: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } }
    const count = pinnedCount(body.tools?.[0]?.input_schema ?? body)
    const subject = sentenceOf(body)
    const usage = { input_tokens: tokens(JSON.stringify(body)), output_tokens: 120 * count, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
    const base = { id: `msg_fake${n}`, type: "message", role: "assistant", model: body.model, stop_sequence: null, usage }
    if (fault?.kind === "refusal") return { status: 200, headers: { "request-id": `req_fake${n}` }, json: { ...base, content: [{ type: "text", text: "I can't help with that." }], stop_reason: "refusal" } }
    if (fault?.kind === "maxTokens" || fault?.kind === "noToolUse") {
      return { status: 200, headers: { "request-id": `req_fake${n}` }, json: { ...base, content: [{ type: "text", text: "Let me think about the shots..." }], stop_reason: fault.kind === "maxTokens" ? "max_tokens" : "end_turn" } }
    }
    const forced = body.tool_choice?.type === "tool" ? String(body.tool_choice.name) : undefined
    if (forced === undefined) return { status: 200, json: { ...base, content: [{ type: "text", text: JSON.stringify(shotList(count, subject)) }], stop_reason: "end_turn" } }
    return {
      status: 200,
      headers: { "request-id": `req_fake${n}` },
      json: { ...base, content: [{ type: "tool_use", id: `toolu_fake${n}`, name: forced, input: shotList(fault?.kind === "wrongCount" ? count + 1 : count, subject) }], stop_reason: "tool_use" }
    }
  }
  const server = await startServer<AnthropicFault>({ handle, errorBody: (status, message) => ({ type: "error", error: { type: status === 429 ? "rate_limit_error" : "api_error", message } }) })
  return {
    ...server,
    baseUrl: `${server.url}/v1`,
    apiKey,
    messages: () => server.requests.filter((r) => r.method === "POST" && r.path.startsWith("/v1/messages")).length
  }
}
