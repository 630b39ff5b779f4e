/**
 * A fake ElevenLabs on 127.0.0.1: `POST /v1/text-to-speech/{voice_id}?output_format=mp3_44100_128` with
 * `xi-api-key`, answering the audio's raw bytes (`audio/mpeg`, real MP3 as long as the text) with the
 * headers ElevenLabs reports costs in: `x-character-count`, `request-id`, `history-item-id`.
 *
 * Its surprises, played here: errors are FastAPI's `{detail: {status, message}}` (validation:
 * `{detail: [{loc, msg, type}]}`); **out of quota is a 401** like a wrong key, told apart only by
 * `detail.status` (`quota_exceeded` vs `invalid_api_key`); a wrong key's message here echoes the key (the
 * client must never print it); 429 `too_many_concurrent_requests`; a JSON error inside a 200; a 200 that
 * holds no audio. Common HTTP faults (hang, 5xx, truncated...) come from `./server.ts`.
 */
import { mediaFor } from "./fal.ts"
import { startServer, type CommonFault, type FakeRequest, type FakeServer, type Reply } from "./server.ts"

export type ElevenLabsFault =
  | { readonly kind: "quotaExceeded" }
  | { readonly kind: "tooManyConcurrent" }
  | { readonly kind: "errorIn200" }
  | { readonly kind: "notAudio" }
  | { readonly kind: "policy" }

export interface ElevenLabsFake extends FakeServer<ElevenLabsFault | CommonFault> {
  readonly baseUrl: string
  readonly apiKey: string
  readonly speeches: () => number
}

export const defaultKey = "sk_fake_elevenlabs_0123456789abcdef0123456789abcdef"

const detail = (status: number, code: string, message: string, headers: Record<string, string> = {}): Reply => ({ status, headers, json: { detail: { status: code, message } } })

export const start = async (apiKey = defaultKey): Promise<ElevenLabsFake> => {
  let counter = 0
  const handle = async (req: FakeRequest, fault: ElevenLabsFault | undefined): Promise<Reply> => {
    const m = /^\/v1\/text-to-speech\/([^/?]+)(\?.*)?$/.exec(req.path)
    if (req.method !== "POST" || !m) return detail(404, "not_found", `Not found: ${req.method} ${req.path}`)
    const given = String(req.headers["xi-api-key"] ?? "")
    if (given !== apiKey) return detail(401, "invalid_api_key", `Invalid API key: ${given}`)
    const n = ++counter
    if (fault?.kind === "quotaExceeded") {
      return detail(401, "quota_exceeded", "This request exceeds your quota of 10000. You have 0 credits remaining, while 91 credits are required for this request.")
    }
    if (fault?.kind === "tooManyConcurrent") {
      return detail(429, "too_many_concurrent_requests", "Too many concurrent requests for your subscription. Please try again later.", { "retry-after": "0" })
    }
    if (fault?.kind === "policy") return detail(400, "content_against_policy", "The text violates our Terms of Service.")
    const body = req.json as { text?: unknown; model_id?: unknown; seed?: unknown } | undefined
    if (typeof body?.text !== "string" || body.text.trim() === "") return { status: 422, json: { detail: [{ loc: ["body", "text"], msg: "Field required", type: "missing" }] } }
    const ids = { "request-id": `elreq_${n.toString(16).padStart(12, "0")}`, "history-item-id": `hist_${n}` }
    if (fault?.kind === "errorIn200") return { status: 200, headers: ids, json: { detail: { status: "system_busy", message: "The system is experiencing heavy traffic, please try again." } } }
    if (fault?.kind === "notAudio") return { status: 200, headers: { ...ids, "content-type": "text/html" }, body: "<html><body>upstream error</body></html>" }
    const audio = await mediaFor(`elevenlabs/${String(body.model_id)}`, { text: body.text, voice: m[1] })
    return { status: 200, headers: { ...ids, "content-type": "audio/mpeg", "x-character-count": String([...body.text].length) }, body: audio }
  }
  const server = await startServer<ElevenLabsFault>({ handle, errorBody: (status, message) => ({ detail: { status: status === 429 ? "system_busy" : "internal_error", message } }) })
  return {
    ...server,
    baseUrl: `${server.url}/v1`,
    apiKey,
    speeches: () => server.requests.filter((r) => r.method === "POST" && r.path.startsWith("/v1/text-to-speech/")).length
  }
}
