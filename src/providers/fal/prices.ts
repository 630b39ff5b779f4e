/**
 * What fal charges, for the models storyshot knows, so a request's cost is `Cost.fromTable` instead of
 * unknown. fal reports no price in its answers (its status `metrics` give inference time, not dollars), so
 * every figure is computed from the exact request body. A model missing here is `Cost.unknown`, never $0.
 *
 * One entry per model, each with its source and the day it was checked. Most sources are fal's own model
 * pages (`https://fal.ai/models/<model id>/llms.txt`, "Pricing"); a few are third-party tables and say so.
 * Re-check before relying on them, and update the date when you do.
 */
import * as Cost from "../../engine/Cost.ts"

/** Where a figure comes from. */
export interface Sourced {
  readonly source: string
  readonly checkedOn: string
}

const falPage = (model: string) => `https://fal.ai/models/${model}/llms.txt`

/** The oldest check in this file, for `storyshot providers`. */
export const checkedOn = "2025-06 (Kling 1.6, Wan, TTS: unverified) to 2026-12-01 (the rest); per entry in prices.ts"

// ---------------------------------------------------------------------------------------------------------
// Image-to-video: billed per second of generated video, or per clip by resolution.

export interface VideoPrice extends Sourced {
  readonly perSecond?: number
  /** Kling 2.6+ and v3: per second with the sound track (`generate_audio: true`); storyshot asks for none. */
  readonly perSecondWithAudio?: number
  /** A price for the first N seconds, then per second beyond (Kling 2.1 / 2.5). */
  readonly base?: { readonly seconds: number; readonly usd: number; readonly perExtraSecond: number }
  readonly perClipByResolution?: Readonly<Record<string, number>>
  /** Per clip by duration (Hailuo 2.3). */
  readonly perClipByDuration?: Readonly<Record<string, number>>
}

const unverified = "2025-06 (unverified)"
const today = "2026-12-01"

export const video: Readonly<Record<string, VideoPrice>> = {
  // Kling 1.6 standard: about $0.045 per second, $0.225 for the 5 s clip storyshot always asks for.
  "fal-ai/kling-video/v1.6/standard/image-to-video": { perSecond: 0.045, source: "reseller table (oauth.openai-hk.com), not fal's page", checkedOn: unverified },
  // Kling 1.6 pro: about $0.095 per second, $0.475 for 5 s.
  "fal-ai/kling-video/v1.6/pro/image-to-video": { perSecond: 0.095, source: "fal model page, mid-2025", checkedOn: unverified },
  // Wan 2.1 i2v: per clip (81 frames at 16 fps, about 5 s): $0.20 at 480p, $0.40 at 720p.
  "fal-ai/wan-i2v": { perClipByResolution: { "480p": 0.2, "720p": 0.4 }, source: "fal model page (480p is 0.5 billing units, 720p 1)", checkedOn: unverified },
  "fal-ai/kling-video/v2.1/standard/image-to-video": { base: { seconds: 5, usd: 0.28, perExtraSecond: 0.056 }, source: falPage("fal-ai/kling-video/v2.1/standard/image-to-video"), checkedOn: today },
  "fal-ai/kling-video/v2.1/pro/image-to-video": { base: { seconds: 5, usd: 0.49, perExtraSecond: 0.098 }, source: falPage("fal-ai/kling-video/v2.1/pro/image-to-video"), checkedOn: today },
  "fal-ai/kling-video/v2.1/master/image-to-video": { base: { seconds: 5, usd: 1.4, perExtraSecond: 0.28 }, source: falPage("fal-ai/kling-video/v2.1/master/image-to-video"), checkedOn: today },
  "fal-ai/kling-video/v2.5-turbo/standard/image-to-video": { base: { seconds: 5, usd: 0.21, perExtraSecond: 0.042 }, source: falPage("fal-ai/kling-video/v2.5-turbo/standard/image-to-video"), checkedOn: today },
  "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": { base: { seconds: 5, usd: 0.35, perExtraSecond: 0.07 }, source: falPage("fal-ai/kling-video/v2.5-turbo/pro/image-to-video"), checkedOn: today },
  "fal-ai/kling-video/v2.6/pro/image-to-video": { perSecond: 0.07, perSecondWithAudio: 0.14, source: falPage("fal-ai/kling-video/v2.6/pro/image-to-video"), checkedOn: today },
  // Sources disagree (forgedemy $0.112/s silent, keigit $0.224/s): the higher figure, so an estimate does not undercount.
  "fal-ai/kling-video/v3/pro/image-to-video": { perSecond: 0.224, perSecondWithAudio: 0.224, source: "third-party tables that disagree ($0.112/s vs $0.224/s; the higher is used)", checkedOn: today },
  "fal-ai/minimax/hailuo-02/standard/image-to-video": { perSecond: 0.045, source: `${falPage("fal-ai/minimax/hailuo-02/standard/image-to-video")} (768P)`, checkedOn: today },
  "fal-ai/minimax/hailuo-2.3/standard/image-to-video": { perClipByDuration: { "6": 0.28, "10": 0.56 }, source: falPage("fal-ai/minimax/hailuo-2.3/standard/image-to-video"), checkedOn: today },
  "fal-ai/minimax/hailuo-2.3-fast/standard/image-to-video": { perClipByDuration: { "6": 0.19, "10": 0.32 }, source: falPage("fal-ai/minimax/hailuo-2.3-fast/standard/image-to-video"), checkedOn: today }
}

// ---------------------------------------------------------------------------------------------------------
// TTS: USD per 1,000 characters of input text.

const ttsPer1kChars: Readonly<Record<string, number>> = {
  "fal-ai/minimax/speech-02-hd": 0.1,
  "fal-ai/minimax/speech-02-turbo": 0.06,
  "fal-ai/elevenlabs/tts/multilingual-v2": 0.1,
  "fal-ai/elevenlabs/tts/turbo-v2.5": 0.05,
  "fal-ai/kokoro/american-english": 0.02,
  "fal-ai/kokoro/british-english": 0.02
  // playai v3 is very likely retired (gone from fal's endpoint map since 2025-12) and was billed per minute of
  // produced audio, not known before the call: unknown.
}

export const tts: Readonly<Record<string, Sourced>> = {
  "fal-ai/minimax/speech-02-turbo": { source: falPage("fal-ai/minimax/speech-02-turbo"), checkedOn: today },
  "fal-ai/minimax/speech-02-hd": { source: "aigateway.sh (third party; fal's page not retrieved)", checkedOn: today },
  "fal-ai/elevenlabs/tts/multilingual-v2": { source: "fal model page, mid-2025", checkedOn: unverified },
  "fal-ai/elevenlabs/tts/turbo-v2.5": { source: "fal model page, mid-2025", checkedOn: unverified },
  "fal-ai/kokoro/american-english": { source: "fal model page, mid-2025", checkedOn: unverified },
  "fal-ai/kokoro/british-english": { source: "fal model page, mid-2025", checkedOn: unverified }
}

// ---------------------------------------------------------------------------------------------------------
// Images: per image, by quality and size where the model prices them so.

export interface ImagePrice extends Sourced {
  readonly perImage?: number
  /** OpenAI's models on fal: per image by quality, for 1024x1024 and for the other sizes. */
  readonly byQuality?: Readonly<Record<string, { readonly square: number; readonly other: number }>>
  /** Text input, USD per 1,000 tokens (gpt-image-1 on fal: $0.002), the total rounded up to the cent. */
  readonly per1kInputTokens?: number
  /** Per image by quality for one megapixel (1024x1024), scaled by the image's pixels. */
  readonly perMegapixelByQuality?: Readonly<Record<string, number>>
}

export const image: Readonly<Record<string, ImagePrice>> = {
  "fal-ai/gpt-image-1/text-to-image": {
    byQuality: { low: { square: 0.011, other: 0.016 }, medium: { square: 0.042, other: 0.063 }, high: { square: 0.167, other: 0.25 } },
    per1kInputTokens: 0.002,
    source: falPage("fal-ai/gpt-image-1/text-to-image"),
    checkedOn: today
  },
  // The edit endpoint adds the reference images' input tokens, which its page does not price: unknown.
  "openai/gpt-image-2": {
    perMegapixelByQuality: { low: 0.006, medium: 0.053, high: 0.211 },
    source: `${falPage("openai/gpt-image-2")} (token prices) and ezkit.app (third party, per image at 1K)`,
    checkedOn: today
  },
  "openai/gpt-image-2/edit": {
    perMegapixelByQuality: { low: 0.006, medium: 0.053, high: 0.211 },
    source: `${falPage("openai/gpt-image-2")} (as text-to-image; the references' input tokens are not counted)`,
    checkedOn: today
  },
  "fal-ai/flux-pro/kontext": { perImage: 0.04, source: falPage("fal-ai/flux-pro/kontext"), checkedOn: today },
  "fal-ai/flux-pro/kontext/multi": { perImage: 0.04, source: falPage("fal-ai/flux-pro/kontext/multi"), checkedOn: today },
  "fal-ai/flux-pro/kontext/text-to-image": { perImage: 0.04, source: "the kontext family's flat price (fal.ai/models/fal-ai/flux-pro/kontext); its own page shows none", checkedOn: today },
  "fal-ai/bytedance/seedream/v4/edit": { perImage: 0.03, source: falPage("fal-ai/bytedance/seedream/v4/edit"), checkedOn: today }
  // fal-ai/bytedance/seedream/v4/text-to-image, fal-ai/nano-banana and /edit, fal-ai/gpt-image-1/edit-image:
  // no price on a page read here (third parties say ~$0.04–0.05 for nano-banana): unknown.
}

export interface ImageRequestFacts {
  readonly quality: string
  readonly width: number
  readonly height: number
  readonly promptChars: number
}

/** The cost of one image request. */
export const imageCost = (model: string, facts: ImageRequestFacts): Cost.Cost => {
  const price = image[model]
  if (price === undefined) return Cost.unknown
  if (price.perImage !== undefined) return Cost.fromTable(price.perImage)
  if (price.byQuality !== undefined) {
    const q = price.byQuality[facts.quality]
    if (q === undefined) return Cost.unknown
    const base = facts.width === 1024 && facts.height === 1024 ? q.square : q.other
    const text = ((price.per1kInputTokens ?? 0) * Math.ceil(facts.promptChars / 4)) / 1000
    return Cost.fromTable(Math.ceil((base + text) * 100 - 1e-9) / 100)
  }
  if (price.perMegapixelByQuality !== undefined) {
    const q = price.perMegapixelByQuality[facts.quality]
    return q === undefined ? Cost.unknown : Cost.fromTable(round((q * facts.width * facts.height) / (1024 * 1024)))
  }
  return Cost.unknown
}

/** The cost of one image-to-video request, from the exact body it sends (so estimates match bills). */
export const videoCost = (model: string, request: Readonly<Record<string, unknown>>): Cost.Cost => {
  const price = video[model]
  if (price === undefined) return Cost.unknown
  const seconds = Number(request.duration)
  const audio = request.generate_audio === true
  if (price.perSecond !== undefined) {
    const rate = audio ? price.perSecondWithAudio : price.perSecond
    return rate !== undefined && Number.isFinite(seconds) && seconds > 0 ? Cost.fromTable(round(rate * seconds)) : Cost.unknown
  }
  if (price.base !== undefined) {
    if (!Number.isFinite(seconds) || seconds <= 0) return Cost.unknown
    return Cost.fromTable(round(price.base.usd + Math.max(0, seconds - price.base.seconds) * price.base.perExtraSecond))
  }
  if (price.perClipByDuration !== undefined) {
    const usd = price.perClipByDuration[String(request.duration)]
    return usd === undefined ? Cost.unknown : Cost.fromTable(usd)
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
