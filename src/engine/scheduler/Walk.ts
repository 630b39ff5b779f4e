/**
 * Walking the graph: each node is started at most once, its fiber forked only once its declared inputs
 * are settled, its expansion (if it has one) run once, and a target not known yet found by expanding what
 * could add it. `runNode` is a node's whole path: its inputs, its expansion, the fresh check, and running
 * it when it is not fresh.
 *
 * Fail-fast by default: the first failure interrupts running nodes (their finalizers kill child processes
 * and cancel queued requests). With keepGoing, every node that does not depend on a failure still
 * finishes. A store that cannot be written (a full disk) stops the build either way.
 */
import { Cause, Deferred, Effect, Exit, FiberId, Option, Runtime } from "effect"
import * as Fingerprint from "../Fingerprint.ts"
import type { Built, Dep, NodeSpec } from "../Node.ts"
import * as Pool from "../Pool.ts"
import { ExpansionFailed, messageOf } from "./Errors.ts"
import { findStored, resolved, resolveFresh, takeHit } from "./Fresh.ts"
import { addExpansion, ruleOf, unknownTarget } from "./Graph.ts"
import { failed } from "./Outcome.ts"
import { guessOrMiss, noteWouldBuild, wouldBuildUpstream } from "./Plan.ts"
import { noteStart } from "./Priority.ts"
import { priorityOf, runRule } from "./Run.ts"
import { admissionFor, type BuildState, type Miss } from "./State.ts"

const stop = (state: BuildState) =>
  Effect.suspend(() => {
    state.stopping = true
    return Deferred.succeed(state.abort, undefined)
  })

/** Runs `body` in the build's scope; its exit lands in `deferred`, then `onDone` runs. */
const fork = <A>(
  state: BuildState,
  deferred: Deferred.Deferred<A, Miss>,
  body: Effect.Effect<A, Miss, any>,
  onDone: Effect.Effect<void, never, any> = Effect.void
) =>
  body.pipe(
    Effect.exit,
    Effect.tap((exit) => {
      // The store cannot take another write: stop, whatever keepGoing says (every node after would fail).
      if (state.storeFailure !== undefined) return stop(state)
      // Fail-fast: a node's own failure (not a dependency's) stops the build.
      if (state.settings.keepGoing || Exit.isSuccess(exit)) return Effect.void
      const failure = Cause.failureOption(exit.cause)
      const own = Option.isNone(failure) ? !Cause.isInterruptedOnly(exit.cause) : failure.value._tag === "Failed"
      return own ? stop(state) : Effect.void
    }),
    Effect.flatMap((exit) => Deferred.done(deferred, exit)),
    Effect.zipRight(onDone),
    Effect.forkIn(state.scope),
    Effect.asVoid
  )

const markSettled = (state: BuildState, id: string) =>
  Effect.suspend(() => {
    state.settled.add(id)
    const waiting = state.listeners.get(id)
    if (!waiting) return Effect.void
    state.listeners.delete(id)
    return Effect.forEach(waiting, (launch) => launch, { discard: true })
  })

/**
 * Awaits dependencies; a dependency's miss becomes this node's (Upstream, or WouldBuild in a dry run).
 * All are started first, then awaited one by one: they run concurrently in their own fibers, and no
 * extra fiber per edge is made (that cost dominated large builds).
 */
const awaitAll = (state: BuildState, id: string, ids: ReadonlyArray<string>) =>
  Effect.forEach(ids, (dep) => start(state, dep, id)).pipe(
    Effect.flatMap((deferreds) => Effect.forEach(deferreds, (d) => Deferred.await(d), { discard: true })),
    Effect.catchAll((miss): Effect.Effect<never, Miss> => {
      if (miss._tag === "WouldBuild") return wouldBuildUpstream(state, id)
      if (miss._tag === "Budget") return Effect.fail({ _tag: "Budget", id })
      return Effect.fail({ _tag: "Upstream", id, failed: miss._tag === "Upstream" ? miss.failed : miss.id })
    })
  )

/**
 * Starts a node (once per build) and returns the deferred its result lands in. A node's fiber is forked
 * only once its declared inputs are settled: a waiting node is a counter and a callback, not a parked
 * fiber (10,000 parked fibers and what they hold dominated a cold build's memory).
 */
export const start = (state: BuildState, id: string, parent?: string): Effect.Effect<Deferred.Deferred<Built, Miss>, never, any> =>
  Effect.suspend(() => {
    noteStart(state, id, parent)
    const existing = state.results.get(id)
    if (existing) return Effect.succeed(existing)
    // Resolved by the no-op fast path: a deferred is made only when a fiber asks. A node the last build made
    // that the fast path has not seen yet is tried on it now: after an edit, every later sentence's shots are
    // added again (their numbers follow the edited sentence's shots) and found fresh here, without a fiber
    // each (in a 12-minute film, 400 fibers' fresh checks held up the edited sentence's prompts by about
    // 0.2 s). A node the last build did not have (a cold build's) goes to its fiber without the attempt.
    const fresh =
      state.built.get(id) ?? (state.slow.has(id) || state.previous.nodes[id] === undefined ? undefined : resolveFresh(state, id, 0))
    if (fresh) {
      const done = resolved(fresh)
      state.results.set(id, done)
      state.settled.add(id)
      const events = state.pending.splice(0)
      return events.length === 0 ? Effect.succeed(done) : Effect.as(Effect.forEach(events, state.events.emit, { discard: true }), done)
    }
    const deferred = Deferred.unsafeMake<Built, Miss>(FiberId.none)
    state.results.set(id, deferred)
    const spec = state.specs.get(id)
    const inputs = [...new Set(spec?.deps.map((d) => d.id) ?? [])]
    const launch = gate(state, id, spec, deferred)
    return state.events.emit({ _tag: "Discovered", nodes: [{ id, stage: spec?.stage ?? "?" }] }).pipe(
      Effect.zipRight(Effect.forEach(inputs, (dep) => start(state, dep, id), { discard: true })),
      Effect.zipRight(
        Effect.suspend(() => {
          const pending = inputs.filter((dep) => !state.settled.has(dep))
          if (pending.length === 0) return launch
          let left = pending.length
          const onInput = Effect.suspend(() => (--left === 0 ? launch : Effect.void))
          for (const dep of pending) {
            const waiting = state.listeners.get(dep)
            if (waiting) waiting.push(onInput)
            else state.listeners.set(dep, [onInput])
          }
          return Effect.void
        })
      ),
      Effect.as(deferred)
    )
  })

/**
 * Forks a node whose inputs are settled. One that runs in a pool and needs nothing more (no expansion, no
 * `after` nodes) waits at its pool's door first (State.admissionFor), as an entry in the door's line and not
 * as a fiber: a cold draft of 433 sentences had 2,300 such fibers parked, holding ~15 MB of the main heap.
 * The permit goes back when its fiber ends, however it ends. Anything else is forked at once and waits at
 * the door in runRule.
 */
const gate = (
  state: BuildState,
  id: string,
  spec: NodeSpec | undefined,
  deferred: Deferred.Deferred<Built, Miss>
): Effect.Effect<void, never, any> => {
  const rule = spec ? state.rules[spec.kind] : undefined
  const runtime = state.runtime
  if (!spec || !rule || !runtime || spec.expand || (spec.after?.length ?? 0) > 0 || state.settings.dryRun)
    return fork(state, deferred, runNode(state, id), markSettled(state, id))
  const pool = rule.pool(spec)
  const door = admissionFor(state, pool)
  const launch = fork(state, deferred, Effect.ensuring(runNode(state, id), Effect.sync(door.release)), markSettled(state, id))
  return Effect.sync(() => {
    const readyAt = Date.now()
    door.offer(() => {
      // Stopping: it never starts (its permit stays with the door, which goes with the build).
      if (state.stopping) return
      state.admitted.set(id, readyAt)
      Runtime.runFork(runtime)(launch)
    }, priorityOf(state, spec, pool))
  })
}

export const ensure = (state: BuildState, id: string): Effect.Effect<Built, Miss, any> =>
  start(state, id).pipe(Effect.flatMap((deferred) => Deferred.await(deferred)))

/**
 * An expansion that waited for `after` nodes goes behind the work those nodes let go, one expansion per turn
 * of the event loop, the earliest in the film's order first (Priority.ts: sentence 1's before sentence 2's;
 * a pool of one, whose permit only a turn hands on, and which re-reads the order when it moved). After an
 * edit, one sentence's shots let every later sentence's mux expand, and each of those finds its shots fresh
 * (about 3 ms a sentence, 0.2 s in a 12-minute film); the edited sentence's own mux comes first, and what
 * its expansion starts (its prompts, plan and pictures) does not wait behind the others.
 */
type Lane = NonNullable<BuildState["lane"]>

/** A turn: the permit goes to the first in line, and the next turn is asked for while anyone waits. */
const turn = (lane: Lane) => {
  lane.turning = false
  if (lane.line.waiting() === 0) return
  lane.line.release()
  nextTurn(lane)
}
const nextTurn = (lane: Lane) => {
  if (lane.turning || lane.line.waiting() === 0) return
  lane.turning = true
  setImmediate(() => turn(lane))
}

const behindTheQueue = (state: BuildState, id: string) =>
  Effect.async<void>((resume) => {
    if (!state.lane) {
      const line = Pool.make(1, () => state.priority.epoch)
      // The permit is the turns': nobody is let through but at a turn.
      line.offer(() => {})
      state.lane = { line, turning: false }
    }
    let waiting = true
    // An interrupted waiter's turn passes.
    state.lane.line.offer(
      () => {
        if (!waiting) return
        waiting = false
        resume(Effect.void)
      },
      () => -(state.priority.order.get(id) ?? Number.MAX_SAFE_INTEGER)
    )
    nextTurn(state.lane)
    return Effect.sync(() => {
      waiting = false
    })
  })

/** Builds a node's `after` nodes and expands it (once per build); resolves with the deps it added. */
const expand = (state: BuildState, spec: NodeSpec): Effect.Effect<ReadonlyArray<Dep>, Miss, any> =>
  Effect.suspend(() => {
    if (!spec.expand) return Effect.succeed([])
    let deferred = state.expansions.get(spec.id)
    if (deferred) return Deferred.await(deferred)
    deferred = Deferred.unsafeMake<ReadonlyArray<Dep>, Miss>(FiberId.none)
    state.expansions.set(spec.id, deferred)
    const body = Effect.gen(function* () {
      if ((spec.after?.length ?? 0) > 0) {
        yield* awaitAll(state, spec.id, spec.after!)
        yield* behindTheQueue(state, spec.id)
      }
      const expansion = yield* Effect.try({
        try: () => spec.expand!(state.lookup),
        catch: (e) => failed(spec.id, new ExpansionFailed({ id: spec.id, message: `could not expand: ${messageOf(e)}` }))
      })
      const cycle = addExpansion(state, spec.id, expansion)
      if (cycle)
        return yield* Effect.fail(
          failed(spec.id, new ExpansionFailed({ id: spec.id, cycle, message: `dependency cycle: ${cycle.join(" → ")}` }))
        )
      return expansion.deps
    })
    return fork(state, deferred, body).pipe(Effect.zipRight(Deferred.await(deferred)))
  })

/**
 * A target that is not known yet (say, a part that only an expansion adds): expand the expanding nodes in
 * the order they were declared until one adds it. Only what those expansions need is built.
 */
const discover = (state: BuildState, id: string): Effect.Effect<NodeSpec, Miss, any> =>
  Effect.gen(function* () {
    const tried = new Set<string>()
    for (;;) {
      const found = state.specs.get(id)
      if (found) return found
      const next = [...state.specs.values()].find((s) => s.expand && !tried.has(s.id))
      if (!next) break
      tried.add(next.id)
      yield* expand(state, next).pipe(
        Effect.catchAll((miss) =>
          miss._tag === "WouldBuild" ? Effect.fail(miss) : Effect.fail<Miss>({ _tag: "Upstream", id, failed: miss.id })
        )
      )
    }
    return yield* Effect.fail(failed(id, unknownTarget(state, id)))
  })

/** A node's whole path: inputs, expansion, the fresh check, and running it when it is not fresh. */
const runNode = (state: BuildState, id: string): Effect.Effect<Built, Miss, any> =>
  Effect.gen(function* () {
    const { dryRun, force } = state.settings
    const spec = state.specs.get(id) ?? (yield* discover(state, id))
    const rule = ruleOf(state, spec)
    yield* awaitAll(state, id, spec.deps.map((d) => d.id)).pipe(
      // Dry run: a node whose declared input would be rebuilt still expands (from guesses), so the nodes
      // its expansion adds are counted in the plan and its estimate.
      Effect.catchAll((miss) =>
        dryRun && miss._tag === "WouldBuild" && spec.expand
          ? expand(state, spec).pipe(
              Effect.flatMap((extra) => awaitAll(state, id, extra.map((d) => d.id))),
              Effect.ignore,
              Effect.zipRight(Effect.fail(miss))
            )
          : Effect.fail(miss)
      )
    )
    const extra = yield* expand(state, spec)
    yield* awaitAll(state, id, extra.map((d) => d.id))
    const deps = [...spec.deps, ...extra]
    if (dryRun && deps.some((d) => Fingerprint.isGuess(state.lookup.get(d.id)))) {
      try {
        state.data.set(id, Fingerprint.data(spec, deps, state.lookup.get))
      } catch {}
      yield* noteWouldBuild(state, spec, "an input would be rebuilt")
      return yield* guessOrMiss(state, spec, rule)
    }
    const data = Fingerprint.data(spec, deps, state.lookup.get)
    const fingerprint = Fingerprint.of(data)
    state.data.set(id, data)

    // The fresh check (the same one the fast path makes).
    if (!force.has(id)) {
      const hit = yield* findStored(state, id, fingerprint)
      if (hit) {
        const { result, event } = takeHit(state, spec, fingerprint, deps, data, hit)
        yield* state.events.emit(event)
        return result
      }
    }

    if (dryRun) {
      yield* noteWouldBuild(state, spec, force.has(id) ? "forced" : "no stored result for its fingerprint")
      return yield* guessOrMiss(state, spec, rule)
    }

    // A forced node's last result becomes an older take of the new one.
    const previous = force.has(id) ? Option.getOrUndefined(yield* state.store.getRecord(fingerprint)) : undefined
    return yield* runRule(state, spec, rule, fingerprint, data, deps, previous)
  })
