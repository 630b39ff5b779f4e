/**
 * `storyshot build`: build the film (or the named targets and what they need), paying only for what is
 * stale, then refresh `out/` from the store.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as Cost from "../engine/Cost.ts"
import { BuildEvents, type BuildEvent } from "../engine/Events.ts"
import * as Lock from "../engine/Lock.ts"
import * as Scheduler from "../engine/Scheduler.ts"
import { Store } from "../engine/Store.ts"
import * as Targets from "../../targets/index.ts"
import * as Registry from "../../targets/registry.ts"
import { Profile } from "../Config.ts"
import { retryable, type Retryable } from "../providers/Retryable.ts"
import * as ProviderConfig from "../providers/ProviderConfig.ts"
import { publish } from "../Publish.ts"
import * as Accounting from "./Accounting.ts"
import * as Reporter from "./Reporter.ts"
import * as RunLog from "./RunLog.ts"
import * as Session from "./Session.ts"
import * as Watch from "./Watch.ts"
import { root } from "./Root.ts"
import type { Workspace } from "../Workspace.ts"

export const options = {
  target: Options.text("target").pipe(
    Options.withAlias("t"),
    Options.repeated,
    Options.withDescription(
      "Build this target and what it needs, nothing downstream (repeatable). Ids: transcript, sentence:N:audio, sentence:N:prompts, shot:K:image, shot:K:video, sentence:N:mux, final. Default: final."
    )
  ),
  force: Options.boolean("force").pipe(
    Options.withDescription("Rebuild the named --target ids even when fresh: a new take (paid again for paid stages); the old take stays in the store.")
  ),
  keepGoing: Options.boolean("keep-going").pipe(
    Options.withAlias("k"),
    Options.withDescription("After a failure, still finish every target that does not depend on it (default: stop at the first failure).")
  ),
  dryRun: Options.boolean("dry-run").pipe(
    Options.withAlias("n"),
    Options.withDescription("Show what would be built, per stage, with the estimated cost; build and pay nothing.")
  ),
  json: Options.boolean("json").pipe(
    Options.withDescription('Print one JSON object at the end: {built, cached, failed, cost: {usd, known}, wallMs, ...}.')
  ),
  profile: Options.choice("profile", Profile.literals).pipe(
    Options.optional,
    Options.withDescription("draft (offline, free) or cloud (paid providers). Overrides STORYSHOT_PROFILE and the config.")
  ),
  noWait: Options.boolean("no-wait").pipe(
    Options.withDescription("When another build is using this workspace, exit at once (exit code 2) instead of waiting for it.")
  ),
  watch: Options.boolean("watch").pipe(
    Options.withAlias("w"),
    Options.withDescription(
      "Keep running: build, then rebuild (only what is stale) whenever the transcript, the config or .env changes (debounced 300 ms). An edit during a build queues the next build: the running one finishes, nothing it paid for is thrown away, and one build follows with every change so far; never two at once. Ctrl-C stops (a running build is cancelled cleanly; what it finished stays in the store)."
    )
  ),
  maxCost: Options.float("max-cost").pipe(
    Options.optional,
    Options.withDescription("Spend cap in USD for this build (default: maxCostUsd in the config): no paid target starts when its estimate would take the run's spend over the cap; running ones finish and are recorded. Exits 1 saying what is left to build and its estimate.")
  )
}

export interface BuildFlags {
  readonly target: ReadonlyArray<string>
  readonly force: boolean
  readonly keepGoing: boolean
  readonly dryRun: boolean
  readonly json: boolean
  readonly profile: Option.Option<Profile>
  readonly maxCost: Option.Option<number>
  /** Exit at once when another build holds the workspace lock (default: wait for it). */
  readonly noWait?: boolean
}

export interface Summary {
  readonly built: ReadonlyArray<string>
  readonly cached: ReadonlyArray<string>
  readonly failed: ReadonlyArray<{ readonly id: string; readonly error: string }>
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly because: string }>
  readonly cost: Cost.Total
  readonly saved: Cost.Total
  readonly wallMs: number
  readonly runId: string
  readonly dryRun: boolean
  readonly wouldBuild?: ReadonlyArray<{ readonly id: string; readonly stage: string; readonly estimate: Cost.Cost }>
  readonly estimate?: Cost.Total
  readonly blockedByBudget: ReadonlyArray<string>
  /** Stopped at the cost cap: what is left to build and its estimate. */
  readonly left?: Accounting.Left | undefined
  readonly output?: string | undefined
  /** Requests that knowingly paid again for something paid before, and why (also in `report`). */
  readonly repaid: ReadonlyArray<Accounting.Repaid>
}

export interface RunHooks {
  /** Called before a real build starts with what it is expected to build and cost (a dry walk first). */
  readonly preview?: ((wouldBuild: ReadonlyArray<{ readonly id: string; readonly stage: string; readonly estimate: Cost.Cost }>) => void) | undefined
}

/** The whole build, for the CLI and for tests: returns the summary, never exits the process. */
export const run = (ws: Workspace, flags: BuildFlags, onEvent: (e: BuildEvent) => void = () => {}, hooks: RunHooks = {}) =>
  Effect.gen(function* () {
    if (flags.force && flags.target.length === 0)
      return yield* new Session.UsageError({
        message: "--force rebuilds named targets only: add --target ID (e.g. --force --target shot:3:image)"
      })
    const sentences = yield* Session.readSentences(ws)
    yield* Session.checkTargets(flags.target, sentences.length)
    yield* Session.checkProviders(ws)
    if (!flags.dryRun) yield* Session.checkKeys(ws)
    yield* Session.checkFfmpeg
    const runId = RunLog.newRunId()
    const dir = RunLog.runDir(ws.storeDir, runId)
    const targets = flags.target.length > 0 ? [...new Set(flags.target)] : [...Targets.defaultTargets]
    const maxCost = Option.getOrUndefined(flags.maxCost) ?? ws.config.maxCostUsd
    const requests: Array<{ id: string; request: unknown }> = []
    const accounts = Accounting.collector()
    let left: Accounting.Left | undefined
    // A dry walk of the same targets: what would be built and its estimate, paying nothing. Its events are
    // its own (a reporter must not count them as this build's).
    const dryWalk = Scheduler.build(
      { nodes: Targets.plan(ws, sentences), rules: Targets.rules },
      { targets, force: flags.force ? new Set(targets) : undefined, dryRun: true, keepGoing: true }
    ).pipe(Effect.provide(BuildEvents.layerNoop))
    const program = Effect.gen(function* () {
      const store = yield* Store
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
      const options: Scheduler.BuildOptions & { readonly retryable?: Retryable } = {
        targets,
        force: flags.force ? new Set(targets) : undefined,
        keepGoing: flags.keepGoing,
        dryRun: flags.dryRun,
        retries: ws.config.retries,
        // The pay-once predicate (contract 1): a node is tried again only when nothing paid would be paid again.
        retryable,
        retryBaseMs: ProviderConfig.fromEnv(ws.env).retryBaseMs,
        pools: { ...Scheduler.defaultPools(), ...ws.config.pools },
        timeoutMs: ws.config.timeoutSeconds * 1000,
        maxCostUsd: maxCost,
        complete: flags.target.length === 0
      }
      const result = yield* Scheduler.build({ nodes: Targets.plan(ws, sentences), rules: Targets.rules }, options).pipe(
        Effect.mapError((e) => new Session.UsageError({ message: e.message }))
      )
      if (!flags.dryRun) yield* publish(ws, store, sentences, result.results).pipe(Effect.ignore)
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
    const result = yield* locked.pipe(
      Effect.provide(
        Session.layers(ws, dir, (e) => {
          if (e._tag === "Request") requests.push({ id: e.id, request: e.request })
          accounts.onEvent(e)
          onEvent(e)
        })
      )
    )
    const estimate = Cost.sum(result.wouldBuild.map((w) => w.estimate))
    const stages = accounts.stages()
    // What the run paid is the sum of its requests (a failed node's billed attempts included), by stage.
    const paid = flags.dryRun ? Cost.zero : Cost.sum(stages.map((s) => s.cost))
    const summary: Summary = {
      built: result.built,
      cached: result.cached,
      failed: result.failed,
      skipped: result.skipped,
      cost: paid,
      saved: result.saved,
      wallMs: result.wallMs,
      runId,
      dryRun: flags.dryRun,
      blockedByBudget: result.blockedByBudget,
      repaid: Accounting.repaidOf(accounts.requests()),
      ...(left ? { left } : {}),
      ...(flags.dryRun ? { wouldBuild: result.wouldBuild, estimate } : {}),
      output: result.results.has("final") ? path.join(ws.outDir, "final.mp4") : undefined
    }
    if (!flags.dryRun) {
      yield* Effect.sync(() => {
        fs.mkdirSync(dir, { recursive: true })
        const endedAt = Date.now()
        const report: Accounting.RunReport = {
          version: 1,
          runId,
          startedAt: endedAt - result.wallMs,
          endedAt,
          wallMs: result.wallMs,
          targets,
          profile: ws.config.profile,
          built: summary.built,
          cached: summary.cached,
          failed: summary.failed,
          skipped: summary.skipped,
          blockedByBudget: summary.blockedByBudget,
          maxCostUsd: maxCost,
          cost: paid,
          saved: Cost.sum(stages.map((s) => s.saved)),
          savedMs: stages.reduce((a, s) => a + s.savedMs, 0),
          stages,
          nodes: accounts.nodes(),
          requests: accounts.requests(),
          left,
          output: summary.output,
          repaid: summary.repaid
        }
        fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify(report, null, 2))
      }).pipe(Effect.ignore)
    }
    return summary
  })

/** Why a build stopped at the cost cap, and what finishing it would take. */
export const capMessage = (summary: Summary) =>
  `stopped at the cost cap after spending ${Cost.format(summary.cost)}: ${summary.blockedByBudget.length} paid target(s) not started (${summary.blockedByBudget.slice(0, 5).join(", ")}${summary.blockedByBudget.length > 5 ? ", ..." : ""}); ${summary.left ? Accounting.formatLeft(summary.left) : "what is left could not be estimated"}. Raise --max-cost to finish`

const print = (summary: Summary, json: boolean) => {
  if (json) {
    process.stdout.write(
      JSON.stringify({
        built: summary.built,
        cached: summary.cached,
        failed: summary.failed,
        skipped: summary.skipped,
        cost: summary.cost,
        saved: summary.saved,
        wallMs: summary.wallMs,
        runId: summary.runId,
        repaid: summary.repaid,
        ...(summary.dryRun ? { dryRun: true, wouldBuild: summary.wouldBuild, estimate: summary.estimate } : {}),
        ...(summary.blockedByBudget.length ? { blockedByBudget: summary.blockedByBudget, left: summary.left } : {}),
        ...(summary.output ? { output: summary.output } : {})
      }) + "\n"
    )
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
    out(`${summary.cached.length} up to date.`)
    return
  }
  const parts = [
    `${summary.built.length} built`,
    `${summary.cached.length} cached`,
    ...(summary.failed.length ? [`${summary.failed.length} failed`] : []),
    ...(summary.skipped.length ? [`${summary.skipped.length} not built (upstream failed)`] : [])
  ]
  out(`${parts.join(", ")} in ${(summary.wallMs / 1000).toFixed(1)} s · spent ${Cost.format(summary.cost)}${summary.saved.usd > 0 ? ` · cache saved ${Cost.format(summary.saved)}` : ""}`)
  for (const f of summary.failed) out(`  failed ${f.id}: ${f.error}`)
  for (const r of summary.repaid) out(`  paid again ${r.id}${r.usd === null ? "" : ` ($${r.usd.toFixed(4)})`}: ${r.why}`)
  if (summary.blockedByBudget.length) out(`  ${capMessage(summary)}`)
  if (summary.output && summary.failed.length === 0) out(`→ ${path.relative(process.cwd(), summary.output) || summary.output}`)
}

/** `build --watch`: Watch.buildLoop runs the builds; each one gets its own progress display and summary. */
const watchBuild = (g: Session.GlobalOptions, flags: BuildFlags) =>
  Effect.gen(function* () {
    if (flags.force)
      return yield* new Session.UsageError({
        message: "--watch with --force would re-take the targets on every save: run the --force build once without --watch"
      })
    return yield* Watch.buildLoop({
      dir: path.resolve(Option.getOrElse(g.cwd, () => process.cwd())),
      configOption: Option.getOrUndefined(g.config),
      load: Session.openWorkspace(g, Option.getOrUndefined(flags.profile)),
      build: (ws, attach) => {
        const reporter = Reporter.make(Reporter.chooseMode(flags.json), { dryRun: flags.dryRun })
        const stderr = (text: string) => void process.stderr.write(text + "\n")
        attach(flags.json ? stderr : reporter.line)
        const onEvent = (e: BuildEvent) => {
          if (flags.json && e._tag === "Warning") stderr(`storyshot: ${e.message}`)
          reporter.onEvent(e)
        }
        return run(ws, flags, onEvent).pipe(
          Effect.ensuring(Effect.sync(() => reporter.close())),
          Effect.tap((summary) => Effect.sync(() => print(summary, flags.json)))
        )
      }
    })
  })

export const command = Command.make("build", options, (flags) =>
    Effect.gen(function* () {
      const g = yield* root
      if (flags.watch) return yield* watchBuild(g, flags)
      const ws = yield* Session.openWorkspace(g, Option.getOrUndefined(flags.profile))
      const mode = Reporter.chooseMode(flags.json)
      const reporter = Reporter.make(mode, { dryRun: flags.dryRun })
      // --json keeps stdout for the summary; warnings (waiting for the lock, damaged records) still reach stderr.
      const onEvent = flags.json
        ? (e: BuildEvent) => {
            if (e._tag === "Warning") process.stderr.write(`storyshot: ${e.message}\n`)
            reporter.onEvent(e)
          }
        : reporter.onEvent
      // A person watching sees the estimate of what is left count down; --json skips the extra dry walk.
      const hooks = mode === "quiet" ? {} : { preview: reporter.preview }
      const summary = yield* run(ws, flags, onEvent, hooks).pipe(Effect.ensuring(Effect.sync(() => reporter.close())))
      print(summary, flags.json)
      if (summary.failed.length > 0) return yield* new Session.BuildFailed({ message: `${summary.failed.length} target(s) failed` })
      if (summary.blockedByBudget.length > 0) return yield* new Session.BuildFailed({ message: capMessage(summary) })
    })
  ).pipe(Command.withDescription("Build the film, or the named targets and what they need, rebuilding only what is stale."))
