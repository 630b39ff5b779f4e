/**
 * Money, with where the figure came from. An unknown cost is `usd: undefined`, never 0:
 * a reporter shows it as "unknown", and a sum that contains one is marked `known: false`.
 */
export type CostSource = "free" | "reported" | "table" | "unknown"

export interface Cost {
  readonly usd: number | undefined
  readonly source: CostSource
}

export const free: Cost = { usd: 0, source: "free" }
export const unknown: Cost = { usd: undefined, source: "unknown" }
export const reported = (usd: number): Cost => ({ usd, source: "reported" })
export const fromTable = (usd: number): Cost => ({ usd, source: "table" })

export interface Total {
  readonly usd: number
  readonly known: boolean
}

export const zero: Total = { usd: 0, known: true }

export const add = (total: Total, cost: Cost | Total): Total =>
  "source" in cost
    ? { usd: total.usd + (cost.usd ?? 0), known: total.known && cost.usd !== undefined }
    : { usd: total.usd + cost.usd, known: total.known && cost.known }

export const sum = (costs: Iterable<Cost | Total>): Total => {
  let total = zero
  for (const c of costs) total = add(total, c)
  return total
}

export const format = (cost: Cost | Total): string => {
  const usd = "source" in cost ? cost.usd : cost.usd
  const known = "source" in cost ? cost.usd !== undefined : cost.known
  if (usd === undefined) return "unknown"
  const text = usd === 0 ? "$0" : usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`
  return known ? text : `${text}+unknown`
}

/** One request to an outside service, as the run log and the node's record keep it. */
export interface RequestRecord {
  readonly provider: string
  readonly model: string
  readonly requestId?: string | undefined
  readonly startedAt: number
  readonly endedAt: number
  readonly queueMs?: number | undefined
  readonly cost: Cost
  readonly attempt?: number | undefined
  /** Set on a request that knowingly pays again for something already paid for: why (e.g. "the answer
   *  arrived damaged"). Every one is listed in the build's result (`repaid`) and in `report`. */
  readonly repaid?: string | undefined
}
