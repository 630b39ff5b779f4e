/**
 * `storyshot build`: build the film (or the named targets and what they need), paying only for what is
 * stale, then refresh `out/` from the store.
 */
import * as path from "node:path"
import { Cause, Effect, Exit, Option } from "effect"
import * as Atomic from "../engine/Atomic.ts"
import * as Cost from "../engine/Cost.ts"
import { BuildEvents, type BuildEvent } from "../engine/Events.ts"
import * as Lock from "../engine/Lock.ts"
import * as Scheduler from "../engine/Scheduler.ts"
import { Store } from "../engine/Store.ts"
import * as Targets from "../../targets/index.ts"
import * as Registry from "../../targets/registry.ts"
import type { Profile } from "../Config.ts"
import * as Pools from "../Pools.ts"
import * as ProviderConfig from "../providers/ProviderConfig.ts"
import { retryable } from "../providers/Retryable.ts"
import { publish } from "../Publish.ts"
import * as Telemetry from "../Telemetry.ts"
import * as SplitChanges from "../text/SplitChanges.ts"
import * as Accounting from "./Accounting.ts"
import * as Reporter from "./Reporter.ts"
import * as RunLog from "./RunLog.ts"
import * as Session from "./Session.ts"
import * as Review from "../director/Review.ts"
import * as Watch from "./Watch.ts"
import { root } from "./Root.ts"
import type { buildOptions, Flags } from "./Commands.ts"
import type { Workspace } from "../Workspace.ts"

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
    yield* Session.checkEnv(ws)
    yield* Session.checkProviders(ws)
    yield* Session.checkTargets(ws, flags.target, sentences)
    if (!flags.dryRun) yield* Session.checkKeys(ws)
    const voices = yield* Session.checkVoice(ws)
    yield* Session.checkFfmpeg
    const runId = RunLog.newRunId()
    const dir = RunLog.runDir(ws.storeDir, runId)
    const planOnly = flags.until !== undefined && Option.isSome(flags.until)
    if (planOnly && flags.target.length > 0)
      return yield* new Session.UsageError({ message: "--until prompts builds the whole plan: leave out --target (or name sentence:N:plan targets without --until)" })
    const targets = planOnly ? [...Targets.planTargets(sentences)] : flags.target.length > 0 ? [...new Set(flags.target)] : [...Targets.defaultTargets]
    if (!flags.dryRun && !planOnly) yield* Review.checkApproved(ws, sentences, targets)
    // The plan only: its storyboard page needs no image or clip (targets/storyboard.ts).
    const graph = () => ({ nodes: Targets.plan(ws, sentences, undefined, { planOnly }), rules: Targets.rules })
    const maxCost = Option.getOrUndefined(flags.maxCost) ?? ws.config.maxCostUsd
    const requests: Array<{ id: string; request: unknown }> = []
    const accounts = Accounting.collector()
    let left: Accounting.Left | undefined
    let toFinish: Cost.Total | undefined
    // A dry walk of the same targets: what would be built and its estimate, paying nothing. Its events are
    // its own (a reporter must not count them as this build's).
    const dryWalk = Scheduler.build(
      graph(),
      { targets, force: flags.force ? new Set(targets) : undefined, dryRun: true, keepGoing: true }
    ).pipe(Effect.provide(BuildEvents.layerNoop))
    /** Set once the build holds the workspace: from then on, however it ends, it is a run worth recording. */
    let began = false
    const program = Effect.gen(function* () {
      began = true
      const store = yield* Store
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
      const result = yield* Scheduler.build(
        graph(),
        {
          targets,
          force: flags.force ? new Set(targets) : undefined,
          keepGoing: flags.keepGoing,
          dryRun: flags.dryRun,
          retries: ws.config.retries,
          // The pay-once predicate (contract 1): a node is tried again only when nothing paid would be paid again.
          retryable,
          retryBaseMs: ProviderConfig.fromEnv(ws.env).retryBaseMs,
          pools: { ...Pools.defaultPools(), ...ws.config.pools },
          timeoutMs: ws.config.timeoutSeconds * 1000,
          maxCostUsd: maxCost,
          complete: flags.target.length === 0
        }
      ).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))
      // A store that could not be written is a full or failing disk: out/ would fail the same way.
      if (!flags.dryRun && !result.storeFailure) yield* publish(ws, store, sentences, result.results).pipe(Effect.ignore)
      // What the rest of the film would cost, once the plan is made: a dry walk of the whole film.
      if (planOnly && !flags.dryRun && result.failed.length === 0)
        toFinish = yield* Scheduler.build(
          { nodes: Targets.plan(ws, sentences), rules: Targets.rules },
          { targets: [...Targets.defaultTargets], dryRun: true, keepGoing: true }
        ).pipe(
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
            command: "storyshot build",
            onWait: (_, message) => Effect.sync(() => onEvent({ _tag: "Warning", message })),
            onTakeOver: (_, message) => Effect.sync(() => onEvent({ _tag: "Warning", message }))
          }).pipe(
            Effect.mapError((e) => new Session.UsageError({ message: e.message })),
            Effect.zipRight(program)
          )
        )
    const layers = Session.layers(ws, dir, (e) => {
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

/** Why a build stopped at the cost cap, and what finishing it would take. */
export const capMessage = (summary: Summary) =>
  `stopped at the cost cap after spending ${Cost.format(summary.cost)}: ${summary.blockedByBudget.length} paid target(s) not started (${summary.blockedByBudget.slice(0, 5).join(", ")}${summary.blockedByBudget.length > 5 ? ", ..." : ""}); ${summary.left ? Accounting.formatLeft(summary.left) : "what is left could not be estimated"}. Raise --max-cost to finish`

const print = (summary: Summary, json: boolean) => {
  if (json) {
    process.stdout.write(
      JSON.stringify({
        built: summary.built,
        cached: summary.cached,
        failed: summary.failed.map(({ id, error }) => ({ id, error })),
        skipped: summary.skipped,
        cost: summary.cost,
        saved: summary.saved,
        wallMs: summary.wallMs,
        runId: summary.runId,
        ...(summary.dryRun ? { dryRun: true, wouldBuild: summary.wouldBuild, estimate: summary.estimate, splitChanges: summary.splitChanges } : {}),
        ...(summary.blockedByBudget.length ? { blockedByBudget: summary.blockedByBudget, left: summary.left } : {}),
        ...(summary.output ? { output: summary.output } : {}),
        ...(summary.interrupted ? { interrupted: true } : {}),
        repaid: summary.repaid,
        ...(summary.toFinish ? { toFinish: summary.toFinish } : {}),
        ...(summary.storeFailure ? { storeFailure: summary.storeFailure } : {})
      }) + "\n"
    )
    if (summary.storeFailure) process.stderr.write(`storyshot: ${summary.storeFailure.message}\n`)
    return
  }
  const out = (s: string) => process.stdout.write(s + "\n")
  if (summary.dryRun) {
    const byStage = new Map<string, Array<{ id: string; estimate: Cost.Cost }>>()
    for (const w of summary.wouldBuild ?? []) byStage.set(w.stage, [...(byStage.get(w.stage) ?? []), w])
    if (byStage.size === 0) out("Up to date: nothing would be built.")
    else {
      out("Would build:")
      for (const [stage, nodes] of [...byStage].sort((a, b) => Accounting.stageOrder.indexOf(a[0]) - Accounting.stageOrder.indexOf(b[0])))
        out(`  ${stage.padEnd(10)} ${String(nodes.length).padStart(4)} node${nodes.length === 1 ? " " : "s"}  ${Cost.format(Cost.sum(nodes.map((n) => n.estimate)))}`)
      out(`  estimated cost: ${Cost.format(summary.estimate ?? Cost.zero)} (nothing paid; stored results are not counted; the shots of a sentence not narrated yet are counted from its word count)`)
    }
    for (const line of SplitChanges.describe(summary.splitChanges ?? [])) out(line)
    out(`${summary.cached.length} up to date.`)
    return
  }
  const parts = [
    `${summary.built.length} built`,
    `${summary.cached.length} cached`,
    ...(summary.failed.length ? [`${summary.failed.length} failed`] : []),
    ...(summary.skipped.length ? [`${summary.skipped.length} not built (upstream failed)`] : [])
  ]
  out(`${summary.interrupted ? "interrupted: " : ""}${parts.join(", ")} in ${(summary.wallMs / 1000).toFixed(1)} s · spent ${Cost.format(summary.cost)}${summary.saved.usd > 0 ? ` · cache saved ${Cost.format(summary.saved)}` : ""}`)
  // Nodes the full disk stopped are said once, in the line below, not once each.
  for (const f of summary.failed) if (!(summary.storeFailure && Atomic.isStoreFailure(f.cause))) out(`  failed ${f.id}: ${f.error}`)
  for (const r of summary.repaid) out(`  paid again ${r.id}${r.usd === null ? "" : ` ($${r.usd.toFixed(4)})`}: ${r.why}`)
  if (summary.blockedByBudget.length) out(`  ${capMessage(summary)}`)
  if (summary.interrupted) out("  what finished is kept in the store; the next `storyshot build` continues from there")
  if (summary.output && summary.failed.length === 0 && !summary.interrupted) out(`→ ${path.relative(process.cwd(), summary.output) || summary.output}`)
  if (summary.toFinish)
    out(`The plan is made: review out/storyboard.html (storyshot refine, storyshot approve). To finish the film: about ${Cost.format(summary.toFinish)} (storyshot build).`)
  if (summary.storeFailure) process.stderr.write(`storyshot: ${summary.storeFailure.message}\n`)
}

/**
 * What a person sees while a build runs, on stderr: progress (also beside --json, whose object keeps stdout),
 * nothing with --quiet but warnings (waiting for the lock, damaged records).
 */
const progress = (flags: BuildFlags) => {
  const mode = Reporter.chooseMode(flags.quiet === true)
  const reporter = Reporter.make(mode, { dryRun: flags.dryRun })
  const stderr = (text: string) => void process.stderr.write(text + "\n")
  const onEvent = (e: BuildEvent) => {
    if (mode === "quiet" && e._tag === "Warning") stderr(`storyshot: warning: ${e.message}`)
    reporter.onEvent(e)
  }
  const hooks: RunHooks = {
    // A person watching sees the estimate of what is left count down; --quiet skips the extra dry walk.
    ...(mode === "quiet" ? {} : { preview: reporter.preview }),
    // Ctrl-C: the display goes, and what finished is printed as any build's summary is.
    interrupted: (summary) => {
      reporter.close()
      print(summary, flags.json)
    }
  }
  return { mode, reporter, onEvent, hooks, line: mode === "quiet" ? stderr : reporter.line }
}

/** `build --watch`: Watch.buildLoop runs the builds; each one gets its own progress display and summary. */
const watchBuild = (g: Session.GlobalOptions, flags: BuildFlags) =>
  Effect.gen(function* () {
    if (flags.force)
      return yield* new Session.UsageError({
        message: "--watch with --force would re-take the targets on every save: run the --force build once without --watch"
      })
    yield* checkFlags(flags)
    return yield* Watch.buildLoop({
      dir: Session.workspaceDir(g),
      configOption: Session.configPath(g),
      load: Session.openWorkspace(g, Option.getOrUndefined(flags.profile)),
      build: (ws, attach) => {
        const p = progress(flags)
        attach(p.line)
        return run(ws, flags, p.onEvent, p.hooks).pipe(
          Effect.ensuring(Effect.sync(() => p.reporter.close())),
          Effect.tap((summary) => Effect.sync(() => print(summary, flags.json)))
        )
      }
    })
  })

/** `storyshot build` (its options are in Commands.ts). */
export const handler = (flags: Flags<typeof buildOptions>) =>
    Effect.gen(function* () {
      const g = yield* root
      if (flags.watch) return yield* watchBuild(g, flags)
      const ws = yield* Session.openWorkspace(g, Option.getOrUndefined(flags.profile))
      const p = progress(flags)
      // The person's run began when they pressed Enter: loading the config and the start-up checks count too.
      const summary = yield* run(ws, flags, p.onEvent, { ...p.hooks, startedAt: Math.floor(performance.timeOrigin) }).pipe(Effect.ensuring(Effect.sync(() => p.reporter.close())))
      print(summary, flags.json)
      if (summary.storeFailure) return yield* new Session.BuildFailed({ message: summary.storeFailure.message })
      if (summary.failed.length > 0) return yield* new Session.BuildFailed({ message: `${summary.failed.length} target(s) failed` })
      if (summary.blockedByBudget.length > 0) return yield* new Session.BuildFailed({ message: capMessage(summary) })
    })
