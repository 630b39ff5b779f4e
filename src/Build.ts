/**
 * A build, for every front end: `storyshot build` (src/cli/build.ts) and `storyshot serve` (src/server/) both
 * call `run`. One path, so a build started from the page is an ordinary build: the same checks before anything
 * is paid, the same store and workspace lock, the same money rules, the same events feeding the reporters,
 * and the same record in `.storyshot/runs/` that `storyshot runs` lists.
 */
import * as path from "node:path"
import { Cause, Effect, Exit, Option } from "effect"
import * as Atomic from "./engine/Atomic.ts"
import * as Cost from "./engine/Cost.ts"
import { sha256 } from "./engine/Hash.ts"
import { BuildEvents, type BuildEvent } from "./engine/Events.ts"
import * as Lock from "./engine/Lock.ts"
import * as Scheduler from "./engine/Scheduler.ts"
import { Store } from "./engine/Store.ts"
import * as Targets from "../targets/index.ts"
import * as Registry from "../targets/registry.ts"
import type { Profile } from "./Config.ts"
import * as Encode from "./media/Encode.ts"
import * as Pools from "./Pools.ts"
import * as ProviderConfig from "./providers/ProviderConfig.ts"
import { retryable } from "./providers/Retryable.ts"
import { publish, publishSentence } from "./Publish.ts"
import * as ShotEdits from "./ShotEdits.ts"
import * as Telemetry from "./Telemetry.ts"
import * as SplitChanges from "./text/SplitChanges.ts"
import * as Accounting from "./cli/Accounting.ts"
import * as RunLog from "./cli/RunLog.ts"
import * as Session from "./cli/Session.ts"
import * as Review from "./director/Review.ts"
import type { Workspace } from "./Workspace.ts"

export interface BuildFlags {
  readonly target: ReadonlyArray<string>
  readonly force: boolean
  readonly keepGoing: boolean
  readonly dryRun: boolean
  readonly json: boolean
  /** No progress on stderr. */
  readonly quiet?: boolean
  readonly profile: Option.Option<Profile>
  readonly maxCost: Option.Option<number>
  /** "prompts": the plan only (every sentence's plan and its storyboard page), issue 16. */
  readonly until?: Option.Option<"prompts"> | undefined
  /** Exit at once when another build holds the workspace lock (default: wait for it). */
  readonly noWait?: boolean
  /** Leave the remote cache out of this build. */
  readonly noRemoteCache?: boolean
  /**
   * Ids to re-take even when fresh, beyond the targets: the server's re-roll builds the film with one shot's
   * still forced (`target` final…, `retake` shot:K:image), so what follows it is rebuilt only if it changed.
   */
  readonly retake?: ReadonlyArray<string> | undefined
}

export interface Summary {
  readonly built: ReadonlyArray<string>
  readonly cached: ReadonlyArray<string>
  /** `cause` is the typed error the node failed with (not printed: `error` is its one line). */
  readonly failed: ReadonlyArray<{ readonly id: string; readonly error: string; readonly cause?: unknown }>
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly because: string }>
  readonly cost: Cost.Total
  readonly saved: Cost.Total
  readonly wallMs: number
  readonly runId: string
  readonly dryRun: boolean
  readonly wouldBuild?: ReadonlyArray<{ readonly id: string; readonly stage: string; readonly estimate: Cost.Cost }>
  readonly estimate?: Cost.Total
  /** Dry run: this transcript's sentences that the last build did not have, why, and what they would cost. */
  readonly splitChanges?: ReadonlyArray<SplitChanges.PricedChange>
  readonly blockedByBudget: ReadonlyArray<string>
  /** Stopped at the cost cap: what is left to build and its estimate. */
  readonly left?: Accounting.Left | undefined
  readonly output?: string | undefined
  /** Stopped by Ctrl-C (or SIGTERM): what finished before it. */
  readonly interrupted?: boolean | undefined
  /** Requests that knowingly paid again, and why. */
  readonly repaid: ReadonlyArray<Scheduler.Repaid>
  /** After `--until prompts`: the estimated cost of the rest of the film (images, clips), stored results not counted. */
  readonly toFinish?: Cost.Total | undefined
  /** The store could not be written (a full or failing disk): the build stopped there. */
  readonly storeFailure?: { readonly reason: string; readonly path: string; readonly message: string } | undefined
}

export interface RunHooks {
  /** Called before a real build starts with what it is expected to build and cost (a dry walk first). */
  readonly preview?: ((wouldBuild: ReadonlyArray<{ readonly id: string; readonly stage: string; readonly estimate: Cost.Cost }>) => void) | undefined
  /** Called when the build is interrupted, with what it finished and spent (already recorded in run.json). */
  readonly interrupted?: ((summary: Summary) => void) | undefined
  /** When the run started, if before `run` (the command: when the process started). Default: now. */
  readonly startedAt?: number | undefined
  /** The id to record the run under (the server names a job by it before it starts). Default: a new one. */
  readonly runId?: string | undefined
  /** Called once the input is checked, before the build waits for the workspace lock. */
  readonly checked?: (() => void) | undefined
  /** Called once the build holds the workspace lock (from then on it is a run that will be recorded). */
  readonly began?: (() => void) | undefined
  /** Pools shared with the other builds of this process (see `Scheduler.BuildOptions.sharedPools`). */
  readonly sharedPools?: Scheduler.BuildOptions["sharedPools"]
  /** A lease per paid node shared with other machines (`storyshot worker`; see `Scheduler.BuildOptions.claim`). */
  readonly claim?: Scheduler.BuildOptions["claim"]
  /** Who holds the lock, as the next comer is told (default "storyshot build"). */
  readonly command?: string | undefined
  /** A dry run with pins that are not saved yet: what an edit would build and cost before it is made. */
  readonly pins?: ((saved: ShotEdits.EditsFile) => ShotEdits.EditsFile) | undefined
}

/** The film's graph for these sentences, with the user's pinned shot prompts (storyshot.shots.json) in it. */
export const graphOf = (ws: Workspace, sentences: ReadonlyArray<string>, edits: ShotEdits.EditsFile, options: { readonly planOnly?: boolean } = {}) =>
  // The pins reach the film through each sentence's plan (targets/plan.ts), which reads these edits.
  ({ nodes: Targets.plan(ws, sentences, edits, options), rules: Targets.rules })

/** The code this process runs, when it can be named: the bundle's build id (bin/storyshot.cjs sets it). */
const codeId = (): string | undefined => {
  const id = (globalThis as { __storyshotBuild?: unknown }).__storyshotBuild
  return typeof id === "string" && id.length > 0 ? id : undefined
}

/**
 * What the film's graph is made from besides its declared nodes, for `Scheduler.BuildOptions.recorded`: the
 * code, and everything the rules' node and expansion functions see (the workspace's paths and config, the
 * providers' settings from the environment, the director's inputs, the shot edits, the text). Undefined when
 * the code cannot be named (sources run by a test): then every build walks the graph node by node.
 */
export const recordedKey = (ws: Workspace, sentences: ReadonlyArray<string>, edits: ShotEdits.EditsFile, options: { readonly planOnly?: boolean } = {}) => {
  const code = codeId()
  if (code === undefined) return undefined
  try {
    const { config, dir, storeDir, outDir, transcriptPath } = ws
    const director = Targets.planContext(ws).director
    return sha256(
      JSON.stringify({ code, dir, storeDir, outDir, transcriptPath, config, providers: ProviderConfig.fromEnv(ws.env), director, edits, sentences, planOnly: options.planOnly === true })
    )
  } catch {
    return undefined
  }
}

/** Flags a build refuses before reading anything: exit 2, one line. */
export const checkFlags = (flags: BuildFlags) =>
  Effect.gen(function* () {
    if (flags.force && flags.target.length === 0)
      return yield* new Session.UsageError({
        message: "--force rebuilds named targets only: add --target ID (e.g. --force --target shot:3:image)"
      })
    const cap = Option.getOrUndefined(flags.maxCost)
    if (cap !== undefined && !(Number.isFinite(cap) && cap >= 0))
      return yield* new Session.UsageError({ message: `--max-cost ${cap}: give a spend cap in USD of 0 or more (e.g. --max-cost 2)` })
  })

/** The whole build, for the CLI and for tests: returns the summary, never exits the process. */
export const run = (ws: Workspace, flags: BuildFlags, onEvent: (e: BuildEvent) => void = () => {}, hooks: RunHooks = {}) =>
  Effect.gen(function* () {
    // The whole run's wall-clock, from here: waiting for the lock, fetching the model list and the dry walk
    // count as much as the graph (a build that fails after 244 s must not say "in 121 s").
    const startedAt = hooks.startedAt ?? Date.now()
    yield* checkFlags(flags)
    const sentences = yield* Session.readSentences(ws)
    const saved = yield* ShotEdits.read(ws.dir).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))
    const edits = flags.dryRun && hooks.pins ? hooks.pins(saved) : saved
    yield* Session.checkEnv(ws)
    yield* Session.checkProviders(ws)
    yield* Session.checkTargets(ws, [...flags.target, ...(flags.retake ?? [])], sentences)
    if (!flags.dryRun) yield* Session.checkKeys(ws)
    const voices = yield* Session.checkVoice(ws)
    yield* Session.checkFfmpeg
    hooks.checked?.()
    const runId = hooks.runId ?? RunLog.newRunId()
    const dir = RunLog.runDir(ws.storeDir, runId)
    const planOnly = flags.until !== undefined && Option.isSome(flags.until)
    if (planOnly && flags.target.length > 0)
      return yield* new Session.UsageError({ message: "--until prompts builds the whole plan: leave out --target (or name sentence:N:plan targets without --until)" })
    const targets = planOnly ? [...Targets.planTargets(sentences)] : flags.target.length > 0 ? [...new Set(flags.target)] : [...Targets.defaultTargets]
    if (!flags.dryRun && !planOnly) yield* Review.checkApproved(ws, sentences, targets)
    const forced = new Set([...(flags.force ? targets : []), ...(flags.retake ?? [])])
    const force = forced.size > 0 ? forced : undefined
    // The plan only: its storyboard page needs no image or clip (targets/storyboard.ts).
    const graph = () => graphOf(ws, sentences, edits, { planOnly })
    const recorded = recordedKey(ws, sentences, edits, { planOnly })
    const maxCost = Option.getOrUndefined(flags.maxCost) ?? ws.config.maxCostUsd
    const requests: Array<{ id: string; request: unknown }> = []
    const accounts = Accounting.collector()
    let left: Accounting.Left | undefined
    let toFinish: Cost.Total | undefined
    // A dry walk of the same targets: what would be built and its estimate, paying nothing. Its events are
    // its own (a reporter must not count them as this build's).
    const dryWalk = Scheduler.build(
      graph(),
      { targets, force, dryRun: true, keepGoing: true, recorded }
    ).pipe(Effect.provide(BuildEvents.layerNoop))
    /** Set once the build holds the workspace: from then on, however it ends, it is a run worth recording. */
    let began = false
    /** Each sentence finished is shown in out/sentences/ at once (the pipeline's results, while it runs). */
    let showFinished: ((e: BuildEvent) => void) | undefined
    const program = Effect.gen(function* () {
      began = true
      hooks.began?.()
      const store = yield* Store
      if (!flags.dryRun) showFinished = (e) => e._tag === "Built" && e.stage === "mux" && publishSentence(ws, store, e.id, e.outputs)
      if (!flags.dryRun) yield* voices.save
      // What the chosen providers do first (OpenRouter's model list, for prices); a failure is only a warning.
      if (!flags.dryRun)
        for (const impl of Registry.picked(ws.config)) {
          const warning = impl.before ? yield* impl.before(Targets.planContext(ws)) : undefined
          if (warning !== undefined) onEvent({ _tag: "Warning", message: warning })
        }
      // The walk costs a second pass over the graph: only worth it when something can cost money.
      if (hooks.preview && !flags.dryRun && Registry.usesPaidProviders(ws.config))
        yield* dryWalk.pipe(
          Effect.tap((r) => Effect.sync(() => hooks.preview!(r.wouldBuild))),
          Effect.ignore
        )
      const pools = { ...Pools.defaultPools(), ...ws.config.pools }
      // ffmpeg's own threads sized to the jobs its pool runs at once (process-wide).
      Encode.sizeFor(pools.ffmpeg ?? 1)
      const result = yield* Scheduler.build(
        graph(),
        {
          targets,
          force,
          keepGoing: flags.keepGoing,
          dryRun: flags.dryRun,
          retries: ws.config.retries,
          // The pay-once predicate (contract 1): a node is tried again only when nothing paid would be paid again.
          retryable,
          retryBaseMs: ProviderConfig.fromEnv(ws.env).retryBaseMs,
          pools,
          estimateMs: Pools.typicalMs,
          sharedPools: hooks.sharedPools,
          claim: hooks.claim,
          timeoutMs: ws.config.timeoutSeconds * 1000,
          maxCostUsd: maxCost,
          complete: flags.target.length === 0,
          recorded
        }
      ).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))
      if (!flags.dryRun && !result.storeFailure) yield* publish(ws, store, sentences, result.results).pipe(Effect.ignore)
      // What the rest of the film would cost, once the plan is made: a dry walk of the whole film.
      if (planOnly && !flags.dryRun && result.failed.length === 0)
        toFinish = yield* Scheduler.build(graphOf(ws, sentences, edits), { targets: [...Targets.defaultTargets], dryRun: true, keepGoing: true }).pipe(
          Effect.provide(BuildEvents.layerNoop),
          Effect.map((r) => Cost.sum(r.wouldBuild.map((w) => w.estimate))),
          Effect.orElseSucceed(() => undefined)
        )
      if (!flags.dryRun && result.blockedByBudget.length > 0)
        left = yield* dryWalk.pipe(
          Effect.map((r) => Accounting.left(r.wouldBuild)),
          Effect.orElseSucceed(() => undefined)
        )
      return result
    })
    // One build writes a store at a time: taken only now, after every check of the input, so a refused
    // build leaves the store untouched. A dry run writes nothing and needs no lock.
    const locked = flags.dryRun
      ? program
      : Effect.scoped(
          Lock.acquire(ws.storeDir, {
            wait: flags.noWait !== true,
            command: hooks.command ?? "storyshot build",
            onWait: (_, message) => Effect.sync(() => onEvent({ _tag: "Warning", message })),
            onTakeOver: (_, message) => Effect.sync(() => onEvent({ _tag: "Warning", message }))
          }).pipe(
            Effect.mapError((e) => new Session.UsageError({ message: e.message })),
            Effect.zipRight(program)
          )
        )
    const layers = Session.layers(ws, dir, (e) => {
      showFinished?.(e)
      if (e._tag === "Request") requests.push({ id: e.id, request: e.request })
      accounts.onEvent(e)
      onEvent(e)
    }, { remoteCache: flags.noRemoteCache !== true })

    /** Writes run.json (what `runs` and `report` read), for every run that got as far as the lock. */
    const record = (summary: Summary, status: Accounting.RunStatus, error?: string) =>
      Effect.suspend(() => {
        if (flags.dryRun) return Effect.void
        const stages = accounts.stages()
        const report: Accounting.RunReport = {
          version: 1,
          runId,
          status,
          ...(error !== undefined ? { error } : {}),
          startedAt,
          endedAt: startedAt + summary.wallMs,
          wallMs: summary.wallMs,
          targets,
          profile: ws.config.profile,
          built: summary.built,
          cached: summary.cached,
          failed: summary.failed.map(({ id, error }) => ({ id, error })),
          skipped: summary.skipped,
          blockedByBudget: summary.blockedByBudget,
          maxCostUsd: maxCost,
          cost: summary.cost,
          saved: Cost.sum(stages.map((s) => s.saved)),
          savedMs: stages.reduce((a, s) => a + s.savedMs, 0),
          stages,
          nodes: accounts.nodes(),
          requests: accounts.requests(),
          left,
          output: summary.output,
          repaid: summary.repaid
        }
        // Whole or absent, also on a full disk (one was cut at 16384 bytes, and `runs` then listed nothing).
        return Atomic.writeAtomic(path.join(dir, "run.json"), JSON.stringify(report, null, 2), Atomic.tempName(ws.storeDir)).pipe(
          // When the disk is full the build already says so, once.
          Effect.catchAll((e) =>
            summary.storeFailure ? Effect.void : Effect.sync(() => onEvent({ _tag: "Warning", message: `this run was not recorded in \`storyshot runs\`: ${e.message}` }))
          )
        )
      })

    /** What an interrupted or failed run finished and spent, from its events (the scheduler gave no result). */
    const partial = (interrupted: boolean): Summary => {
      const nodes = accounts.nodes()
      const of = (status: Accounting.NodeStatus) => nodes.filter((n) => n.status === status)
      return {
        built: of("built").map((n) => n.id),
        cached: of("cached").map((n) => n.id),
        failed: of("failed").map((n) => ({ id: n.id, error: n.error ?? "failed" })),
        skipped: of("skipped").map((n) => ({ id: n.id, because: n.error ?? "" })),
        cost: Cost.sum(accounts.stages().map((s) => s.cost)),
        saved: Cost.sum(of("cached").map((n) => n.saved ?? Cost.free).filter((c) => c.source !== "free")),
        wallMs: Date.now() - startedAt,
        runId,
        dryRun: flags.dryRun,
        blockedByBudget: of("over-budget").map((n) => n.id),
        interrupted,
        repaid: accounts.requests().flatMap((r) => (r.repaid === undefined ? [] : [{ id: r.node, usd: r.cost.usd ?? null, why: r.repaid }]))
      }
    }

    const result = yield* locked.pipe(
      Telemetry.buildSpan({ "storyshot.run": runId, "storyshot.profile": ws.config.profile }),
      Effect.provide(layers),
      Effect.provide(Telemetry.layer(ws.env, ProviderConfig.fromEnv(ws.env).secrets)),
      Effect.onExit((exit) => {
        if (Exit.isSuccess(exit) || !began || flags.dryRun) return Effect.void
        const interrupted = Exit.isInterrupted(exit) && Cause.isInterruptedOnly(exit.cause)
        const summary = partial(interrupted)
        const error = interrupted ? undefined : Option.match(Cause.failureOption(exit.cause), { onNone: () => Cause.pretty(exit.cause).split("\n")[0], onSome: (e) => (e as { message?: string }).message ?? String(e) })
        return record(summary, interrupted ? "interrupted" : "failed", error).pipe(
          Effect.zipRight(Effect.sync(() => interrupted && hooks.interrupted?.(summary)))
        )
      })
    )
    const estimate = Cost.sum(result.wouldBuild.map((w) => w.estimate))
    // What the run paid is the sum of its requests (a failed node's billed attempts included), by stage.
    const paid = flags.dryRun ? Cost.zero : Cost.sum(accounts.stages().map((s) => s.cost))
    const summary: Summary = {
      built: result.built,
      cached: result.cached,
      failed: result.failed,
      skipped: result.skipped,
      cost: paid,
      saved: result.saved,
      wallMs: Date.now() - startedAt,
      runId,
      dryRun: flags.dryRun,
      blockedByBudget: result.blockedByBudget,
      ...(left ? { left } : {}),
      ...(flags.dryRun ? { wouldBuild: result.wouldBuild, estimate, splitChanges: splitChanges(ws, sentences, result) } : {}),
      output: result.results.has("final") && !result.storeFailure ? path.join(ws.outDir, "final.mp4") : undefined,
      repaid: result.repaid,
      ...(toFinish ? { toFinish } : {}),
      storeFailure: result.storeFailure && { reason: result.storeFailure.reason, path: result.storeFailure.path, message: result.storeFailure.message }
    }
    yield* record(summary, summary.failed.length > 0 ? "failed" : summary.blockedByBudget.length > 0 ? "cap" : "ok")
    return summary
  })

/** A dry run's report of the sentences that are new since the last build (SplitChanges.ts). */
const splitChanges = (
  ws: Workspace,
  sentences: ReadonlyArray<string>,
  result: { readonly wouldBuild: Summary["wouldBuild"] & {}; readonly edges: (id: string) => ReadonlyArray<string> }
) => {
  const before = SplitChanges.previousSplit(ws.storeDir)
  if (before === undefined) return []
  const changes = SplitChanges.compare(before, sentences)
  return SplitChanges.price(changes, result.wouldBuild, SplitChanges.owners(sentences.length, result.edges))
}

