/**
 * The fresh check: is there a stored result for this node's fingerprint? One cache-hit path, used by the
 * synchronous no-op fast path (`resolveFresh`) and by the nodes' fibers (`Walk.runNode`) alike.
 *
 * A hit is looked up first in the last build's state (its fingerprint matches and its files are there: a
 * few stat calls, no record read), then in the records (a result from an older build or another setting).
 */
import { Deferred, Effect, Exit, FiberId, Option } from "effect"
import * as Cost from "../Cost.ts"
import type { BuildEvent } from "../Events.ts"
import * as Fingerprint from "../Fingerprint.ts"
import type { Built, Dep, NodeSpec, Outputs } from "../Node.ts"
import type { NodeRecord } from "../Store.ts"
import { addExpansion, undoExpansion } from "./Graph.ts"
import { record } from "./Outcome.ts"
import type { BuildState, Miss } from "./State.ts"

export interface Hit {
  readonly outputs: Outputs
  readonly hash: string
  /** What the stored result cost to make, and how long it took: what this build saved. */
  readonly cost: Cost.Cost
  readonly ms: number
  readonly workMs?: number | undefined
  readonly work?: { readonly [pool: string]: number } | undefined
}

const fromState = (state: BuildState, id: string, fingerprint: string): Hit | undefined => {
  const last = state.previous.nodes[id]
  if (last?.outputs && last.fingerprint === fingerprint && state.store.hasRecordWith(fingerprint, last.outputs))
    return { outputs: last.outputs, hash: last.hash, cost: last.cost ?? Cost.unknown, ms: last.ms ?? 0, workMs: last.workMs, work: last.work }
  return undefined
}

const fromRecord = (r: NodeRecord): Hit => ({ outputs: r.outputs, hash: r.hash, cost: r.cost, ms: r.endedAt - r.startedAt, workMs: r.workMs, work: r.work })

/** The fibers' look-up. */
export const findStored = (state: BuildState, id: string, fingerprint: string): Effect.Effect<Hit | undefined> =>
  Effect.suspend(() => {
    const hit = fromState(state, id, fingerprint)
    if (hit) return Effect.succeed(hit)
    return Effect.map(state.store.getRecord(fingerprint), (r) => (Option.isSome(r) ? fromRecord(r.value) : undefined))
  })

/** The fast path's look-up: the same, synchronously (a store that cannot answer at once leaves it to a fiber). */
const findStoredSync = (state: BuildState, id: string, fingerprint: string): Hit | undefined => {
  const hit = fromState(state, id, fingerprint)
  if (hit) return hit
  const r = Effect.runSyncExit(state.store.getRecord(fingerprint))
  return Exit.isSuccess(r) && Option.isSome(r.value) ? fromRecord(r.value.value) : undefined
}

/** Takes a stored result as this node's: recorded for the summary and the state; returns the event to emit. */
export const takeHit = (
  state: BuildState,
  spec: NodeSpec,
  fingerprint: string,
  deps: ReadonlyArray<Dep>,
  data: Fingerprint.FingerprintData,
  hit: Hit
): { readonly result: Built; readonly event: BuildEvent } => {
  const result: Built = { id: spec.id, fingerprint, outputs: hit.outputs, hash: hit.hash }
  state.data.set(spec.id, data)
  const rule = state.rules[spec.kind]
  record(state, spec, fingerprint, deps, result, hit.cost, hit.ms, rule ? { pool: rule.pool(spec), workMs: hit.workMs, byPool: hit.work } : undefined)
  state.cachedIds.push(spec.id)
  state.saved = Cost.add(state.saved, hit.cost)
  return { result, event: { _tag: "Cached", id: spec.id, stage: spec.stage, saved: hit.cost, savedMs: hit.ms } }
}

/** A deferred that is already done: what a fiber that asks for a fast-path node gets. */
export const resolved = <A>(value: A) => {
  const deferred = Deferred.unsafeMake<A, Miss>(FiberId.none)
  Deferred.unsafeDone(deferred, Exit.succeed(value))
  return deferred
}

/** Resolves each of these inputs that can be; whether all could. */
const allFresh = (state: BuildState, inputs: ReadonlyArray<Dep | string>, depth: number): boolean => {
  let all = true
  for (const d of inputs) if (!resolveFresh(state, typeof d === "string" ? d : d.id, depth + 1)) all = false
  return all
}

/**
 * The no-op fast path. A node whose inputs are all fresh and whose fingerprint has a stored result is
 * resolved here, synchronously and without a fiber, so a no-op build of 10,000 nodes is a tight loop of
 * hashing and look-ups. Anything else (no result, forced, a failed expansion, a very deep chain) is left to
 * the fibers, which pick up from what this resolved. Events are queued in `state.pending`.
 */
export const resolveFresh = (state: BuildState, id: string, depth: number): Built | undefined => {
  const done = state.built.get(id)
  if (done) return done
  if (state.slow.has(id)) return undefined
  const spec = state.specs.get(id)
  const miss = () => {
    state.slow.add(id)
    return undefined
  }
  if (!spec || depth > 1000 || state.settings.force.has(id) || state.results.has(id)) return miss()
  // Every input is tried, not only up to the first that misses: after an edit, the fresh part of the graph
  // (all but a sentence's path) is still resolved here, and the fibers run only what is stale.
  if (!allFresh(state, spec.deps, depth)) return miss()
  let extra: ReadonlyArray<Dep> = []
  if (spec.expand) {
    if (state.expansions.has(id)) return miss()
    if (!allFresh(state, spec.after ?? [], depth)) return miss()
    let expansion: ReturnType<NonNullable<NodeSpec["expand"]>>
    try {
      expansion = spec.expand(state.lookup)
    } catch {
      return miss()
    }
    if (addExpansion(state, id, expansion)) {
      // Let the fibers expand it again and report the cycle.
      undoExpansion(state, id)
      return miss()
    }
    state.expansions.set(id, resolved<ReadonlyArray<Dep>>(expansion.deps))
    extra = expansion.deps
    if (!allFresh(state, extra, depth)) return miss()
  }
  const deps = extra.length ? [...spec.deps, ...extra] : spec.deps
  const data = Fingerprint.data(spec, deps, state.lookup.get)
  const fingerprint = Fingerprint.of(data)
  const hit = findStoredSync(state, id, fingerprint)
  if (!hit) return miss()
  const { result, event } = takeHit(state, spec, fingerprint, deps, data, hit)
  state.pending.push({ _tag: "Discovered", nodes: [{ id, stage: spec.stage }] }, event)
  return result
}
