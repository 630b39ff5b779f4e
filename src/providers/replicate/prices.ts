/**
 * Replicate bills community models by the GPU time a prediction used (`metrics.predict_time`, which every
 * finished prediction reports) × the hardware's rate per second. The hardware is the model's, listed on its
 * page; these rates are from Replicate's pricing page (https://replicate.com/pricing), from memory, NOT
 * re-read here: checked 2026-12-01 (unverified). A model missing here is unknown, never $0.
 */
import * as Cost from "../../engine/Cost.ts"

export const checkedOn = "2026-12-01 (rates unverified)"
export const source = "src/providers/replicate/prices.ts (metrics.predict_time reported per prediction × the hardware's rate, replicate.com/pricing)"

export interface Price {
  readonly hardware: string
  readonly perSecond: number
  /** A typical predict time, for estimates before the call. */
  readonly typicalSeconds: number
}

export const prices: Readonly<Record<string, Price>> = {
  // stability-ai/stable-video-diffusion runs on an A100 (80GB); 25 frames take about a minute.
  "stability-ai/stable-video-diffusion": { hardware: "Nvidia A100 (80GB)", perSecond: 0.0014, typicalSeconds: 60 }
}

const family = (model: string) => model.split(":")[0]!

/** The cost of a finished prediction that used `seconds` of GPU time. */
export const costOf = (model: string, seconds: number | undefined): Cost.Cost => {
  const price = prices[family(model)]
  if (price === undefined || seconds === undefined) return Cost.unknown
  return Cost.fromTable(Math.round(price.perSecond * seconds * 1e6) / 1e6)
}

export const estimate = (model: string): Cost.Cost => {
  const price = prices[family(model)]
  return price === undefined ? Cost.unknown : Cost.fromTable(Math.round(price.perSecond * price.typicalSeconds * 1e6) / 1e6)
}
