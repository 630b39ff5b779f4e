/**
 * The scheduler: builds the nodes a build asks for, each at most once, in dependency order, as
 * concurrently as the named pools allow.
 *
 * For each node: build its dependencies; if it expands (dynamic dependencies, as in Shake), build its
 * `after` nodes, expand, and build what the expansion added; hash it (fingerprint over the output hashes of
 * its immediate dependencies); if the store has a record for that fingerprint it is done (this is also the
 * early cutoff: a rebuilt dependency whose output hash did not change leaves the fingerprint as it was).
 * Otherwise run the rule inside its pool with a time-out and retries for transient errors, verify and store
 * the outputs, and only then write the record.
 *
 * Fail-fast by default: the first failure interrupts running nodes (their finalizers kill child processes
 * and cancel queued requests). With keepGoing, every node that does not depend on a failure still finishes.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { Cause, Deferred, Duration, Effect, Exit, FiberId, Option, Ref, Schedule, Schema, Scope } from "effect"
import * as Cost from "./Cost.ts"
import { BuildEvents, type BuildEvent } from "./Events.ts"
import * as Fingerprint from "./Fingerprint.ts"
import * as Pool from "./Pool.ts"
import { hashJson, type Json } from "./Hash.ts"
import type { Built, BuiltLookup, Dep, NodeSpec, Output, Outputs, Produced, Rule, RunContext } from "./Node.ts"
import { Store, type NodeRecord, type State, type StateNode } from "./Store.ts"
import { isTransient, retryAfterMs } from "./Transient.ts"

export class UnknownTarget extends Schema.TaggedError<UnknownTarget>()("UnknownTarget", {
  id: Schema.String,
  message: Schema.String
}) {}

export class NodeTimeout extends Schema.TaggedError<NodeTimeout>()("NodeTimeout", {
  id: Schema.String,
  message: Schema.String
}) {
  readonly transient = true
}

export class OutputMissing extends Schema.TaggedError<OutputMissing>()("OutputMissing", {
  id: Schema.String,
  message: Schema.String
}) {}

export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  id: Schema.String,
  message: Schema.String
}) {}

/** Why a node did not produce a result in this build. */
type Miss =
  | { readonly _tag: "Failed"; readonly id: string; readonly error: string; readonly cause?: unknown }
  | { readonly _tag: "Upstream"; readonly id: string; readonly failed: string }
  | { readonly _tag: "WouldBuild"; readonly id: string }
  | { readonly _tag: "Budget"; readonly id: string }

export interface BuildOptions {
  /** Ids to build; each with what it needs, nothing downstream. */
  readonly targets: ReadonlyArray<string>
  /** Ids to rebuild even when fresh (a new take; the old one stays in the store). */
  readonly force?: ReadonlySet<string> | undefined
  readonly keepGoing?: boolean | undefined
  /** Plan only: report what would run and its estimated cost; run nothing, pay nothing. */
  readonly dryRun?: boolean | undefined
  /** Retries for transient errors (the original spec asks for 1). */
  readonly retries?: number | undefined
  readonly retryBaseMs?: number | undefined
  /** Pool name → how many nodes may run in it at once. */
  readonly pools?: { readonly [pool: string]: number } | undefined
  readonly defaultPoolLimit?: number | undefined
  readonly timeoutMs?: number | undefined
  /** No new paid node starts once recorded spend plus what is running would pass this. */
  readonly maxCostUsd?: number | undefined
  /** A build of every target replaces the recorded graph; a partial one merges into it. */
  readonly complete?: boolean | undefined
}

export interface BuildResult {
  readonly built: ReadonlyArray<string>
  readonly cached: ReadonlyArray<string>
  readonly failed: ReadonlyArray<{ readonly id: string; readonly error: string }>
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly because: string }>
  readonly wouldBuild: ReadonlyArray<{ readonly id: string; readonly stage: string; readonly estimate: Cost.Cost }>
  readonly blockedByBudget: ReadonlyArray<string>
  readonly cost: Cost.Total
  readonly saved: Cost.Total
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

/**
 * A dependency cycle reachable from `start`, as the ids around it (first id repeated at the end), or
 * undefined. `depsOf` gives what is known of each node's dependencies, including expansions so far.
 */
export const findCycle = (
  starts: Iterable<string>,
  depsOf: (id: string) => ReadonlyArray<string>
): ReadonlyArray<string> | undefined => {
  const done = new Set<string>()
  const onPath = new Map<string, number>()
  const pathStack: Array<string> = []
  for (const start of starts) {
    if (done.has(start)) continue
    // Iterative DFS: graphs of 10,000+ nodes must not overflow the stack.
    const stack: Array<{ id: string; next: number }> = [{ id: start, next: 0 }]
    onPath.set(start, 0)
    pathStack.push(start)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const deps = depsOf(top.id)
      if (top.next < deps.length) {
        const dep = deps[top.next++]!
        if (onPath.has(dep)) return [...pathStack.slice(onPath.get(dep)!), dep]
        if (done.has(dep)) continue
        onPath.set(dep, pathStack.length)
        pathStack.push(dep)
        stack.push({ id: dep, next: 0 })
      } else {
        stack.pop()
        pathStack.pop()
        onPath.delete(top.id)
        done.add(top.id)
      }
    }
  }
  return undefined
}

export class CycleError extends Schema.TaggedError<CycleError>()("CycleError", {
  cycle: Schema.Array(Schema.String),
  message: Schema.String
}) {}

const messageOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string" && error.message)
    return error.message
  return String(error)
}

const missMessage = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return messageOf(failure.value)
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return `internal error: ${messageOf(defect.value)}`
  return "interrupted"
}

export const build = <R>(
  graph: Graph<R>,
  options: BuildOptions
): Effect.Effect<BuildResult, CycleError, Store | BuildEvents | R> =>
  Effect.gen(function* () {
    const store = yield* Store
    const events = yield* BuildEvents
    const startedAt = Date.now()
    const previous = yield* store.readState
    const force = options.force ?? new Set<string>()
    const retries = options.retries ?? 1
    const dryRun = options.dryRun === true

    const specs = new Map<string, NodeSpec>()
    for (const n of graph.nodes) specs.set(n.id, n)
    const expandedDeps = new Map<string, ReadonlyArray<string>>()
    const depsOf = (id: string) => {
      const spec = specs.get(id)
      if (!spec) return []
      const extra = expandedDeps.get(id) ?? []
      return [...spec.deps.map((d) => d.id), ...(spec.after ?? []), ...extra]
    }
    const initialCycle = findCycle(specs.keys(), depsOf)
    if (initialCycle)
      return yield* Effect.fail(new CycleError({ cycle: initialCycle, message: `dependency cycle: ${initialCycle.join(" → ")}` }))
    const results = new Map<string, Deferred.Deferred<Built, Miss>>()
    const expansions = new Map<string, Deferred.Deferred<ReadonlyArray<Dep>, Miss>>()
    const builtMap = new Map<string, Built>()
    const dataMap = new Map<string, Fingerprint.FingerprintData>()
    const stateNodes = new Map<string, StateNode>()
    const newExpansions: Record<string, ReadonlyArray<{ id: string; kind: string; stage: string }>> = {}
    const built: Array<string> = []
    const cached: Array<string> = []
    const failed: Array<{ id: string; error: string }> = []
    const skipped: Array<{ id: string; because: string }> = []
    const wouldBuild: Array<{ id: string; stage: string; estimate: Cost.Cost }> = []
    const blockedByBudget: Array<string> = []
    let spent = Cost.zero
    let saved = Cost.zero
    let reserved = 0
    const abort = yield* Deferred.make<void>()
    const scope = yield* Scope.make()

    const pools = new Map<string, Pool.Pool>()
    const poolFor = (name: string) => {
      let sem = pools.get(name)
      if (!sem) {
        sem = Pool.make(options.pools?.[name] ?? options.defaultPoolLimit ?? 4)
        pools.set(name, sem)
      }
      return sem
    }

    const lookup: BuiltLookup = {
      get: (id) => {
        const b = builtMap.get(id)
        if (!b) throw new Error(`${id} was read before it was built`)
        return b
      },
      value: (id, output) => {
        const o = lookup.get(id).outputs[output]
        if (!o || o.value === undefined) throw new Error(`${id} has no value output "${output}"`)
        return o.value
      }
    }

    const ruleOf = (spec: NodeSpec): Rule<any, any> => {
      const rule = graph.rules[spec.kind]
      if (!rule) throw new Error(`no rule implements kind "${spec.kind}" (${spec.id})`)
      return rule
    }

    const fork = <A>(
      deferred: Deferred.Deferred<A, Miss>,
      body: Effect.Effect<A, Miss, any>,
      onDone: Effect.Effect<void, never, any> = Effect.void
    ) =>
      body.pipe(
        Effect.exit,
        Effect.tap((exit) => {
          // Fail-fast: a node's own failure (not a dependency's) stops the build.
          if (options.keepGoing || Exit.isSuccess(exit)) return Effect.void
          const failure = Cause.failureOption(exit.cause)
          const own = Option.isNone(failure) ? !Cause.isInterruptedOnly(exit.cause) : failure.value._tag === "Failed"
          return own ? Deferred.succeed(abort, undefined) : Effect.void
        }),
        Effect.flatMap((exit) => Deferred.done(deferred, exit)),
        Effect.zipRight(onDone),
        Effect.forkIn(scope),
        Effect.asVoid
      )

    /**
     * A node's fiber is forked only once its declared inputs are settled: a waiting node is a counter and
     * a callback, not a parked fiber (10,000 parked fibers and what they hold dominated a cold build's
     * memory). `settled` holds the nodes whose result (success or miss) is known.
     */
    const settled = new Set<string>()
    const listeners = new Map<string, Array<Effect.Effect<void, never, any>>>()
    const markSettled = (id: string) =>
      Effect.suspend(() => {
        settled.add(id)
        const waiting = listeners.get(id)
        if (!waiting) return Effect.void
        listeners.delete(id)
        return Effect.forEach(waiting, (launch) => launch, { discard: true })
      })

    /**
     * Awaits dependencies; a dependency's miss becomes this node's (Upstream, or WouldBuild in a dry run).
     * All are started first, then awaited one by one: they run concurrently in their own fibers, and no
     * extra fiber per edge is made (that cost dominated large builds).
     */
    const awaitAll = (id: string, ids: ReadonlyArray<string>) =>
      Effect.forEach(ids, start).pipe(
        Effect.flatMap((deferreds) => Effect.forEach(deferreds, (d) => Deferred.await(d), { discard: true })),
        Effect.catchAll((miss): Effect.Effect<never, Miss> => {
          if (miss._tag === "WouldBuild") return wouldBuildUpstream(id)
          if (miss._tag === "Budget") return Effect.fail({ _tag: "Budget", id })
          return Effect.fail({ _tag: "Upstream", id, failed: miss._tag === "Upstream" ? miss.failed : miss.id })
        })
      )

    const noted = new Set<string>()
    const noteWouldBuild = (spec: NodeSpec, reason: string) =>
      Effect.suspend(() => {
        if (noted.has(spec.id)) return Effect.void
        noted.add(spec.id)
        const rule = ruleOf(spec)
        const estimate = rule.estimate?.(spec) ?? (rule.paid(spec) ? Cost.unknown : Cost.free)
        wouldBuild.push({ id: spec.id, stage: spec.stage, estimate })
        return events.emit({ _tag: "WouldBuild", id: spec.id, stage: spec.stage, estimate, reason })
      })

    /** Dry run: a node whose input would be rebuilt is rebuilt too (early cutoff cannot be known ahead). */
    const wouldBuildUpstream = (id: string): Effect.Effect<never, Miss> =>
      Effect.suspend(() => {
        const spec = specs.get(id)
        return (spec ? noteWouldBuild(spec, "an input would be rebuilt") : Effect.void).pipe(
          Effect.zipRight(Effect.fail<Miss>({ _tag: "WouldBuild", id }))
        )
      })

    /** Starts a node's fiber (once per build) and returns the deferred its result lands in. */
    const start = (id: string): Effect.Effect<Deferred.Deferred<Built, Miss>, never, any> =>
      Effect.suspend(() => {
        const existing = results.get(id)
        if (existing) return Effect.succeed(existing)
        // Resolved by the no-op fast path: a deferred is made only when a fiber asks.
        const fresh = builtMap.get(id)
        if (fresh) {
          const done = resolved(fresh)
          results.set(id, done)
          settled.add(id)
          return Effect.succeed(done)
        }
        const deferred = Deferred.unsafeMake<Built, Miss>(FiberId.none)
        results.set(id, deferred)
        const inputs = [...new Set(specs.get(id)?.deps.map((d) => d.id) ?? [])]
        const launch = fork(deferred, runNode(id), markSettled(id))
        return events.emit({ _tag: "Discovered", nodes: [{ id, stage: specs.get(id)?.stage ?? "?" }] }).pipe(
          Effect.zipRight(Effect.forEach(inputs, start, { discard: true })),
          Effect.zipRight(
            Effect.suspend(() => {
              const pending = inputs.filter((dep) => !settled.has(dep))
              if (pending.length === 0) return launch
              let left = pending.length
              const onInput = Effect.suspend(() => (--left === 0 ? launch : Effect.void))
              for (const dep of pending) {
                const waiting = listeners.get(dep)
                if (waiting) waiting.push(onInput)
                else listeners.set(dep, [onInput])
              }
              return Effect.void
            })
          ),
          Effect.as(deferred)
        )
      })

    const ensure = (id: string): Effect.Effect<Built, Miss, any> =>
      start(id).pipe(Effect.flatMap((deferred) => Deferred.await(deferred)))

    /**
     * The no-op fast path. A node whose inputs are all fresh and whose fingerprint has a stored record is
     * resolved here, synchronously and without a fiber, so a no-op build of 10,000 nodes is a tight loop of
     * hashing and record look-ups. Anything else (no record, forced, a failed expansion, a very deep chain)
     * is left to the fibers, which pick up from what this resolved.
     */
    const slow = new Set<string>()
    const pending: Array<BuildEvent> = []
    const resolved = <A>(value: A) => {
      const deferred = Deferred.unsafeMake<A, Miss>(FiberId.none)
      Deferred.unsafeDone(deferred, Exit.succeed(value))
      return deferred
    }
    const resolveFresh = (id: string, depth: number): Built | undefined => {
      const done = builtMap.get(id)
      if (done) return done
      if (slow.has(id)) return undefined
      const spec = specs.get(id)
      const miss = () => {
        slow.add(id)
        return undefined
      }
      if (!spec || depth > 1000 || force.has(id) || results.has(id)) return miss()
      for (const d of spec.deps) if (!resolveFresh(d.id, depth + 1)) return miss()
      let extra: ReadonlyArray<Dep> = []
      if (spec.expand) {
        if (expansions.has(id)) return miss()
        for (const a of spec.after ?? []) if (!resolveFresh(a, depth + 1)) return miss()
        let expansion: ReturnType<NonNullable<NodeSpec["expand"]>>
        try {
          expansion = spec.expand(lookup)
        } catch {
          return miss()
        }
        for (const n of expansion.nodes) specs.set(n.id, n)
        newExpansions[id] = expansion.nodes.map((n) => ({ id: n.id, kind: n.kind, stage: n.stage }))
        expandedDeps.set(id, expansion.deps.map((d) => d.id))
        if (findCycle([id, ...expansion.nodes.map((n) => n.id)], depsOf)) {
          // Let the fibers expand it again and report the cycle.
          expandedDeps.delete(id)
          delete newExpansions[id]
          return miss()
        }
        expansions.set(id, resolved<ReadonlyArray<Dep>>(expansion.deps))
        extra = expansion.deps
        for (const d of extra) if (!resolveFresh(d.id, depth + 1)) return miss()
      }
      const deps = extra.length ? [...spec.deps, ...extra] : spec.deps
      const data = Fingerprint.data(spec, deps, lookup.get)
      const fingerprint = Fingerprint.of(data)
      // The last build's state already holds this fingerprint's outputs: check the files are there and skip
      // reading the record. Otherwise read the record (it may come from an older build or another setting).
      const last = previous.nodes[id]
      let found: { outputs: Outputs; hash: string; cost: Cost.Cost; ms: number } | undefined
      if (last?.outputs && last.fingerprint === fingerprint && store.hasRecordWith(fingerprint, last.outputs)) {
        found = { outputs: last.outputs, hash: last.hash, cost: last.cost ?? Cost.unknown, ms: last.ms ?? 0 }
      } else {
        const existing = Effect.runSync(store.getRecord(fingerprint))
        if (Option.isNone(existing)) return miss()
        const r = existing.value
        found = { outputs: r.outputs, hash: r.hash, cost: r.cost, ms: r.endedAt - r.startedAt }
      }
      const result: Built = { id, fingerprint, outputs: found.outputs, hash: found.hash }
      dataMap.set(id, data)
      record(spec, fingerprint, deps, result, found.cost, found.ms)
      cached.push(id)
      saved = Cost.add(saved, found.cost)
      pending.push(
        { _tag: "Discovered", nodes: [{ id, stage: spec.stage }] },
        { _tag: "Cached", id, stage: spec.stage, saved: found.cost, savedMs: found.ms }
      )
      return result
    }

    const expand = (spec: NodeSpec): Effect.Effect<ReadonlyArray<Dep>, Miss, any> =>
      Effect.suspend(() => {
        if (!spec.expand) return Effect.succeed([])
        let deferred = expansions.get(spec.id)
        if (deferred) return Deferred.await(deferred)
        deferred = Deferred.unsafeMake<ReadonlyArray<Dep>, Miss>(FiberId.none)
        expansions.set(spec.id, deferred)
        const body = Effect.gen(function* () {
          yield* awaitAll(spec.id, spec.after ?? [])
          const expansion = yield* Effect.try({
            try: () => spec.expand!(lookup),
            catch: (e): Miss => ({ _tag: "Failed", id: spec.id, error: `could not expand: ${messageOf(e)}` })
          })
          for (const n of expansion.nodes) specs.set(n.id, n)
          newExpansions[spec.id] = expansion.nodes.map((n) => ({ id: n.id, kind: n.kind, stage: n.stage }))
          expandedDeps.set(spec.id, expansion.deps.map((d) => d.id))
          const cycle = findCycle([spec.id, ...expansion.nodes.map((n) => n.id)], depsOf)
          if (cycle) return yield* Effect.fail<Miss>({ _tag: "Failed", id: spec.id, error: `dependency cycle: ${cycle.join(" → ")}` })
          return expansion.deps
        })
        return fork(deferred, body).pipe(Effect.zipRight(Deferred.await(deferred)))
      })

    /**
     * A target that is not known yet (a shot, before its sentence's narration is measured): expand the
     * expanding nodes in the order they were declared until one adds it. Only what those expansions need
     * is built.
     */
    const discover = (id: string): Effect.Effect<NodeSpec, Miss, any> =>
      Effect.gen(function* () {
        const tried = new Set<string>()
        for (;;) {
          const found = specs.get(id)
          if (found) return found
          const next = [...specs.values()].find((s) => s.expand && !tried.has(s.id))
          if (!next) break
          tried.add(next.id)
          yield* expand(next).pipe(
            Effect.catchAll((miss) =>
              miss._tag === "WouldBuild" ? Effect.fail(miss) : Effect.fail<Miss>({ _tag: "Upstream", id, failed: miss.id })
            )
          )
        }
        const pattern = new RegExp(`^${id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\d+/g, "(\\d+)")}$`)
        const similar = [...specs.keys()].filter((k) => pattern.test(k))
        return yield* Effect.fail<Miss>({
          _tag: "Failed",
          id,
          error: similar.length
            ? `no target ${id} in this film (there are ${similar.length} like it: ${similar[0]} … ${similar[similar.length - 1]})`
            : `no target ${id} in this film`
        })
      })

    const record = (
      spec: NodeSpec,
      fingerprint: string,
      deps: ReadonlyArray<Dep>,
      result: Built,
      cost: Cost.Cost,
      ms: number
    ) => {
      builtMap.set(spec.id, result)
      stateNodes.set(spec.id, {
        id: spec.id,
        kind: spec.kind,
        stage: spec.stage,
        fingerprint,
        deps: [...new Set(deps.map((d) => d.id))],
        hash: result.hash,
        outputs: result.outputs,
        cost,
        ms
      })
    }

    const runNode = (id: string): Effect.Effect<Built, Miss, any> =>
      Effect.gen(function* () {
        const spec = specs.get(id) ?? (yield* discover(id))
        const rule = ruleOf(spec)
        yield* awaitAll(id, spec.deps.map((d) => d.id)).pipe(
          // Dry run: a node whose declared input would be rebuilt still expands (from guesses), so the nodes
          // its expansion adds (a sentence's shots) are counted in the plan and its estimate.
          Effect.catchAll((miss) =>
            dryRun && miss._tag === "WouldBuild" && spec.expand
              ? expand(spec).pipe(
                  Effect.flatMap((extra) => awaitAll(id, extra.map((d) => d.id))),
                  Effect.ignore,
                  Effect.zipRight(Effect.fail(miss))
                )
              : Effect.fail(miss)
          )
        )
        const extra = yield* expand(spec)
        yield* awaitAll(id, extra.map((d) => d.id))
        const deps = [...spec.deps, ...extra]
        if (dryRun && deps.some((d) => Fingerprint.isGuess(lookup.get(d.id)))) {
          try {
            dataMap.set(id, Fingerprint.data(spec, deps, lookup.get))
          } catch {}
          yield* noteWouldBuild(spec, "an input would be rebuilt")
          return yield* guessOrMiss(spec, rule)
        }
        const data = Fingerprint.data(spec, deps, lookup.get)
        const fingerprint = Fingerprint.of(data)
        dataMap.set(id, data)

        const existing = yield* store.getRecord(fingerprint)
        if (Option.isSome(existing) && !force.has(id)) {
          const r = existing.value
          const result: Built = { id, fingerprint, outputs: r.outputs, hash: r.hash }
          record(spec, fingerprint, deps, result, r.cost, r.endedAt - r.startedAt)
          cached.push(id)
          saved = Cost.add(saved, r.cost)
          yield* events.emit({ _tag: "Cached", id, stage: spec.stage, saved: r.cost, savedMs: r.endedAt - r.startedAt })
          return result
        }

        const estimate = rule.estimate?.(spec) ?? (rule.paid(spec) ? Cost.unknown : Cost.free)
        if (dryRun) {
          yield* noteWouldBuild(spec, force.has(id) ? "forced" : "no stored result for its fingerprint")
          return yield* guessOrMiss(spec, rule)
        }

        return yield* runRule(spec, rule, fingerprint, data, deps, estimate, Option.getOrUndefined(existing))
      })

    /** Dry run: stand in for an unbuilt node with the rule's guess, so expansions can still be estimated. */
    const guessOrMiss = (spec: NodeSpec, rule: Rule<any, any>): Effect.Effect<Built, Miss> =>
      Effect.suspend(() => {
        if (!rule.guess) return Effect.fail<Miss>({ _tag: "WouldBuild", id: spec.id })
        let values: { readonly [name: string]: Json }
        try {
          values = rule.guess(spec, lookup)
        } catch {
          return Effect.fail<Miss>({ _tag: "WouldBuild", id: spec.id })
        }
        const outputs = Object.fromEntries(
          Object.entries(values).map(([k, v]) => [k, { hash: `guess:${spec.id}#${k}`, value: v }])
        )
        const guessed: Built = { id: spec.id, fingerprint: `guess:${spec.id}`, outputs, hash: `guess:${spec.id}` }
        builtMap.set(spec.id, guessed)
        return Effect.succeed(guessed)
      })

    const runRule = (
      spec: NodeSpec,
      rule: Rule<any, any>,
      fingerprint: string,
      data: Fingerprint.FingerprintData,
      deps: ReadonlyArray<Dep>,
      estimate: Cost.Cost,
      previousRecord: NodeRecord | undefined
    ): Effect.Effect<Built, Miss, any> =>
      Effect.gen(function* () {
        const id = spec.id
        const paid = rule.paid(spec)
        const pool = rule.pool(spec)
        const requests = yield* Ref.make<ReadonlyArray<Cost.RequestRecord>>([])
        const costOf = (rs: ReadonlyArray<Cost.RequestRecord>): Cost.Cost =>
          rs.length === 0 ? (paid ? Cost.unknown : Cost.free) : sumCosts(rs)
        let attempt = 0
        const started = Date.now()

        const scratchDir = Effect.acquireRelease(
          Effect.sync(() => {
            const dir = path.join(store.root, "tmp", `${fingerprint.slice(0, 16)}-${randomBytes(4).toString("hex")}`)
            fs.mkdirSync(dir, { recursive: true })
            return dir
          }),
          (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
        )

        let holding = false
        const checkBudget = Effect.suspend(() => {
          if (!paid || options.maxCostUsd === undefined) return Effect.void
          const need = estimate.usd ?? 0
          if (spent.usd + reserved + need > options.maxCostUsd + 1e-9) {
            blockedByBudget.push(id)
            return events
              .emit({ _tag: "OverBudget", id, stage: spec.stage, estimate, spentUsd: spent.usd, runningUsd: reserved })
              .pipe(Effect.zipRight(Effect.fail<Miss>({ _tag: "Budget", id })))
          }
          reserved += need
          holding = true
          return Effect.void
        })

        const attemptOnce = (dir: string) =>
          Effect.suspend(() => {
            attempt++
            const ctx: RunContext = {
              node: spec,
              fingerprint,
              scratch: dir,
              attempt,
              deps,
              dep: lookup.get,
              value: lookup.value,
              file: (depId, output) => {
                const o = lookup.get(depId).outputs[output]
                if (!o || o.ext === undefined) throw new Error(`${depId} has no file output "${output}"`)
                return store.objectPath(o.hash, o.ext)
              },
              request: (request) =>
                Ref.update(requests, (rs) => [...rs, request]).pipe(
                  Effect.zipRight(events.emit({ _tag: "Request", id, request }))
                ),
              inflight: {
                get: store.getInflight(fingerprint),
                set: (handle) => store.putInflight(fingerprint, handle).pipe(Effect.orDie),
                clear: store.deleteInflight(fingerprint)
              }
            }
            return events.emit({ _tag: "Started", id, stage: spec.stage, attempt, pool }).pipe(
              Effect.zipRight(rule.run(ctx)),
              Effect.timeoutFail({
                duration: Duration.millis(rule.timeoutMs ?? options.timeoutMs ?? 30 * 60_000),
                onTimeout: () =>
                  new NodeTimeout({ id, message: `${id} took longer than ${Math.round((rule.timeoutMs ?? options.timeoutMs ?? 1_800_000) / 1000)} s` })
              }),
              Effect.tap((produced) => (rule.verify ? rule.verify(produced, ctx) : Effect.void)),
              Effect.flatMap((produced) => ingest(id, produced))
            )
          })

        const policy = Schedule.exponential(Duration.millis(options.retryBaseMs ?? 1000), 2).pipe(
          Schedule.jittered,
          Schedule.intersect(Schedule.recurs(retries)),
          Schedule.whileInput((e: unknown) => isTransient(e)),
          Schedule.intersect(Schedule.identity<unknown>()),
          Schedule.modifyDelayEffect(([, error], delay) => {
            const wait = Math.max(Duration.toMillis(delay), retryAfterMs(error) ?? 0)
            return events
              .emit({ _tag: "Retrying", id, stage: spec.stage, attempt, delayMs: wait, error: messageOf(error) })
              .pipe(Effect.as(Duration.millis(wait)))
          })
        )

        const outputs = yield* poolFor(pool).withPermit(
          checkBudget.pipe(
            Effect.zipRight(
              Effect.scoped(
                scratchDir.pipe(
                  Effect.flatMap((dir) =>
                    attemptOnce(dir).pipe(
                      Effect.retry(policy),
                      Effect.mapError((e): Miss => ({ _tag: "Failed", id, error: messageOf(e), cause: e })),
                      // Count the spend before the pool slot is released, so the next paid node's budget
                      // check sees it.
                      Effect.tap(() => Ref.get(requests).pipe(Effect.map((rs) => (spent = Cost.add(spent, costOf(rs))))))
                    )
                  )
                )
              )
            ),
            Effect.ensuring(Effect.sync(() => holding && ((reserved -= estimate.usd ?? 0), (holding = false))))
          )
        )

        const rs = yield* Ref.get(requests)
        const cost = costOf(rs)
        const hash = hashJson(Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.hash])))
        const ended = Date.now()
        const takes = previousRecord
          ? [...(previousRecord.takes ?? []), { outputs: previousRecord.outputs, hash: previousRecord.hash, createdAt: previousRecord.endedAt, cost: previousRecord.cost }]
          : undefined
        const nodeRecord: NodeRecord = {
          fingerprint,
          id,
          kind: spec.kind,
          stage: spec.stage,
          data,
          context: spec.context,
          outputs,
          hash,
          cost,
          requests: rs,
          startedAt: started,
          endedAt: ended,
          attempts: attempt,
          takes
        }
        yield* store.putRecord(nodeRecord).pipe(
          Effect.mapError((e): Miss => ({ _tag: "Failed", id, error: e.message, cause: e }))
        )
        yield* store.deleteInflight(fingerprint)
        const result: Built = { id, fingerprint, outputs, hash }
        record(spec, fingerprint, deps, result, cost, ended - started)
        yield* store.appendJournal(stateNodes.get(id)!).pipe(Effect.ignore)
        built.push(id)
        yield* events.emit({ _tag: "Built", id, stage: spec.stage, cost, startedAt: started, endedAt: ended, attempts: attempt })
        return result
      })

    const ingest = (id: string, produced: Produced) =>
      Effect.gen(function* () {
        const outputs: Record<string, Output> = {}
        for (const [name, p] of Object.entries(produced)) {
          if ("value" in p) {
            outputs[name] = { hash: hashJson(p.value), value: p.value }
            continue
          }
          let size = 0
          try {
            size = fs.statSync(p.file).size
          } catch {}
          if (size === 0)
            return yield* Effect.fail(new OutputMissing({ id, message: `${id} produced no ${name} (${p.file} is missing or empty)` }))
          const stored = yield* store.putFile(p.file, p.ext)
          outputs[name] = { hash: stored.hash, ext: p.ext, size: stored.size }
        }
        return outputs
      })

    /** Settles a requested target and reports misses (each node once). */
    const reported = new Set<string>()
    const settle = (id: string) => Effect.suspend(() => ensure(id)).pipe(Effect.ignore)

    for (const id of options.targets) resolveFresh(id, 0)
    yield* Effect.forEach(pending.splice(0), events.emit, { discard: true })

    // A target settles as soon as one of its inputs misses, but nodes already running still finish and are
    // recorded (a paid request in flight is paid for either way; with the cost cap or --keep-going, the
    // rest of the graph is still wanted). Only fail-fast (`abort`) or an interrupt stops them.
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      const pending = [...results.values(), ...expansions.values()]
      return Effect.forEach(pending, (d) => Effect.exit(Deferred.await(d as Deferred.Deferred<unknown, Miss>)), { discard: true }).pipe(
        Effect.flatMap(() => (results.size + expansions.size > pending.length ? drain : Effect.void))
      )
    })
    const main = Effect.forEach(options.targets, settle, { concurrency: "unbounded", discard: true }).pipe(Effect.zipRight(drain))
    const writePartialState = Effect.suspend(() =>
      store
        .writeState({
          nodes: { ...previous.nodes, ...Object.fromEntries(stateNodes) },
          expansions: { ...previous.expansions, ...newExpansions },
          updatedAt: Date.now()
        })
        .pipe(Effect.ignore)
    )
    // Interrupted (Ctrl-C): stop every running node (their finalizers kill processes and cancel requests),
    // then record the graph as far as it got; every finished node's record is already in the store.
    const interrupted = yield* Effect.raceFirst(main, Deferred.await(abort)).pipe(
      Effect.as(false),
      Effect.onInterrupt(() => Scope.close(scope, Exit.void).pipe(Effect.zipRight(dryRun ? Effect.void : writePartialState))),
      Effect.ensuring(Scope.close(scope, Exit.void))
    )

    // Collect what did not succeed, once per node.
    for (const [id, deferred] of results) {
      const exit = yield* Deferred.poll(deferred).pipe(Effect.flatMap((o) => (Option.isSome(o) ? Effect.exit(o.value) : Effect.succeed(undefined))))
      if (!exit || Exit.isSuccess(exit) || reported.has(id)) continue
      reported.add(id)
      const failure = Cause.failureOption(exit.cause)
      const spec = specs.get(id)
      const stage = spec?.stage ?? "?"
      if (Option.isNone(failure)) {
        if (!Cause.isInterruptedOnly(exit.cause)) {
          const error = missMessage(exit.cause)
          failed.push({ id, error })
          yield* events.emit({ _tag: "Failed", id, stage, error })
        }
        continue
      }
      const miss = failure.value
      if (miss._tag === "Failed" && miss.id === id) {
        failed.push({ id, error: miss.error })
        yield* events.emit({ _tag: "Failed", id, stage, error: miss.error })
      } else if (miss._tag === "Upstream") {
        skipped.push({ id, because: miss.failed })
        yield* events.emit({ _tag: "Skipped", id, stage, because: `${miss.failed} failed` })
      } else if (miss._tag === "Failed") {
        failed.push({ id, error: miss.error })
      }
    }
    for (const [id, deferred] of expansions) {
      const polled = yield* Deferred.poll(deferred)
      if (Option.isNone(polled)) continue
      const exit = yield* Effect.exit(polled.value)
      if (Exit.isFailure(exit)) {
        const failure = Cause.failureOption(exit.cause)
        if (Option.isSome(failure) && failure.value._tag === "Failed" && !reported.has(id)) {
          reported.add(id)
          failed.push({ id, error: failure.value.error })
          yield* events.emit({ _tag: "Failed", id, stage: specs.get(id)?.stage ?? "?", error: failure.value.error })
        }
      }
    }

    for (const w of yield* store.warnings) yield* events.emit({ _tag: "Warning", message: w.message })

    // The recorded graph: a complete build replaces it; a partial one merges into it.
    const state: State = {
      nodes: options.complete && !dryRun && failed.length === 0 ? Object.fromEntries(stateNodes) : { ...previous.nodes, ...Object.fromEntries(stateNodes) },
      expansions: { ...previous.expansions, ...newExpansions },
      updatedAt: Date.now()
    }
    // A no-op build leaves the recorded graph as it was: skip rewriting (and fsyncing) a large state file.
    const unchanged =
      built.length === 0 &&
      Object.keys(state.nodes).length === Object.keys(previous.nodes).length &&
      Object.values(state.nodes).every((n) => {
        const p = previous.nodes[n.id]
        return p !== undefined && p.fingerprint === n.fingerprint && p.outputs !== undefined
      }) &&
      hashJson(state.expansions) === hashJson(previous.expansions)
    if (!dryRun && !unchanged)
      yield* store.writeState(state).pipe(Effect.catchAll((e) => events.emit({ _tag: "Warning", message: e.message })))

    const result: BuildResult = {
      built,
      cached,
      failed,
      skipped,
      wouldBuild,
      blockedByBudget,
      cost: spent,
      saved,
      wallMs: Date.now() - startedAt,
      interrupted,
      nodes: specs,
      results: builtMap,
      edges: (id) => {
        const spec = specs.get(id)
        return spec ? [...new Set([...spec.deps.map((d) => d.id), ...(expandedDeps.get(id) ?? [])])] : []
      },
      state,
      data: dataMap
    }
    return result
  }) as Effect.Effect<BuildResult, CycleError, Store | BuildEvents | R>

const sumCosts = (requests: ReadonlyArray<Cost.RequestRecord>): Cost.Cost => {
  const total = Cost.sum(requests.map((r) => r.cost))
  if (!total.known) return Cost.unknown
  const sources = new Set(requests.map((r) => r.cost.source))
  return { usd: total.usd, source: sources.has("table") ? "table" : sources.has("reported") ? "reported" : "free" }
}

/** Default pool sizes: local media work by cores, providers by what their rate limits tolerate. */
export const defaultPools = (): Record<string, number> => ({
  ffmpeg: Math.max(1, os.cpus().length),
  local: Math.max(1, os.cpus().length)
})
