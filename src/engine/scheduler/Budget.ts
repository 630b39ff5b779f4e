/**
 * The cost cap (`--max-cost`): no new paid node starts once what finished nodes cost, plus the estimates of
 * paid nodes still running, plus its own estimate would pass the cap. The check is made when the node has
 * its pool slot (the moment it would start paying); its estimate stays reserved until its real cost is
 * counted, so two nodes starting at once cannot both slip under the cap.
 */
import { Effect } from "effect"
import * as Cost from "../Cost.ts"
import type { NodeSpec } from "../Node.ts"
import { BudgetExceeded } from "./Errors.ts"
import type { BuildState } from "./State.ts"

export interface Reservation {
  /** Counts the node's real cost into what the build spent, and gives its estimate back. Once. */
  readonly spend: (cost: Cost.Cost) => void
  /** Gives the estimate back without spending (the node failed or was interrupted). Idempotent. */
  readonly release: () => void
}


/** Reserves a paid node's estimate, or refuses it (BudgetExceeded, with an OverBudget event). */
export const reserve = (state: BuildState, spec: NodeSpec, paid: boolean, estimate: Cost.Cost): Effect.Effect<Reservation, BudgetExceeded> =>
  Effect.suspend(() => {
    const cap = state.settings.maxCostUsd
    if (!paid || cap === undefined) return Effect.succeed<Reservation>({ spend: (cost) => count(state, cost), release: () => {} })
    const need = estimate.usd ?? 0
    if (state.spent.usd + state.reserved + need > cap + 1e-9) {
      state.blockedByBudget.push(spec.id)
      return state.events
        .emit({ _tag: "OverBudget", id: spec.id, stage: spec.stage, estimate, spentUsd: state.spent.usd, runningUsd: state.reserved })
        .pipe(
          Effect.zipRight(
            new BudgetExceeded({
              id: spec.id,
              capUsd: cap,
              spentUsd: state.spent.usd,
              runningUsd: state.reserved,
              message: `${spec.id} not started: its estimate ${Cost.format(estimate)} would take the spend over the $${cap} cap`
            })
          )
        )
    }
    state.reserved += need
    let held = true
    const release = () => {
      if (!held) return
      held = false
      state.reserved -= need
    }
    return Effect.succeed<Reservation>({
      spend: (cost) => {
        count(state, cost)
        release()
      },
      release
    })
  })

/** Adds a finished node's cost to what the build spent. */
export const count = (state: BuildState, cost: Cost.Cost) => {
  state.spent = Cost.add(state.spent, cost)
}
