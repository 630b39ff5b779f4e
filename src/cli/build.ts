/**
 * `storyshot build`: build the film (or the named targets and what they need), paying only for what is
 * stale, then refresh `out/` from the store.
 */
import * as path from "node:path"
import { Effect, Option } from "effect"
import * as Atomic from "../engine/Atomic.ts"
import * as Cost from "../engine/Cost.ts"
import type { BuildEvent } from "../engine/Events.ts"
import { checkFlags, run, type BuildFlags, type RunHooks, type Summary } from "../Build.ts"
import * as SplitChanges from "../text/SplitChanges.ts"
import * as Accounting from "./Accounting.ts"
import * as Reporter from "./Reporter.ts"
import * as Session from "./Session.ts"
import * as Watch from "./Watch.ts"
import { root } from "./Root.ts"
import type { buildOptions, Flags } from "./Commands.ts"

// The build itself moved to src/Build.ts (the server calls it too); tests and scripts still find it here.
export { checkFlags, run, type BuildFlags, type RunHooks, type Summary }

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
