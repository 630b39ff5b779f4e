/**
 * ElevenLabs API prices, USD per 1,000 characters, by model. ElevenLabs reports the characters it billed in
 * each answer (`x-character-count`); the dollar rate per character is the plan's, so it is a table here.
 * Unknown models are priced unknown, never $0.
 */
import * as Cost from "../../engine/Cost.ts"

export interface Price {
  readonly per1kChars: number
  readonly source: string
  readonly checkedOn: string
}

const puter = "https://developer.puter.com/tutorials/elevenlabs-api-pricing (third party; another says $0.06 / $0.12 on Business: sources disagree)"

export const prices: Readonly<Record<string, Price>> = {
  eleven_flash_v2_5: { per1kChars: 0.05, source: puter, checkedOn: "2026-12-01" },
  eleven_turbo_v2_5: { per1kChars: 0.05, source: puter, checkedOn: "2026-12-01" },
  eleven_multilingual_v2: { per1kChars: 0.1, source: puter, checkedOn: "2026-12-01" },
  eleven_v3: { per1kChars: 0.1, source: puter, checkedOn: "2026-12-01" }
}

export const checkedOn = "2026-12-01"
export const source = "src/providers/elevenlabs/prices.ts (per 1,000 characters, × the x-character-count ElevenLabs reports)"

/** The cost of `characters` billed characters. */
export const costOf = (model: string, characters: number): Cost.Cost => {
  const price = prices[model]
  return price === undefined ? Cost.unknown : Cost.fromTable(Math.round(price.per1kChars * characters * 1e3) / 1e6)
}
