/**
 * Running a node that is not fresh: its rule inside its pool, with a time-out, the cost cap and retries;
 * then its checks (in the rule's `verifyPool`, after its own slot is given back, when it names one), its
 * files moved into the store, and its record written (Outcome).
 *
 * One attempt is: a slot in the node's pool → (first attempt: the cost cap's check) → `run` under the
 * time-out → `verify` → the outputs stored. A failed attempt gives its slot back while it waits for the
 * next one (a node waiting out a Retry-After does not keep other nodes from the provider's pool).
 *
 * A paid node, once it has its slot and before it pays, takes the build's claim on its fingerprint (when the
 * build has one: a lease shared by workers) and looks again for its in-flight entry and then its record:
 * another machine sharing the store's remote may have finished it while this one waited. It writes the
 * record before it clears the entry, so reading in that order, one of the two is seen (or it had not begun).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as v8 from "node:v8"
import { Duration, Effect, Option, Scope } from "effect"
import { isStoreFailure, StoreError } from "../Atomic.ts"
import * as Cost from "../Cost.ts"
import { hashJson } from "../Hash.ts"
import type * as Fingerprint from "../Fingerprint.ts"
import type * as Pool from "../Pool.ts"
import type { Built, Dep, NodeSpec, Output, Produced, Rule, RunContext } from "../Node.ts"
import * as Retry from "../Retry.ts"
import type { NodeRecord } from "../Store.ts"
import * as Budget from "./Budget.ts"
import { BudgetExceeded, messageOf, NodeTimeout, OutputMissing } from "./Errors.ts"
import { failed, noteRepaid, noteStoreFailure, recordBuilt } from "./Outcome.ts"
import { takeHit } from "./Fresh.ts"
import { estimateOf } from "./Plan.ts"
import * as Priority from "./Priority.ts"
import { admissionFor, poolFor, type BuildState, type Miss } from "./State.ts"

/** Below this many free bytes on the store's volume, a node's failure is put down to a full disk. */
const nearlyFullBytes = 1 << 20

/** What a set of requests cost: unknown if one is; "table" if a price table was needed for one. */
export const sumCosts = (requests: ReadonlyArray<Cost.RequestRecord>): Cost.Cost => {
  const total = Cost.sum(requests.map((r) => r.cost))
  if (!total.known) return Cost.unknown
  const sources = new Set(requests.map((r) => r.cost.source))
  return { usd: total.usd, source: sources.has("table") ? "table" : sources.has("reported") ? "reported" : "free" }
}

/** The rule's time-out fired (a private marker: a rule's own TimeoutException stays its own). */
class TimedOut {}

/** Found, looked for again before paying: another machine finished the node (a private marker). */
class FoundStored {
  constructor(readonly record: NodeRecord) {}
}

/**
 * Moves produced files into the store (after checking they are there) and hashes values. A file in the
 * node's scratch folder (`scratch`), which goes when the node ends, is moved in; any other is copied.
 */
const ingest = (state: BuildState, id: string, produced: Produced, scratch: string) =>
  Effect.gen(function* () {
    const outputs: Record<string, Output> = {}
    const files = Object.values(produced).flatMap((p) => ("file" in p ? [path.resolve(p.file)] : []))
    // In the scratch folder, and no other output names the same file.
    const movable = (file: string) => {
      const f = path.resolve(file)
      const own = path.relative(path.resolve(scratch), f)
      return own !== "" && !own.startsWith("..") && !path.isAbsolute(own) && files.indexOf(f) === files.lastIndexOf(f)
    }
    for (const [name, p] of Object.entries(produced)) {
      if ("value" in p) {
        outputs[name] = { hash: hashJson(p.value), value: p.value }
        continue
      }
      const size = fs.statSync(p.file, { throwIfNoEntry: false })?.size ?? 0
      if (size === 0)
        return yield* new OutputMissing({ id, output: name, file: p.file, message: `${id} produced no ${name} (${p.file} is missing or empty)` })
      const stored = yield* state.store.putFile(p.file, p.ext, movable(p.file) ? "move" : "copy")
      outputs[name] = { hash: stored.hash, ext: p.ext, size: stored.size }
    }
    return outputs
  })

/**
 * A failure the store caused (a write it could not take), or a rule's failure on a volume with (nearly) no
 * space left, is the disk's: the build stops there and says so once; the node fails with that StoreError.
 * Checked before the node's scratch folder is removed (what the rule wrote there is what filled the disk).
 */
const diskFailure = (state: BuildState, id: string, dir: string, error: unknown): Effect.Effect<unknown> =>
  Effect.suspend(() => {
    if (error instanceof StoreError) {
      noteStoreFailure(state, error)
      return Effect.succeed(error)
    }
    return Effect.map(state.store.freeBytes, (free) => {
      if (free === undefined || free >= nearlyFullBytes) return error
      const full = new StoreError({
        reason: "DiskFull",
        path: dir,
        code: "ENOSPC",
        message: `the disk is full: ${id} could not write its files in ${dir} (${free} bytes free); free some space and build again (what was stored so far is kept)`
      })
      noteStoreFailure(state, full)
      return full
    })
  })

/**
 * A build that makes a lot runs for minutes to hours: from its 64th running node on, V8 gives memory back at
 * some cost in CPU (bin/heap.cjs has the figures; STORYSHOT_HEAP_GROWTH=0 keeps V8's defaults). An edit,
 * which runs a few dozen nodes, does without: in the edit of one sentence of a 12-minute draft it made the
 * main thread's collections take 230 ms instead of 155 ms (medians of 4, --trace-gc), twice as many
 * scavenges, most of them while the edited sentence's prompts were written.
 */
const runsBeforeSizing = 64
let running = 0
let sizedForMemory = false
const optimizeForSize = () => {
  if (sizedForMemory || ++running < runsBeforeSizing) return
  sizedForMemory = true
  if (process.env.STORYSHOT_HEAP_GROWTH !== "0") v8.setFlagsFromString("--optimize-for-size")
}

export const runRule = (
  state: BuildState,
  spec: NodeSpec,
  rule: Rule<any, any>,
  fingerprint: string,
  data: Fingerprint.FingerprintData,
  deps: ReadonlyArray<Dep>,
  previousRecord: NodeRecord | undefined
) => {
  const pool = rule.pool(spec)
  return Effect.suspend(() => {
    optimizeForSize()
    // `held` keeps the claim (if any) until the record is written, however the node ends.
    const attempt = (readyAt: number) =>
      Effect.acquireUseRelease(
        Scope.make(),
        (held) => runHeld(state, spec, rule, fingerprint, data, deps, previousRecord, held, readyAt),
        // A claim is let go once the store has sent what it wrote for the node (the next holder must see it).
        (held, exit) =>
          Effect.zipRight(state.settings.claim && state.store.settled ? state.store.settled(fingerprint) : Effect.void, Scope.close(held, exit))
      )
    // Let in at the door before its fiber was forked (Walk.ts `gate`): its wait there counts as pool time.
    const admittedAt = state.admitted.get(spec.id)
    if (admittedAt !== undefined) return attempt(admittedAt)
    // Its inputs are built: from here on, a wait is a wait for a slot (the record's start).
    const readyAt = Date.now()
    // Admitted first (State.admissionFor): a node waiting at the door holds nothing of its attempt yet.
    return admissionFor(state, pool).withPermit(attempt(readyAt), priorityOf(state, spec, pool))
  })
}

/** A node's place in line in a pool: the build's own order if it gave one; else the critical path, read again while it waits. */
export const priorityOf = (state: BuildState, spec: NodeSpec, pool: string): Pool.Priority => {
  const fixed = state.settings.priority?.(spec)
  return fixed !== undefined ? fixed : () => Priority.of(state, spec.id, pool)
}

const runHeld = Effect.fn("Scheduler.runNode")(function* (
  state: BuildState,
  spec: NodeSpec,
  rule: Rule<any, any>,
  fingerprint: string,
  data: Fingerprint.FingerprintData,
  deps: ReadonlyArray<Dep>,
  previousRecord: NodeRecord | undefined,
  held: Scope.Scope,
  started: number
) {
  const { store, events, settings } = state
  const id = spec.id
  const paid = rule.paid(spec)
  const pool = rule.pool(spec)
  const verifyPool = rule.verify && rule.verifyPool ? rule.verifyPool(spec) : undefined
  const estimate = estimateOf(rule, spec)
  const priorityIn = (name: string): Pool.Priority => priorityOf(state, spec, name)
  const timeoutMs = rule.timeoutMs ?? settings.timeoutMs
  yield* Effect.annotateCurrentSpan({ "node.id": id, "node.stage": spec.stage, "node.pool": pool, "node.paid": paid })

  const requests: Array<Cost.RequestRecord> = []
  const costOf = (): Cost.Cost => (requests.length === 0 ? (paid ? Cost.unknown : Cost.free) : sumCosts(requests))
  let attempt = 0
  let reservation: Budget.Reservation | undefined
  const verdict = Retry.decide(settings.retryable)

  const context = (dir: string): RunContext => ({
    node: spec,
    fingerprint,
    scratch: dir,
    attempt,
    deps,
    dep: state.lookup.get,
    value: state.lookup.value,
    file: (depId, output) => {
      const o = state.lookup.get(depId).outputs[output]
      if (!o || o.ext === undefined) throw new Error(`${depId} has no file output "${output}"`)
      return store.objectPath(o.hash, o.ext)
    },
    request: (request) =>
      Effect.suspend(() => {
        requests.push(request)
        noteRepaid(state, id, request)
        return events.emit({ _tag: "Request", id, request })
      }),
    inflight: {
      get: store.getInflight(fingerprint),
      // The request goes on without its handle when the store cannot keep it; a full disk stops the build
      // once this node ends (and says so), anything else is a warning.
      set: (handle) =>
        store.putInflight(fingerprint, handle).pipe(
          Effect.catchAll((e) =>
            isStoreFailure(e)
              ? Effect.sync(() => noteStoreFailure(state, e))
              : events.emit({ _tag: "Warning", message: `${id}: its request's handle could not be kept (${e.message})` })
          )
        ),
      clear: store.deleteInflight(fingerprint)
    },
    withPool: (name, effect) => poolFor(state, name).withPermit(workingIn(name, effect), priorityIn(name)),
    typicalMs: (name) => Priority.typicalMs(state, spec, name ?? pool)
  })

  /** Time held in pools asked for with withPool, by pool (recorded: the next build's typical times). */
  const workByPool: Record<string, number> = {}
  const workingIn = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      const at = Date.now()
      return Effect.ensuring(effect, Effect.sync(() => (workByPool[name] = (workByPool[name] ?? 0) + Date.now() - at)))
    })

  /** Time spent holding a slot: what the node costs its pools, the estimate the next build's order uses. */
  let workMs = 0
  const working = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      const at = Date.now()
      return Effect.ensuring(effect, Effect.sync(() => (workMs += Date.now() - at)))
    })

  /** The rule's run under its time-out; a time-out says whether trying again could pay twice. */
  const runTimed = (ctx: RunContext) =>
    rule.run(ctx).pipe(
      Effect.timeoutFail({ duration: Duration.millis(timeoutMs), onTimeout: () => new TimedOut() }),
      Effect.catchIf(
        (e): e is TimedOut => e instanceof TimedOut,
        () =>
          Effect.flatMap(paid ? store.getInflight(fingerprint) : Effect.succeed(undefined), (handle) => {
            const s = Math.round(timeoutMs / 1000)
            const reattach = handle !== undefined
            return Effect.fail(
              new NodeTimeout({
                id,
                paid,
                reattach,
                message:
                  paid && !reattach
                    ? `${id} took longer than ${s} s and was stopped; its request may have been billed, so it is not sent again automatically (build ${id} again to pay for it again)`
                    : `${id} took longer than ${s} s`
              })
            )
          })
      )
    )

  /** Once, before paying: the claim, then the in-flight entry and the record looked for again. */
  let claimed = false
  const claimAndLookAgain = Effect.gen(function* () {
    claimed = true
    if (settings.claim) yield* Scope.extend(settings.claim(spec, fingerprint), held)
    if (settings.force.has(id)) return undefined
    yield* store.getInflight(fingerprint)
    const found = yield* store.getRecord(fingerprint)
    return Option.isSome(found) ? new FoundStored(found.value) : undefined
  })

  const attemptOnce = (dir: string) =>
    Effect.gen(function* () {
      attempt++
      const ctx = context(dir)
      const produced: Produced | FoundStored = yield* poolFor(state, pool).withPermit(
        Effect.gen(function* () {
          if (paid && !claimed) {
            const found = yield* claimAndLookAgain
            if (found) return found
          }
          if (!reservation) reservation = yield* Budget.reserve(state, spec, paid, estimate)
          yield* events.emit({ _tag: "Started", id, stage: spec.stage, attempt, pool })
          const produced: Produced = yield* working(runTimed(ctx))
          if (rule.verify && verifyPool === undefined) yield* working(rule.verify(produced, ctx))
          return produced
        }),
        priorityIn(pool)
      )
      if (produced instanceof FoundStored) return produced
      if (rule.verify && verifyPool !== undefined)
        yield* poolFor(state, verifyPool).withPermit(workingIn(verifyPool, rule.verify(produced, ctx)), priorityIn(verifyPool))
      return yield* ingest(state, id, produced, dir)
    })

  const policy = Retry.policy({
    retries: settings.retries,
    baseMs: settings.retryBaseMs,
    verdict,
    onRetry: (error, delayMs) => events.emit({ _tag: "Retrying", id, stage: spec.stage, attempt, delayMs, error: messageOf(error) })
  })

  const outputs = yield* Effect.scoped(
    Effect.gen(function* () {
      const dir = yield* store.scratch(fingerprint.slice(0, 16)).pipe(Effect.mapError((e) => (noteStoreFailure(state, e), failed(id, e))))
      return yield* attemptOnce(dir).pipe(
        Effect.retry(policy),
        Effect.catchAll((e) =>
          e instanceof BudgetExceeded
            ? Effect.fail<Miss>({ _tag: "Budget", id })
            : Effect.flatMap(diskFailure(state, id, dir, e), (cause) => Effect.fail(failed(id, cause)))
        )
      )
    })
  ).pipe(
    Effect.tap(() => Effect.sync(() => reservation?.spend(costOf()))),
    Effect.ensuring(Effect.sync(() => reservation?.release()))
  )

  if (outputs instanceof FoundStored) {
    const r = outputs.record
    const { result, event } = takeHit(state, spec, fingerprint, deps, data, { outputs: r.outputs, hash: r.hash, cost: r.cost, ms: r.endedAt - r.startedAt })
    yield* events.emit(event)
    return result
  }
  const cost = costOf()
  Priority.noteWork(state, spec, { ...workByPool, [pool]: workMs })
  yield* Effect.annotateCurrentSpan({
    "node.attempts": attempt,
    "node.cost.usd": cost.usd ?? -1,
    "node.cost.source": cost.source,
    "node.providers": [...new Set(requests.map((r) => r.provider))].join(",")
  })
  const result: Built = yield* recordBuilt(state, spec, {
    fingerprint,
    data,
    deps,
    outputs,
    cost,
    requests,
    startedAt: started,
    attempts: attempt,
    previousRecord,
    pool,
    workMs,
    workByPool
  })
  return result
})
