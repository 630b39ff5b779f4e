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
  }
}

/** The price for a model name, also for dated snapshots ("gpt-image-1.5-2025-12-16"). */
export const priceOf = (model: string): ImagePrice | undefined =>
  imagePrices[model] ?? imagePrices[model.replace(/-\d{4}-\d{2}-\d{2}$/, "")]

/** When the figures above were last read from OpenAI's pages. */
export const checkedOn = "2025-12 (OpenAI model and pricing pages; verify before relying on them)"
