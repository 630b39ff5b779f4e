/**
 * Everything one build knows while it runs, in one object: the graph as far as it is known, each node's
 * result, what the summary will say, the money, the pools. Each room of the scheduler (Graph, Walk, Fresh,
 * Plan, Run, Budget, Outcome) reads and writes this and nothing else; a build makes one and drops it.
 */
import { Deferred, type Effect, FiberId, type Runtime, type Scope } from "effect"
import type * as Cost from "../Cost.ts"
import type { BuildEvent, BuildEvents } from "../Events.ts"
import type * as Fingerprint from "../Fingerprint.ts"
import type { Built, BuiltLookup, Dep, NodeSpec, Rule } from "../Node.ts"
import * as Pool from "../Pool.ts"
import * as Priority from "./Priority.ts"
import type { Retryable } from "../Retry.ts"
import type { State, StateNode, Store, StoreError } from "../Store.ts"

/** Why a node did not produce a result in this build. `cause` is the typed error of a node's own failure. */
export type Miss =
  | { readonly _tag: "Failed"; readonly id: string; readonly error: string; readonly cause: unknown }
  | { readonly _tag: "Upstream"; readonly id: string; readonly failed: string }
  | { readonly _tag: "WouldBuild"; readonly id: string }
  | { readonly _tag: "Budget"; readonly id: string }

export interface Failure {
  readonly id: string
  /** The one-line message (what `--json` prints). */
  readonly error: string
  /** The error itself, typed as the rule (or the store, or the scheduler) failed with it. */
  readonly cause: unknown
}

export interface Repaid {
  readonly id: string
  readonly usd: number | null
  readonly why: string
}

export interface Settings {
  readonly targets: ReadonlyArray<string>
  readonly force: ReadonlySet<string>
  readonly keepGoing: boolean
  readonly dryRun: boolean
  readonly retries: number
  readonly retryBaseMs: number
  readonly retryable: Retryable | undefined
  readonly pools: { readonly [pool: string]: number }
  readonly defaultPoolLimit: number
  /** Pools shared with other builds in this process (the server's): a pool is taken from here, or made here. */
  readonly sharedPools: Map<string, Pool.Pool> | undefined
  readonly timeoutMs: number
  readonly maxCostUsd: number | undefined
  readonly complete: boolean
  /** Within a pool, higher runs first; equal priorities keep arrival order. Default: `Priority.ts`. */
  readonly priority: ((node: NodeSpec) => number) | undefined
  readonly claim: ((node: NodeSpec, fingerprint: string) => Effect.Effect<void, never, Scope.Scope>) | undefined
  /** A first run's guess at how long a node works in its pool, in ms (the last build's records come first). */
  readonly estimateMs: ((node: NodeSpec, pool: string) => number | undefined) | undefined
  /** The key this build's recorded graph is written with, and taken whole by (Recorded.ts); none: neither. */
  readonly recorded: string | undefined
}

export interface BuildState {
  readonly settings: Settings
  readonly rules: { readonly [kind: string]: Rule<any, any> }
  readonly store: Store["Type"]
  readonly events: BuildEvents["Type"]
  readonly startedAt: number
  /** The graph recorded by the last build (its nodes' fingerprints and outputs). */
  readonly previous: State

  // The graph as far as it is known: the declared nodes, and what expansions added.
  readonly specs: Map<string, NodeSpec>
  readonly expandedDeps: Map<string, ReadonlyArray<string>>
  readonly newExpansions: Record<string, ReadonlyArray<{ id: string; kind: string; stage: string }>>

  // Each node's result: a deferred once a fiber asked for it; `built` as soon as it is known.
  readonly results: Map<string, Deferred.Deferred<Built, Miss>>
  readonly expansions: Map<string, Deferred.Deferred<ReadonlyArray<Dep>, Miss>>
  readonly built: Map<string, Built>
  readonly lookup: BuiltLookup
  readonly data: Map<string, Fingerprint.FingerprintData>
  readonly stateNodes: Map<string, StateNode>

  // Walking: a node waiting for inputs is a counter and a callback, not a parked fiber.
  readonly settled: Set<string>
  readonly listeners: Map<string, Array<Effect.Effect<void, never, any>>>
  /** Nodes the synchronous fast path gave up on (the fibers take them). */
  readonly slow: Set<string>
  /** Events the synchronous fast path could not emit as it went. */
  readonly pending: Array<BuildEvent>
  /** Nodes a dry run already counted. */
  readonly noted: Set<string>
  /** Nodes whose miss was reported in the summary. */
  readonly reported: Set<string>

  // What the summary says.
  readonly builtIds: Array<string>
  readonly cachedIds: Array<string>
  readonly failed: Array<Failure>
  readonly skipped: Array<{ id: string; because: string }>
  readonly wouldBuild: Array<{ id: string; stage: string; estimate: Cost.Cost }>
  readonly blockedByBudget: Array<string>
  readonly repaid: Array<Repaid>

  // Money: what finished nodes cost, what cache hits saved, the estimates of paid nodes still running.
  spent: Cost.Total
  saved: Cost.Total
  reserved: number

  readonly pools: Map<string, Pool.Pool>
  /** Per pool, how many of its nodes may be under way at once (`admissionFor`). */
  readonly admissions: Map<string, Pool.Pool>
  /** Nodes let in at their pool's door before their fiber was forked (Walk.ts `gate`), and since when they were ready. */
  readonly admitted: Map<string, number>
  /** What forks a node let in at the door (from whichever fiber gave the permit back). */
  runtime: Runtime.Runtime<any> | undefined
  /** The build is stopping (fail-fast, a full disk, an interrupt): a node let in at the door now does not start. */
  stopping: boolean
  /** Expansions that waited for `after` nodes, let through one per turn of the event loop (Walk.ts `behindTheQueue`). */
  lane: { readonly line: Pool.Pool; turning: boolean } | undefined
  /** Which waiting node gets a slot first (critical path, then the film's order). */
  readonly priority: Priority.PriorityState
  /** Fail-fast: completing it stops every running node. */
  readonly abort: Deferred.Deferred<void>
  /** The nodes' fibers live here; closing it interrupts them. */
  readonly scope: Scope.CloseableScope
  /** The first write the store could not take (a full or failing disk): the build stops there. */
  storeFailure: StoreError | undefined
  /** The recorded graph was taken whole (Recorded.ts): nothing to write back. */
  taken: boolean
}

export const make = (
  fields: Pick<BuildState, "settings" | "rules" | "store" | "events" | "previous" | "scope" | "startedAt"> & {
    readonly nodes: ReadonlyArray<NodeSpec>
  }
): BuildState => {
  const built = new Map<string, Built>()
  const lookup: BuiltLookup = {
    get: (id) => {
      const b = built.get(id)
      if (!b) throw new Error(`${id} was read before it was built`)
      return b
    },
    value: (id, output) => {
      const o = lookup.get(id).outputs[output]
      if (!o || o.value === undefined) throw new Error(`${id} has no value output "${output}"`)
      return o.value
    }
  }
  const specs = new Map<string, NodeSpec>()
  for (const n of fields.nodes) specs.set(n.id, n)
  return {
    settings: fields.settings,
    rules: fields.rules,
    store: fields.store,
    events: fields.events,
    previous: fields.previous,
    scope: fields.scope,
    startedAt: fields.startedAt,
    specs,
    expandedDeps: new Map(),
    newExpansions: {},
    results: new Map(),
    expansions: new Map(),
    built,
    lookup,
    data: new Map(),
    stateNodes: new Map(),
    settled: new Set(),
    listeners: new Map(),
    slow: new Set(),
    pending: [],
    noted: new Set(),
    reported: new Set(),
    builtIds: [],
    cachedIds: [],
    failed: [],
    skipped: [],
    wouldBuild: [],
    blockedByBudget: [],
    repaid: [],
    spent: { usd: 0, known: true },
    saved: { usd: 0, known: true },
    reserved: 0,
    pools: new Map(),
    admissions: new Map(),
    admitted: new Map(),
    runtime: undefined,
    stopping: false,
    lane: undefined,
    priority: Priority.make(),
    abort: Deferred.unsafeMake<void>(FiberId.none),
    storeFailure: undefined,
    taken: false
  }
}

/** The named pool, made on first use with its configured limit. */
export const poolFor = (state: BuildState, name: string): Pool.Pool => {
  const pools = state.settings.sharedPools ?? state.pools
  let pool = pools.get(name)
  if (!pool) {
    // Shared by several builds (serve's jobs), a pool re-reads its waiters' urgencies when the build that made
    // it says they changed; another build's changes are read at that build's next re-read of it.
    pool = Pool.make(state.settings.pools[name] ?? state.settings.defaultPoolLimit, () => state.priority.epoch)
    pools.set(name, pool)
  }
  return pool
}

/**
 * How many of a pool's nodes may be under way at once: its slots, and as many again with a margin, for the
 * nodes that wait on a retry, a transfer or their checks (their slot given back). The others wait at this
 * door, the most urgent first, as a parked fiber that holds only its arguments: a node under way holds its
 * attempt's whole machinery, and a draft of 433 sentences had 2,400 of them waiting on the ffmpeg pool (42 MB
 * of the main heap).
 */
export const admissionFor = (state: BuildState, name: string): Pool.Pool => {
  let door = state.admissions.get(name)
  if (!door) {
    const limit = poolFor(state, name).limit
    door = Pool.make(Math.max(4 * limit, 2 * limit + 8), () => state.priority.epoch)
    state.admissions.set(name, door)
  }
  return door
}
