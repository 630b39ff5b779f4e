/**
 * The last room: what a node's result leaves behind. The record (written only after the outputs are
 * stored), the node's place in the recorded graph (state and journal), its line in the summary; at the end
 * of the build, the misses collected once per node and the state written.
 */
import { Cause, Deferred, Effect, Exit, Option } from "effect"
import * as Cost from "../Cost.ts"
import { isStoreFailure } from "../Atomic.ts"
import { hashJson } from "../Hash.ts"
import type { Built, Dep, NodeSpec, Outputs } from "../Node.ts"
import type { NodeRecord, State, StoreError } from "../Store.ts"
import { messageOf, NodeDefect } from "./Errors.ts"
import type { BuildState, Miss } from "./State.ts"

/** A node's result, as later nodes and the recorded graph see it. */
export const record = (
  state: BuildState,
  spec: NodeSpec,
  fingerprint: string,
  deps: ReadonlyArray<Dep>,
  result: Built,
  cost: Cost.Cost,
  ms: number,
  work?: { readonly pool: string; readonly workMs: number | undefined; readonly byPool?: { readonly [pool: string]: number } | undefined }
) => {
  state.built.set(spec.id, result)
  state.stateNodes.set(spec.id, {
    id: spec.id,
    kind: spec.kind,
    stage: spec.stage,
    fingerprint,
    deps: [...new Set(deps.map((d) => d.id))],
    hash: result.hash,
    outputs: result.outputs,
    cost,
    ms,
    ...(work
      ? {
        pool: work.pool,
        ...(work.workMs !== undefined ? { workMs: work.workMs } : {}),
        ...(work.byPool && Object.keys(work.byPool).length > 0 ? { work: work.byPool } : {})
      }
      : {})
  })
}

/** Notes the first write the store could not take; the build stops there (see `Walk.fork`). */
export const noteStoreFailure = (state: BuildState, error: unknown) => {
  if (isStoreFailure(error) && state.storeFailure === undefined) state.storeFailure = error as StoreError
}

/** A node's own failure, with its typed error. */
export const failed = (id: string, cause: unknown): Miss => ({ _tag: "Failed", id, error: messageOf(cause), cause })

/**
 * A node that ran: its record, written only now that its outputs are stored; then its in-flight entry
 * cleared (a kill between the two leaves an entry that the next build's housekeeping clears), the journal
 * line, and the Built event.
 */
export const recordBuilt = (
  state: BuildState,
  spec: NodeSpec,
  fields: {
    readonly fingerprint: string
    readonly data: NodeRecord["data"]
    readonly deps: ReadonlyArray<Dep>
    readonly outputs: Outputs
    readonly cost: Cost.Cost
    readonly requests: NodeRecord["requests"]
    readonly startedAt: number
    readonly attempts: number
    readonly previousRecord: NodeRecord | undefined
    /** The node's pool and the time it held slots (what the next build's priorities are estimated from). */
    readonly pool: string
    readonly workMs: number
    readonly workByPool: { readonly [pool: string]: number }
  }
): Effect.Effect<Built, Miss> =>
  Effect.gen(function* () {
    const { fingerprint, outputs, cost, previousRecord: p } = fields
    const id = spec.id
    const hash = hashJson(Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.hash])))
    const ended = Date.now()
    const takes = p ? [...(p.takes ?? []), { outputs: p.outputs, hash: p.hash, createdAt: p.endedAt, cost: p.cost }] : undefined
    const nodeRecord: NodeRecord = {
      fingerprint,
      id,
      kind: spec.kind,
      stage: spec.stage,
      data: fields.data,
      context: spec.context,
      outputs,
      hash,
      cost,
      requests: fields.requests,
      startedAt: fields.startedAt,
      endedAt: ended,
      attempts: fields.attempts,
      pool: fields.pool,
      workMs: fields.workMs,
      ...(Object.keys(fields.workByPool).length > 0 ? { work: fields.workByPool } : {}),
      takes
    }
    yield* state.store.putRecord(nodeRecord).pipe(
      Effect.mapError((e) => {
        noteStoreFailure(state, e)
        return failed(id, e)
      })
    )
    yield* state.store.deleteInflight(fingerprint)
    const result: Built = { id, fingerprint, outputs, hash }
    record(state, spec, fingerprint, fields.deps, result, cost, ended - fields.startedAt, { pool: fields.pool, workMs: fields.workMs, byPool: fields.workByPool })
    // The journal is a hint the records can rebuild: a failed append loses nothing.
    yield* state.store.appendJournal(state.stateNodes.get(id)!).pipe(Effect.ignore)
    state.builtIds.push(id)
    yield* state.events.emit({ _tag: "Built", id, stage: spec.stage, cost, startedAt: fields.startedAt, endedAt: ended, attempts: fields.attempts, outputs })
    return result
  })

/** Why a node's fiber ended without a result, as a miss (a defect becomes a NodeDefect failure). */
const missOf = (id: string, cause: Cause.Cause<Miss>): Miss | undefined => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return failure.value
  if (Cause.isInterruptedOnly(cause)) return undefined
  const defect = Cause.dieOption(cause)
  const value = Option.isSome(defect) ? defect.value : Cause.pretty(cause)
  return failed(id, new NodeDefect({ id, defect: value, message: Option.isSome(defect) ? `internal error: ${messageOf(value)}` : "interrupted" }))
}

/** Collects what did not succeed, once per node, into the summary (and its events). */
export const collectMisses = (state: BuildState) =>
  Effect.gen(function* () {
    for (const [id, deferred] of state.results) {
      const polled = yield* Deferred.poll(deferred)
      if (Option.isNone(polled)) continue
      const exit = yield* Effect.exit(polled.value)
      if (Exit.isSuccess(exit) || state.reported.has(id)) continue
      state.reported.add(id)
      const miss = missOf(id, exit.cause)
      if (!miss) continue
      const stage = state.specs.get(id)?.stage ?? "?"
      if (miss._tag === "Failed" && miss.id === id) {
        state.failed.push({ id, error: miss.error, cause: miss.cause })
        yield* state.events.emit({ _tag: "Failed", id, stage, error: miss.error })
      } else if (miss._tag === "Upstream") {
        state.skipped.push({ id, because: miss.failed })
        yield* state.events.emit({ _tag: "Skipped", id, stage, because: `${miss.failed} failed` })
      } else if (miss._tag === "Failed") {
        // A target that failed because its discovery (another node's expansion) did.
        state.failed.push({ id, error: miss.error, cause: miss.cause })
      }
    }
    for (const [id, deferred] of state.expansions) {
      const polled = yield* Deferred.poll(deferred)
      if (Option.isNone(polled)) continue
      const exit = yield* Effect.exit(polled.value)
      if (Exit.isSuccess(exit)) continue
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure) && failure.value._tag === "Failed" && !state.reported.has(id)) {
        state.reported.add(id)
        state.failed.push({ id, error: failure.value.error, cause: failure.value.cause })
        yield* state.events.emit({ _tag: "Failed", id, stage: state.specs.get(id)?.stage ?? "?", error: failure.value.error })
      }
    }
  })

/** The graph as far as this build got, over the last one (a partial build merges into it). */
export const partialState = (state: BuildState): State => ({
  nodes: { ...state.previous.nodes, ...Object.fromEntries(state.stateNodes) },
  expansions: { ...state.previous.expansions, ...state.newExpansions },
  updatedAt: Date.now()
})

/** The recorded graph at the end: a complete build replaces it; a partial one merges into it. */
export const finalState = (state: BuildState): State =>
  // Taken whole and nothing added: the recorded graph is this build's as it is.
  state.taken && state.builtIds.length === 0 && state.stateNodes.size === Object.keys(state.previous.nodes).length
    ? state.previous
    : state.settings.complete && !state.settings.dryRun && state.failed.length === 0
    ? {
      nodes: Object.fromEntries(state.stateNodes),
      expansions: { ...state.previous.expansions, ...state.newExpansions },
      updatedAt: Date.now(),
      // Only a graph that holds every target's whole closure, with nothing failed, can be taken whole.
      ...(state.settings.recorded !== undefined && state.storeFailure === undefined && state.blockedByBudget.length === 0 && state.skipped.length === 0
        ? { recorded: state.settings.recorded }
        : {})
    }
    : partialState(state)

/** A no-op build leaves the recorded graph as it was: rewriting (and fsyncing) a large state file is skipped. */
const unchanged = (state: BuildState, next: State) =>
  (state.taken && state.builtIds.length === 0) ||
  (state.builtIds.length === 0 &&
  next.recorded === state.previous.recorded &&
  Object.keys(next.nodes).length === Object.keys(state.previous.nodes).length &&
  Object.values(next.nodes).every((n) => {
    const p = state.previous.nodes[n.id]
    return p !== undefined && p.fingerprint === n.fingerprint && p.outputs !== undefined
  }) &&
  hashJson(next.expansions) === hashJson(state.previous.expansions))

/**
 * Writes the recorded graph. Every finished node's record is already in the store, so a failure here loses
 * nothing but the shortcut: a full disk is noted (the build reports it once), anything else is a warning.
 */
export const writeState = (state: BuildState, next: State) =>
  state.settings.dryRun || unchanged(state, next)
    ? Effect.void
    : state.store.writeState(next).pipe(
        Effect.catchAll((e) =>
          Effect.suspend(() => {
            if (isStoreFailure(e)) {
              noteStoreFailure(state, e)
              return Effect.void
            }
            return state.events.emit({ _tag: "Warning", message: e.message })
          })
        )
      )

/** Every re-payment the build's requests reported (a request that knowingly paid again says why). */
export const noteRepaid = (state: BuildState, id: string, request: { readonly repaid?: string | undefined; readonly cost: Cost.Cost }) => {
  if (request.repaid !== undefined) state.repaid.push({ id, usd: request.cost.usd ?? null, why: request.repaid })
}
