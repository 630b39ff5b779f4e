/**
 * A dry run's side of the fresh check: a node that is not fresh is noted with its estimate instead of run,
 * and stands in for itself with its rule's guess (so an expansion can still be estimated, paying nothing).
 * A node whose input would be rebuilt would be rebuilt too: early cutoff cannot be known ahead.
 */
import { Effect } from "effect"
import * as Cost from "../Cost.ts"
import type { Json } from "../Hash.ts"
import type { Built, NodeSpec, Rule } from "../Node.ts"
import { ruleOf } from "./Graph.ts"
import type { BuildState, Miss } from "./State.ts"

export const estimateOf = (rule: Rule<any, any>, spec: NodeSpec): Cost.Cost =>
  rule.estimate?.(spec) ?? (rule.paid(spec) ? Cost.unknown : Cost.free)

/** Counts a node in the plan (once) with its estimate and why it would be built. */
export const noteWouldBuild = (state: BuildState, spec: NodeSpec, reason: string) =>
  Effect.suspend(() => {
    if (state.noted.has(spec.id)) return Effect.void
    state.noted.add(spec.id)
    const estimate = estimateOf(ruleOf(state, spec), spec)
    state.wouldBuild.push({ id: spec.id, stage: spec.stage, estimate })
    return state.events.emit({ _tag: "WouldBuild", id: spec.id, stage: spec.stage, estimate, reason })
  })

/** A node whose input would be rebuilt is rebuilt too. */
export const wouldBuildUpstream = (state: BuildState, id: string): Effect.Effect<never, Miss> =>
  Effect.suspend(() => {
    const spec = state.specs.get(id)
    return (spec ? noteWouldBuild(state, spec, "an input would be rebuilt") : Effect.void).pipe(
      Effect.zipRight(Effect.fail<Miss>({ _tag: "WouldBuild", id }))
    )
  })

/** Stands in for an unbuilt node with the rule's guess, so expansions can still be estimated. */
export const guessOrMiss = (state: BuildState, spec: NodeSpec, rule: Rule<any, any>): Effect.Effect<Built, Miss> =>
  Effect.suspend(() => {
    if (!rule.guess) return Effect.fail<Miss>({ _tag: "WouldBuild", id: spec.id })
    let values: { readonly [name: string]: Json }
    try {
      values = rule.guess(spec, state.lookup)
    } catch {
      return Effect.fail<Miss>({ _tag: "WouldBuild", id: spec.id })
    }
    const outputs = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { hash: `guess:${spec.id}#${k}`, value: v }]))
    const guessed: Built = { id: spec.id, fingerprint: `guess:${spec.id}`, outputs, hash: `guess:${spec.id}` }
    state.built.set(spec.id, guessed)
    return Effect.succeed(guessed)
  })
