/**
 * What fal charges, for the models storyshot knows, so a request's cost is `Cost.fromTable` instead of
 * unknown. fal does not report a price in its answers; these figures are estimates and a model missing
 * here is `Cost.unknown` (never $0).
 *
 * Source and date: fal.ai model pages (https://fal.ai/models/<model id>, "Pricing"), as known in
 * mid-2025. The Kling 1.6 and TTS figures were NOT re-checked when this table was written: verify them
 * before relying on them, and update `checkedOn` when you do.
 */
import * as Cost from "../../engine/Cost.ts"

export const checkedOn = "2025-06 (unverified; see the note at the top of prices.ts)"

/** Image-to-video: billed per second of generated video, or per clip by resolution. */
interface VideoPrice {
  readonly perSecond?: number
  readonly perClipByResolution?: Readonly<Record<string, number>>
}

const video: Readonly<Record<string, VideoPrice>> = {
  // Kling 1.6 standard: about $0.045 per second, $0.225 for the 5 s clip storyshot always asks for.
  "fal-ai/kling-video/v1.6/standard/image-to-video": { perSecond: 0.045 },
  // Kling 1.6 pro: about $0.095 per second, $0.475 for 5 s.
  "fal-ai/kling-video/v1.6/pro/image-to-video": { perSecond: 0.095 },
  // Wan 2.1 i2v: per clip (81 frames at 16 fps, about 5 s): $0.20 at 480p, $0.40 at 720p.
  "fal-ai/wan-i2v": { perClipByResolution: { "480p": 0.2, "720p": 0.4 } }
}

/** TTS: USD per 1,000 characters of input text. */
const ttsPer1kChars: Readonly<Record<string, number>> = {
  "fal-ai/minimax/speech-02-hd": 0.1,
  "fal-ai/minimax/speech-02-turbo": 0.06,
  "fal-ai/elevenlabs/tts/multilingual-v2": 0.1,
  "fal-ai/elevenlabs/tts/turbo-v2.5": 0.05,
  "fal-ai/kokoro/american-english": 0.02,
  "fal-ai/kokoro/british-english": 0.02
  // playai v3 is billed per minute of produced audio, which is not known before the call: unknown.
}

/** The cost of one image-to-video request, from the exact body it sends (so estimates match bills). */
export const videoCost = (model: string, request: Readonly<Record<string, unknown>>): Cost.Cost => {
  const price = video[model]
  if (price === undefined) return Cost.unknown
  if (price.perSecond !== undefined) {
    const seconds = Number(request.duration)
    return Number.isFinite(seconds) && seconds > 0 ? Cost.fromTable(round(price.perSecond * seconds)) : Cost.unknown
  }
  const resolution = typeof request.resolution === "string" ? request.resolution : undefined
  const perClip = resolution === undefined ? undefined : price.perClipByResolution?.[resolution]
  return perClip === undefined ? Cost.unknown : Cost.fromTable(perClip)
}

/** The cost of one TTS request for `text`. */
export const ttsCost = (model: string, text: string): Cost.Cost => {
  const per1k = ttsPer1kChars[model]
  return per1k === undefined ? Cost.unknown : Cost.fromTable(round((per1k * [...text].length) / 1000))
}

// Floating-point sums of cents should print as cents.
const round = (usd: number) => Math.round(usd * 1e6) / 1e6
