/**
 * ElevenLabs text-to-speech, called directly: `POST {base}/text-to-speech/{voice_id}?output_format=...` with
 * `xi-api-key`, a JSON body `{text, model_id, seed}`, and the audio's raw bytes back (not JSON).
 *
 * Surprises:
 * - The answer is the audio itself; what it cost comes in headers: `x-character-count` (characters billed)
 *   and `request-id` (the record's id, and what `previous_request_ids` would take).
 * - Out of quota is a 401, like a wrong key (`ElevenLabsError.ts` reads `detail.status`).
 * - The call is synchronous and not re-attachable: the audio's bytes are kept in the node's journal the
 *   moment they arrive (`../Once.ts`), and a Ctrl-C waits for an answer on its way.
 * - `seed` is best-effort determinism on ElevenLabs' side; it is sent, and recorded, so a take can be asked
 *   for again with the same one.
 */
import { Effect } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { requestIdOf, retryAfterOf } from "../http/Answer.ts"
import { redact } from "../http/Redact.ts"
import type { Follow } from "../Keep.ts"
import * as Once from "../Once.ts"
import { ElevenLabsError, fromAnswer, fromHttp } from "./ElevenLabsError.ts"
import { costOf } from "./prices.ts"

export const provider = "elevenlabs"

export interface ElevenLabsSettings {
  readonly apiKey: string
  readonly baseUrl: string
  readonly model: string
  readonly voiceId: string
  readonly timeoutMs: number
}

export const defaults = { model: "eleven_multilingual_v2", voiceId: "21m00Tcm4TlvDq8ikWAM" } as const

export const defaultSettings = (apiKey: string, baseUrl: string): ElevenLabsSettings => ({
  apiKey,
  baseUrl,
  model: defaults.model,
  voiceId: defaults.voiceId,
  timeoutMs: 120_000
})

export interface SpeakRequest {
  readonly text: string
  readonly model: string
  readonly voiceId: string
  readonly seed: number
}

export interface Speech {
  readonly bytes: Uint8Array
  readonly ext: "mp3"
  readonly characters: number | undefined
  readonly requestId: string | undefined
  readonly cost: Cost.Cost
  readonly resumed: boolean
}

const outputFormat = "mp3_44100_128"

/** What a request for `text` is expected to cost: ElevenLabs bills each character of the text. */
export const estimate = (model: string, text: string): Cost.Cost => costOf(model, [...text].length)

const isAudio = (bytes: Uint8Array) =>
  bytes.length > 3 && ((bytes[0] === 0x49 && bytes[1] === 0x44 && bytes[2] === 0x33) || (bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0))

export const speak = Effect.fn("ElevenLabs.speak")(function*(settings: ElevenLabsSettings, req: SpeakRequest, follow: Follow) {
  const url = `${settings.baseUrl.replace(/\/+$/, "")}/text-to-speech/${encodeURIComponent(req.voiceId)}?output_format=${outputFormat}`
  const res = yield* Once.send(provider, follow, {
    method: "POST",
    url,
    headers: { "xi-api-key": settings.apiKey, accept: "audio/mpeg" },
    json: { text: req.text, model_id: req.model, seed: req.seed },
    answerTimeoutMs: settings.timeoutMs
  }, { name: "answer", ext: "mp3", headers: ["request-id", "x-character-count", "content-type", "history-item-id"], what: "narration" }).pipe(
    Effect.mapError(fromHttp)
  )
  const requestId = requestIdOf(res.headers) ?? res.headers["history-item-id"]
  const clean = (e: ElevenLabsError) => new ElevenLabsError({ ...e, said: redact(e.said, [settings.apiKey]) })
  if (res.status < 200 || res.status >= 300) {
    let body: unknown
    try {
      body = JSON.parse(res.text())
    } catch {}
    return yield* clean(fromAnswer(res.status, body, res.text().slice(0, 2000), retryAfterOf(res.headers), requestId))
  }
  const type = (res.headers["content-type"] ?? "").toLowerCase()
  if (!isAudio(res.body)) {
    // An error inside a 200 (a JSON body where audio belongs) is ElevenLabs' refusal, not speech: nothing to keep.
    let body: unknown
    try {
      body = JSON.parse(res.text())
    } catch {}
    if (body !== undefined && (body as { detail?: unknown }).detail !== undefined) {
      yield* Once.drop(follow, "answer")
      // A busy system said so inside a 200: refused before any speech was made, so worth another try.
      const code = String(((body as { detail?: { status?: unknown } }).detail ?? {}).status ?? "")
      return yield* clean(fromAnswer(/busy|concurrent|rate/i.test(code) ? 429 : 400, body, res.text(), undefined, requestId))
    }
    return yield* new ElevenLabsError({
      call: "speech",
      reason: res.body.length === 0 ? "cut-off" : "not-audio",
      said: `${res.body.length} bytes of ${type || "no content-type"} that are no MP3 (request ${requestId ?? "without id"})`,
      status: res.status,
      ...(requestId === undefined ? {} : { requestId })
    })
  }
  const counted = Number(res.headers["x-character-count"])
  const characters = Number.isFinite(counted) && counted >= 0 ? counted : undefined
  return {
    bytes: res.body,
    ext: "mp3",
    characters,
    requestId,
    // The characters ElevenLabs says it billed, at the table's rate; its own count beats ours.
    cost: characters === undefined ? estimate(req.model, req.text) : costOf(req.model, characters),
    resumed: res.resumed
  } satisfies Speech
})
