/**
 * The scheduler: builds the nodes a build asks for, each at most once, in dependency order, as
 * concurrently as the named pools allow.
 *
 * Its rooms, in the order a node goes through them (`src/engine/scheduler/`):
 *   Graph    what is known of the graph, cycles, expansions (dynamic dependencies, as in Shake)
 *   Walk     starting a node once its inputs are settled; a node's path from its inputs to its result
 *   Fresh    the fresh check: a stored result for its fingerprint (the no-op fast path uses the same one)
 *   Plan     a dry run's notes and guesses instead of running
 *   Run      running the rule in its pool (a span carrying cost and provider), verifying, storing
 *   Budget   the cost cap
 *   Retry    whether a failure is tried again (`src/engine/Retry.ts`)
 *   Outcome  records, the recorded graph, the summary
 * One `BuildState` (scheduler/State.ts) holds what a build knows while it runs.
 *
 * A node's fingerprint is hashed over the output hashes of its immediate dependencies; if the store has a
 * result for it, the node is done (this is also the early cutoff: a rebuilt dependency whose output did
 * not change leaves the fingerprint as it was). Otherwise its rule runs, its outputs are verified and
 * stored, and only then is its record written.
 */
import { Deferred, Effect, Exit, Runtime, RuntimeFlags, Scope } from "effect"
import type * as Cost from "./Cost.ts"
import { BuildEvents } from "./Events.ts"
import type * as Fingerprint from "./Fingerprint.ts"
import type { Built, NodeSpec, Rule } from "./Node.ts"
import type { Pool } from "./Pool.ts"
import type { Retryable } from "./Retry.ts"
import { Store, type State, type StoreError } from "./Store.ts"
import { CycleError } from "./scheduler/Errors.ts"
import { resolveFresh } from "./scheduler/Fresh.ts"
import { depsOf, edgesOf, findCycle } from "./scheduler/Graph.ts"
import { collectMisses, finalState, partialState, writeState } from "./scheduler/Outcome.ts"
import * as Recorded from "./scheduler/Recorded.ts"
import * as BuildState from "./scheduler/State.ts"
import { ensure } from "./scheduler/Walk.ts"

export { findCycle }
export { BudgetExceeded, CycleError, ExpansionFailed, NodeDefect, NodeTimeout, OutputMissing, UnknownTarget } from "./scheduler/Errors.ts"
export type { Failure, Repaid } from "./scheduler/State.ts"

export interface BuildOptions {
  /** Ids to build; each with what it needs, nothing downstream. */
  readonly targets: ReadonlyArray<string>
  /** Ids to rebuild even when fresh (a new take; the old one stays in the store). */
  readonly force?: ReadonlySet<string> | undefined
  readonly keepGoing?: boolean | undefined
  /** Plan only: report what would run and its estimated cost; run nothing, pay nothing. */
  readonly dryRun?: boolean | undefined
  /** Retries of a failed attempt that may be tried again (the original spec asks for 1). */
  readonly retries?: number | undefined
  readonly retryBaseMs?: number | undefined
  /** Which failures may be tried again without paying twice (see Retry.ts). Default: the `transient` flag. */
  readonly retryable?: Retryable | undefined
  /** Pool name → how many nodes may run in it at once. */
  readonly pools?: { readonly [pool: string]: number } | undefined
  readonly defaultPoolLimit?: number | undefined
  /**
   * Pools shared with other builds running in this process (`storyshot serve` builds several projects at once
   * under one set of provider limits): a pool named here is used as it is; one that is missing is made with
   * this build's limit and added, for the builds that follow.
   */
  readonly sharedPools?: Map<string, Pool> | undefined
  readonly timeoutMs?: number | undefined
  /** No new paid node starts once recorded spend plus what is running would pass this. */
  readonly maxCostUsd?: number | undefined
  /** A build of every target replaces the recorded graph; a partial one merges into it. */
  readonly complete?: boolean | undefined
  /** Within a pool, nodes of higher priority get a slot first (default: the critical path to each target,
   *  then the targets' order; see scheduler/Priority.ts). */
  readonly priority?: ((node: NodeSpec) => number) | undefined
  /**
   * Taken before a paid node pays, and held until its record is written (the effect's scope): a lease on the
   * fingerprint that other machines respect (`storyshot worker`), so that two of them never pay for one node.
   */
  readonly claim?: ((node: NodeSpec, fingerprint: string) => Effect.Effect<void, never, Scope.Scope>) | undefined
  /** How long a node typically works in its pool, in ms, for a first run's critical path (the last build's
   *  records are used first). The film's defaults live in src/Pools.ts. */
  readonly estimateMs?: ((node: NodeSpec, pool: string) => number | undefined) | undefined
  /**
   * What the graph is made from besides its declared nodes: a key naming the code and everything the rules
   * and expansions read (the film's config, text, inputs). With it, a complete build records its graph under
   * it, and a later build with the same key, nodes and targets takes that graph whole once the store is found
   * to hold every result (scheduler/Recorded.ts). Leave it out where each node's fingerprint data is wanted
   * (`why`), or when the caller cannot name its code.
   */
  readonly recorded?: string | undefined
}

export interface BuildResult {
  readonly built: ReadonlyArray<string>
  readonly cached: ReadonlyArray<string>
  /** Each with its one-line message and the typed error it failed with. */
  readonly failed: ReadonlyArray<BuildState.Failure>
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly because: string }>
  readonly wouldBuild: ReadonlyArray<{ readonly id: string; readonly stage: string; readonly estimate: Cost.Cost }>
  readonly blockedByBudget: ReadonlyArray<string>
  readonly cost: Cost.Total
  readonly saved: Cost.Total
  /** Requests of this build that knowingly paid again for something already paid for, and why. */
  readonly repaid: ReadonlyArray<BuildState.Repaid>
  /** The store could not be written (a full or failing disk): the build stopped there. */
  readonly storeFailure?: StoreError | undefined
  readonly wallMs: number
  readonly interrupted: boolean
  /** Every node known at the end (the initial ones plus what expansions added). */
  readonly nodes: ReadonlyMap<string, NodeSpec>
  readonly results: ReadonlyMap<string, Built>
  /** Each known node's data dependencies (declared and expanded), for `graph`. */
  readonly edges: (id: string) => ReadonlyArray<string>
  readonly state: State
  /** Each node's fingerprint data as this build computed it (in a dry run, inputs that would be rebuilt
   *  appear as `guess:` hashes): what `why` compares with the last record. */
  readonly data: ReadonlyMap<string, Fingerprint.FingerprintData>
}

export interface Graph<R = never> {
  readonly nodes: ReadonlyArray<NodeSpec>
  readonly rules: { readonly [kind: string]: Rule<any, R> }
}

export const build = <R>(graph: Graph<R>, options: BuildOptions): Effect.Effect<BuildResult, CycleError, Store | BuildEvents | R> =>
  Effect.gen(function* () {
    const store = yield* Store
    const events = yield* BuildEvents
    const dryRun = options.dryRun === true
    const startedAt = Date.now()
    const previous = yield* store.readState
    const scope = yield* Scope.make()
    const state = BuildState.make({
      nodes: graph.nodes,
      rules: graph.rules,
      store,
      events,
      previous,
      scope,
      startedAt,
      settings: {
        targets: options.targets,
        force: options.force ?? new Set<string>(),
        keepGoing: options.keepGoing === true,
        dryRun,
        retries: options.retries ?? 1,
        retryBaseMs: options.retryBaseMs ?? 1000,
        retryable: options.retryable,
        pools: options.pools ?? {},
        defaultPoolLimit: options.defaultPoolLimit ?? 4,
        sharedPools: options.sharedPools,
        timeoutMs: options.timeoutMs ?? 30 * 60_000,
        maxCostUsd: options.maxCostUsd,
        complete: options.complete === true,
        priority: options.priority,
        claim: options.claim,
        estimateMs: options.estimateMs,
        recorded: options.recorded !== undefined && (options.force?.size ?? 0) === 0 ? Recorded.keyOf(options.recorded, graph.nodes, options.targets) : undefined
      }
    })
    // What forks the nodes let in at their pool's door (Walk.ts `gate`): this build's services, interruptible.
    state.runtime = Runtime.enableRuntimeFlag(yield* Effect.runtime<any>(), RuntimeFlags.Interruption)
    // Leftovers of earlier builds: in-flight entries already recorded (a kill between the record and the
    // clear), temp files of processes that are gone. A dry run changes nothing.
    if (!dryRun) yield* store.housekeep

    // The no-op fast path first: what it resolves cannot lie on a cycle (a node resolves only after its
    // inputs), so the cycle search covers only what is left, and a no-op build makes none.
    // Nothing changed since the last complete build (its key, and every result still stored): its graph is this
    // one's. Otherwise the fast path below, node by node.
    const taken = state.settings.recorded !== undefined && Recorded.take(state, previous, state.settings.recorded)
    if (!taken) for (const id of options.targets) resolveFresh(state, id, 0)
    if (options.targets.some((id) => !state.built.has(id))) {
      const cycle = findCycle(options.targets, depsOf(state), state.built)
      if (cycle) {
        yield* Scope.close(scope, Exit.void)
        return yield* new CycleError({ cycle, message: `dependency cycle: ${cycle.join(" → ")}` })
      }
    }
    yield* Effect.forEach(state.pending.splice(0), events.emit, { discard: true })

    // A target settles as soon as one of its inputs misses, but nodes already running still finish and are
    // recorded (a paid request in flight is paid for either way; with the cost cap or --keep-going, the
    // rest of the graph is still wanted). Only fail-fast (`abort`) or an interrupt stops them.
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      const pending = [...state.results.values(), ...state.expansions.values()]
      return Effect.forEach(pending, (d) => Effect.exit(Deferred.await(d as Deferred.Deferred<unknown, BuildState.Miss>)), { discard: true }).pipe(
        Effect.flatMap(() => (state.results.size + state.expansions.size > pending.length ? drain : Effect.void))
      )
    })
    const main = Effect.forEach(options.targets, (id) => Effect.ignore(Effect.suspend(() => ensure(state, id))), {
      concurrency: "unbounded",
      discard: true
    }).pipe(Effect.zipRight(drain))
    // Nothing waiting at a pool's door starts any more (Walk.ts `gate`), and every running node is stopped.
    const stopAll = Effect.suspend(() => {
      state.stopping = true
      return Scope.close(scope, Exit.void)
    })
    // Interrupted (Ctrl-C): stop every running node (their finalizers kill processes and cancel requests),
    // then record the graph as far as it got; every finished node's record is already in the store.
    const interrupted = yield* Effect.raceFirst(main, Deferred.await(state.abort)).pipe(
      Effect.as(false),
      Effect.onInterrupt(() =>
        stopAll.pipe(Effect.zipRight(dryRun ? Effect.void : Effect.ignore(store.writeState(partialState(state)))))
      ),
      Effect.ensuring(stopAll)
    )

    yield* collectMisses(state)
    for (const w of yield* store.warnings) yield* events.emit({ _tag: "Warning", message: w.message })
    const next = finalState(state)
    yield* writeState(state, next)

    const result: BuildResult = {
      built: state.builtIds,
      cached: state.cachedIds,
      failed: state.failed,
      skipped: state.skipped,
      wouldBuild: state.wouldBuild,
      blockedByBudget: state.blockedByBudget,
      cost: state.spent,
      saved: state.saved,
      repaid: state.repaid,
      storeFailure: state.storeFailure,
      wallMs: Date.now() - state.startedAt,
      interrupted,
      nodes: state.specs,
      results: state.built,
      edges: edgesOf(state),
      state: next,
      data: state.data
    }
    return result
  }).pipe(
    Effect.withSpan("Scheduler.build", { attributes: { "build.targets": options.targets.length, "build.dryRun": options.dryRun === true } })
  ) as Effect.Effect<BuildResult, CycleError, Store | BuildEvents | R>
