/**
 * OpenAI text-to-speech: `POST {base}/audio/speech` with `{model, input, voice, response_format}`; the answer
 * is the audio's bytes (not JSON) and carries no usage, so its cost is computed (`prices.ts`).
 *
 * Surprises:
 * - `input` is at most 4,096 characters; a longer sentence is refused (400) before anything is made.
 * - Synchronous, not re-attachable: the bytes are kept in the node's journal as they arrive (`../Once.ts`);
 *   a Ctrl-C waits for an answer on its way.
 * - Errors have Images' shape (`{error:{message,type,code}}`); out of quota is a 429 `insufficient_quota`.
 */
import { Effect } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { refusalOf } from "../http/Answer.ts"
import { redact } from "../http/Redact.ts"
import type { Follow } from "../Keep.ts"
import * as Once from "../Once.ts"
import { fromHttp, fromRefusal, OpenAIError } from "./OpenAIError.ts"
import { speechPrices } from "./prices.ts"

export const defaults = { model: "gpt-4o-mini-tts", voice: "alloy" } as const

export interface SpeechRequest {
  readonly model: string
  readonly voice: string
  readonly text: string
}

export interface Speech {
  readonly bytes: Uint8Array
  readonly ext: "mp3"
  readonly requestId: string | undefined
  readonly cost: Cost.Cost
  readonly resumed: boolean
}

/** What speaking `text` costs, computed from the table (OpenAI reports no usage for speech). */
export const estimate = (model: string, text: string): Cost.Cost => {
  const price = speechPrices[model] ?? speechPrices[model.replace(/-\d{4}-\d{2}-\d{2}$/, "")]
  if (price === undefined) return Cost.unknown
  const chars = [...text].length
  if (price.perChar !== undefined) return Cost.fromTable(chars * price.perChar)
  // About 15 characters a second of speech, 4 characters a token.
  return Cost.fromTable((chars / 4) * (price.textInputPerToken ?? 0) + (chars / 15) * (price.perAudioSecond ?? 0))
}

const isMp3 = (b: Uint8Array) => b.length > 3 && ((b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33) || (b[0] === 0xff && (b[1]! & 0xe0) === 0xe0))

export const speak = Effect.fn("OpenAI.speak")(function*(settings: { readonly apiKey: string; readonly baseUrl: string; readonly timeoutMs: number }, req: SpeechRequest, follow: Follow) {
  const res = yield* Once.send("openai", follow, {
    method: "POST",
    url: `${settings.baseUrl.replace(/\/+$/, "")}/audio/speech`,
    headers: { authorization: `Bearer ${settings.apiKey}` },
    json: { model: req.model, input: req.text, voice: req.voice, response_format: "mp3" },
    answerTimeoutMs: Math.min(settings.timeoutMs, 120_000)
  }, { name: "answer", ext: "mp3", headers: ["x-request-id"], what: "narration" }).pipe(Effect.mapError((f) => fromHttp("speech", f)))
  const requestId = res.headers["x-request-id"]
  const refusal = refusalOf(res)
  if (refusal !== undefined) return yield* fromRefusal("speech", { ...refusal, said: redact(refusal.said, [settings.apiKey]) })
  if (!isMp3(res.body)) {
    return yield* new OpenAIError({
      call: "speech",
      reason: "not-audio",
      said: `${res.body.length} bytes that are no MP3 (request ${requestId ?? "without id"})`,
      status: res.status,
      ...(requestId === undefined ? {} : { requestId })
    })
  }
  return { bytes: res.body, ext: "mp3", requestId, cost: estimate(req.model, req.text), resumed: res.resumed } satisfies Speech
})
