/**
 * Anthropic prices, USD per 1M tokens (input / output), by model id (dated snapshots match their family).
 * Source: platform.claude.com/docs/about-claude/pricing and the models overview (research notes §9), checked
 * 2026-12-01. Anthropic reports tokens, never dollars: the cost is computed. Unknown models: unknown, never $0.
 */
import * as Cost from "../../engine/Cost.ts"

export const checkedOn = "2026-12-01"
export const source = "src/providers/anthropic/prices.ts (platform.claude.com/docs/about-claude/pricing, per token of the answer's usage)"

// The first match wins: the "-5-5" rows come before the families they would otherwise fall into.
const table: ReadonlyArray<readonly [RegExp, number, number]> = [
  [/^claude-opus-5-5/, 4, 20],
  [/^claude-haiku-5-5/, 0.1, 0.5],
  [/^claude-haiku-4-5/, 1, 5],
  [/^claude-sonnet-4-(5|6)/, 3, 15],
  [/^claude-sonnet-5(-5)?($|-)/, 2, 10],
  [/^claude-opus-4-(5|6)/, 5, 25],
  [/^claude-opus-5($|-)/, 5, 25]
]

export const priceOf = (model: string): { input: number; output: number } | undefined => {
  const row = table.find(([pattern]) => pattern.test(model))
  return row === undefined ? undefined : { input: row[1] / 1e6, output: row[2] / 1e6 }
}

export const costOf = (model: string, input: number, output: number): Cost.Cost => {
  const price = priceOf(model)
  return price === undefined ? Cost.unknown : Cost.fromTable(input * price.input + output * price.output)
}
