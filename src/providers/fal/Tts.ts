/**
 * Narration through fal's TTS models, over the queue (`Queue.run`).
 *
 * Surprises:
 * - Each model family names its fields differently: playai v3 `{input, voice}`, kokoro `{prompt, voice}`,
 *   minimax speech-02 `{text, voice_setting: {voice_id, ...}, output_format}`, elevenlabs `{text, voice}`.
 *   A wrong name is not always rejected: the model may speak its default text or fail with a 422.
 * - minimax's `output_format` defaults to "hex" (the audio inlined as a hex string); "url" must be asked for.
 * - All answer `{audio: {url, content_type?, file_name?, file_size?}}`; the file is downloaded and kept (in
 *   the node's journal as soon as it arrives, then in the store), because fal's CDN copy does not last.
 * - playai v3 may be retired: the model is a setting, never hard-wired.
 */
import { Effect, Either, Schema } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { ProviderUnavailable } from "../Failure.ts"
import type { Follow } from "../Keep.ts"
import * as Prices from "./prices.ts"
import * as Queue from "./Queue.ts"

export type TtsFamily = "playai" | "kokoro" | "minimax" | "elevenlabs"

const families: ReadonlyArray<{ readonly family: TtsFamily; readonly matches: (model: string) => boolean; readonly example: string }> = [
  { family: "playai", matches: (m) => m === "fal-ai/playai/tts/v3", example: "fal-ai/playai/tts/v3" },
  { family: "kokoro", matches: (m) => m.startsWith("fal-ai/kokoro/"), example: "fal-ai/kokoro/american-english" },
  { family: "minimax", matches: (m) => /^fal-ai\/minimax\/speech-02-(hd|turbo)$/.test(m), example: "fal-ai/minimax/speech-02-hd or -turbo" },
  { family: "elevenlabs", matches: (m) => m.startsWith("fal-ai/elevenlabs/tts/"), example: "fal-ai/elevenlabs/tts/multilingual-v2" }
]

export const familyOf = (model: string): TtsFamily | undefined => families.find((f) => f.matches(model))?.family

/** The voice used when none is configured, so that the voice that was actually asked for is always in the
 *  request body (and in the fingerprint). */
export const defaultVoice = (family: TtsFamily, model: string): string | undefined => {
  switch (family) {
    case "playai":
      return "Jennifer (English (US)/American)"
    case "kokoro":
      // kokoro voices are per language; only the English ones have a default we know.
      return model.endsWith("/american-english") ? "af_heart" : model.endsWith("/british-english") ? "bf_alice" : undefined
    case "minimax":
      return "Wise_Woman"
    case "elevenlabs":
      return "Rachel"
  }
}

const unsupported = (model: string) =>
  new ProviderUnavailable({
    provider: "fal",
    message: `fal TTS model "${model}" is not supported; set FALAI_TTS_MODEL to one of these families: ${
      families.map((f) => f.example).join("; ")
    }`
  })

/** The exact JSON body sent for `text` (used to fingerprint and to estimate, as well as to send). */
export const requestFor = (
  model: string,
  text: string,
  voice?: string
): Either.Either<Record<string, unknown>, ProviderUnavailable> => {
  const family = familyOf(model)
  if (family === undefined) return Either.left(unsupported(model))
  const v = voice ?? defaultVoice(family, model)
  switch (family) {
    case "playai":
      return Either.right({ input: text, voice: v })
    case "kokoro":
      return Either.right(v === undefined ? { prompt: text } : { prompt: text, voice: v })
    case "minimax":
      return Either.right({ text, voice_setting: { voice_id: v, speed: 1, vol: 1, pitch: 0 }, output_format: "url" })
    case "elevenlabs":
      return Either.right({ text, voice: v })
  }
}

/** What a request for `text` is expected to cost. */
export const estimate = (model: string, text: string): Cost.Cost => Prices.ttsCost(model, text)

export interface SpeakRequest {
  readonly model: string
  readonly text: string
  readonly voice?: string | undefined
  /** audio file size limit (default 100 MiB) */
  readonly maxBytes?: number
}

export interface Speech {
  readonly bytes: Uint8Array
  /** file extension without the dot, from the audio's content type or name ("mp3", "wav", ...) */
  readonly ext: string
  readonly handle: Queue.FalHandle
  readonly cost: Cost.Cost
  readonly resumed: boolean
  readonly record: Cost.RequestRecord
}

const AudioOutput = Schema.Struct({
  audio: Schema.Struct({
    url: Schema.String,
    content_type: Schema.optional(Schema.NullOr(Schema.String)),
    file_name: Schema.optional(Schema.NullOr(Schema.String))
  })
})

const extByType: Readonly<Record<string, string>> = {
  "audio/mpeg": "mp3",
  "audio/mp3": "mp3",
  "audio/wav": "wav",
  "audio/x-wav": "wav",
  "audio/wave": "wav",
  "audio/ogg": "ogg",
  "audio/opus": "opus",
  "audio/flac": "flac",
  "audio/aac": "aac",
  "audio/mp4": "m4a"
}

const extensionOf = (audio: { url: string; content_type?: string | null | undefined; file_name?: string | null | undefined }, downloaded = "") => {
  const type = audio.content_type ?? downloaded
  const byType = type ? extByType[type.split(";")[0]!.trim().toLowerCase()] : undefined
  if (byType) return byType
  let name = audio.file_name ?? ""
  try {
    name ||= new URL(audio.url).pathname
  } catch {}
  const match = /\.([a-z0-9]{2,5})$/i.exec(name)
  return match ? match[1]!.toLowerCase() : "mp3"
}

/** Speaks `text` with a fal TTS model and returns the downloaded audio (kept as it arrives). */
export const speak = Effect.fn("FalTts.speak")(function*(settings: Queue.FalSettings, req: SpeakRequest, follow: Follow) {
  const input = yield* requestFor(req.model, req.text, req.voice)
  const startedAt = Date.now()
  const result = yield* Queue.runForFile(
    settings,
    { model: req.model, input: Effect.succeed(input), what: "narration" },
    follow,
    AudioOutput,
    (answer) => answer.audio.url,
    "an audio URL",
    {
      maxBytes: req.maxBytes ?? 100 * 1024 * 1024,
      contentTypePrefix: "audio/",
      ext: (answer, type) => extensionOf(answer.audio, type)
    }
  )
  const cost = estimate(req.model, req.text)
  const record = Queue.recordOf(req.model, result, startedAt, cost)
  return {
    bytes: result.bytes,
    ext: extensionOf(result.answer.audio, result.contentType),
    handle: result.handle,
    cost,
    resumed: result.resumed,
    record
  } satisfies Speech
})
