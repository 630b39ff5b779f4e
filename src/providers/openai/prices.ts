/**
 * OpenAI image-model prices, USD per token, for computing a request's cost from the `usage` the API
 * returns (the Images API reports tokens, never dollars).
 *
 * Source: OpenAI's model pages and pricing page (developers.openai.com/api/docs/models/<model>,
 * openai.com/api/pricing), per 1M tokens, as read in December 2025; gpt-image-1 was retired in Oct 2026 but
 * its price stays so old records and a still-working alias are priced. Verify before relying on them: a model
 * missing here is priced `Cost.unknown`, never $0.
 */
export interface ImagePrice {
  /** Text tokens in the prompt. */
  readonly textInput: number
  /** Image tokens in the input (edits; 0 for plain generation). */
  readonly imageInput: number
  /** Image tokens in the output: the bulk of the bill. */
  readonly imageOutput: number
  /** Text tokens in the output (reported by newer models in `output_tokens_details`). */
  readonly textOutput: number
}

const perMillion = (usd: number): number => usd / 1_000_000

export const imagePrices: Readonly<Record<string, ImagePrice>> = {
  "gpt-image-1": {
    textInput: perMillion(5),
    imageInput: perMillion(10),
    imageOutput: perMillion(40),
    textOutput: perMillion(40)
  },
  "gpt-image-1.5": {
    textInput: perMillion(5),
    imageInput: perMillion(8),
    imageOutput: perMillion(32),
    textOutput: perMillion(10)
  },
  "gpt-image-1-mini": {
    textInput: perMillion(2),
    imageInput: perMillion(2.5),
    imageOutput: perMillion(8),
    textOutput: perMillion(8)
  },
  // OpenAI's public price, as fal quotes it for `openai/gpt-image-2` (https://fal.ai/models/openai/gpt-image-2/llms.txt,
  // checked 2026-12-01): text $5 in / $10 out, image $8 in / $30 out per 1M tokens.
  "gpt-image-2": {
    textInput: perMillion(5),
    imageInput: perMillion(8),
    imageOutput: perMillion(30),
    textOutput: perMillion(10)
  }
}

/** The price for a model name, also for dated snapshots ("gpt-image-1.5-2025-12-16"). */
export const priceOf = (model: string): ImagePrice | undefined =>
  imagePrices[model] ?? imagePrices[model.replace(/-\d{4}-\d{2}-\d{2}$/, "")]

/** When the figures above were last read from OpenAI's pages. */
export const checkedOn = "2025-12 (OpenAI model and pricing pages; verify before relying on them)"

/** Speech (`POST /audio/speech`): tts-1 and tts-1-hd per character of input; gpt-4o-mini-tts per token
 *  (about 1 text token per 4 characters in, ~$0.015 a minute of audio out). No usage comes back: computed. */
export interface SpeechPrice {
  readonly perChar?: number
  readonly textInputPerToken?: number
  /** USD per second of audio, for token-priced models (their audio output tokens are not reported). */
  readonly perAudioSecond?: number
  readonly source: string
  readonly checkedOn: string
}

const speechSource = "OpenAI pricing page (openai.com/api/pricing), from memory, not re-read: research notes §6"
export const speechPrices: Readonly<Record<string, SpeechPrice>> = {
  "tts-1": { perChar: 15 / 1e6, source: speechSource, checkedOn: "2026-12-01 (unverified)" },
  "tts-1-hd": { perChar: 30 / 1e6, source: speechSource, checkedOn: "2026-12-01 (unverified)" },
  "gpt-4o-mini-tts": { textInputPerToken: 0.6 / 1e6, perAudioSecond: 0.015 / 60, source: speechSource, checkedOn: "2026-12-01 (unverified)" }
}

/**
 * Mainline models for the background (Responses API) image route: USD per token. The image tool's own tokens
 * are priced as the image model above. Source: OpenAI pricing page, from memory (research notes §7 say the
 * Responses usage reports only these tokens); checked 2026-12-01, unverified.
 */
export const textPrices: Readonly<Record<string, { readonly input: number; readonly output: number }>> = {
  "gpt-5-mini": { input: perMillion(0.25), output: perMillion(2) },
  "gpt-5": { input: perMillion(1.25), output: perMillion(10) },
  "gpt-4.1-mini": { input: perMillion(0.4), output: perMillion(1.6) },
  "gpt-4o-mini": { input: perMillion(0.15), output: perMillion(0.6) },
  "gpt-4.1": { input: perMillion(2), output: perMillion(8) },
  "gpt-4o": { input: perMillion(2.5), output: perMillion(10) }
}
