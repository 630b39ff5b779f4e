/**
 * `storyshot runs` and `storyshot report [RUN]`: what past builds did, cost and took, read from
 * `.storyshot/runs/<run-id>/run.json` (written by `build`, see `Accounting.ts`). The full request/response
 * log of a run is beside it in `io.jsonl`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as Cost from "../engine/Cost.ts"
import * as Accounting from "./Accounting.ts"
import { root } from "./Root.ts"
import * as Session from "./Session.ts"

/** A run.json as read back: runs recorded before per-stage accounting lack `stages`, `nodes`, `version`. */
export type StoredRun = Partial<Accounting.RunReport> & { readonly runId: string; readonly dir: string }

export const readRuns = (storeDir: string): ReadonlyArray<StoredRun> => {
  const dir = path.join(storeDir, "runs")
  let names: Array<string> = []
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  const runs: Array<StoredRun> = []
  for (const name of names) {
    try {
      const report = JSON.parse(fs.readFileSync(path.join(dir, name, "run.json"), "utf8")) as Partial<Accounting.RunReport>
      runs.push({ ...report, runId: report.runId ?? name, dir: path.join(dir, name) })
    } catch {
      // A run without run.json: interrupted before it finished, or a graph/why scratch folder.
    }
  }
  return runs.sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0) || b.runId.localeCompare(a.runId))
}

const when = (ms: number | undefined) =>
  ms === undefined ? "?" : new Date(ms).toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, "")

const money = (t: Cost.Total | undefined) => (t ? Cost.format(t) : "?")

export interface RunRow {
  readonly runId: string
  readonly startedAt: number | undefined
  readonly profile: string | undefined
  readonly built: number
  readonly cached: number
  readonly failed: number
  readonly overBudget: number
  readonly cost: Cost.Total | undefined
  readonly wallMs: number | undefined
}

export const rows = (runs: ReadonlyArray<StoredRun>): ReadonlyArray<RunRow> =>
  runs.map((r) => ({
    runId: r.runId,
    startedAt: r.startedAt,
    profile: r.profile,
    built: r.built?.length ?? 0,
    cached: r.cached?.length ?? 0,
    failed: r.failed?.length ?? 0,
    overBudget: r.blockedByBudget?.length ?? 0,
    cost: r.cost,
    wallMs: r.wallMs
  }))

const table = (header: ReadonlyArray<string>, body: ReadonlyArray<ReadonlyArray<string>>, right: ReadonlySet<number>) => {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)))
  const line = (r: ReadonlyArray<string>) =>
    r.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()
  return [line(header), ...body.map(line)].join("\n")
}

export const runsText = (rs: ReadonlyArray<RunRow>) =>
  rs.length === 0
    ? "No runs yet: `storyshot build` records each build in .storyshot/runs/."
    : table(
        ["RUN", "WHEN (UTC)", "PROFILE", "BUILT", "CACHED", "FAILED", "COST", "WALL"],
        rs.map((r) => [
          r.runId,
          when(r.startedAt),
          r.profile ?? "?",
          String(r.built),
          String(r.cached),
          r.failed ? String(r.failed) : r.overBudget ? `cap:${r.overBudget}` : "0",
          money(r.cost),
          r.wallMs === undefined ? "?" : Accounting.seconds(r.wallMs)
        ]),
        new Set([3, 4, 5, 6, 7])
      )

/** A run by id, unique prefix, or the latest when none is given. */
export const findRun = (runs: ReadonlyArray<StoredRun>, wanted: string | undefined) =>
  Effect.gen(function* () {
    if (runs.length === 0) return yield* new Session.UsageError({ message: "no runs recorded yet: run `storyshot build` first" })
    if (wanted === undefined || wanted === "last" || wanted === "latest") return runs[0]!
    const matches = runs.filter((r) => r.runId === wanted || r.runId.startsWith(wanted))
    if (matches.length === 1) return matches[0]!
    return yield* new Session.UsageError({
      message:
        matches.length === 0
          ? `no run "${wanted}" (see \`storyshot runs\`; the latest is ${runs[0]!.runId})`
          : `"${wanted}" matches ${matches.length} runs: give more of the id (${matches.slice(0, 3).map((r) => r.runId).join(", ")}, ...)`
    })
  })

const usd = (c: Cost.Cost) => (c.usd === undefined ? -1 : c.usd)

/** The report's ordering: the slowest and the most expensive requests first. */
export const ranked = (run: StoredRun) => {
  const requests = run.requests ?? []
  return {
    slowest: [...requests].sort((a, b) => b.wallMs - a.wallMs),
    mostExpensive: [...requests].sort((a, b) => usd(b.cost) - usd(a.cost) || b.wallMs - a.wallMs)
  }
}

export const reportText = (run: StoredRun, top = 10) => {
  const out: Array<string> = []
  out.push(
    `Run ${run.runId} · ${when(run.startedAt)} UTC · profile ${run.profile ?? "?"} · targets ${(run.targets ?? []).join(", ") || "?"}`,
    `${run.built?.length ?? 0} built, ${run.cached?.length ?? 0} cached, ${run.failed?.length ?? 0} failed in ${run.wallMs === undefined ? "?" : Accounting.seconds(run.wallMs)} · paid ${money(run.cost)}${run.saved && (run.saved.usd > 0 || !run.saved.known) ? ` · cache saved ${money(run.saved)} and ${Accounting.seconds(run.savedMs ?? 0)} of work` : ""}`
  )
  if (run.maxCostUsd !== undefined) out.push(`cost cap $${run.maxCostUsd}${run.blockedByBudget?.length ? `: ${run.blockedByBudget.length} paid target(s) not started` : ""}`)
  if (run.left) out.push(Accounting.formatLeft(run.left))
  const repaid = run.repaid ?? Accounting.repaidOf(run.requests ?? [])
  if (repaid.length > 0)
    out.push(`Paid again (${repaid.length}): ${repaid.map((r) => `${r.id} ${r.usd === null ? "unknown" : `$${r.usd.toFixed(4)}`} (${r.why})`).join("; ")}`)
  if (!run.stages) {
    out.push("", "(this run was recorded before per-stage accounting: no stage or request figures)")
    return out.join("\n")
  }
  out.push(
    "",
    "By stage (wall = wall-clock of the stage, overlapping work counted once; busy = sum of node times):",
    table(
      ["STAGE", "BUILT", "CACHED", "FAILED", "REQUESTS", "PAID", "SAVED", "WALL", "BUSY", "LONGEST REQ"],
      run.stages.map((s) => [
        s.stage,
        String(s.built),
        String(s.cached),
        String(s.failed),
        String(s.requests),
        Cost.format(s.cost),
        s.saved.usd > 0 || !s.saved.known ? Cost.format(s.saved) : "-",
        Accounting.seconds(s.wallMs),
        Accounting.seconds(s.busyMs),
        s.requests ? Accounting.seconds(s.longestRequestMs) : "-"
      ]),
      new Set([1, 2, 3, 4, 5, 6, 7, 8, 9])
    )
  )
  const { slowest, mostExpensive } = ranked(run)
  const reqTable = (rs: ReadonlyArray<Accounting.RequestRow>) =>
    table(
      ["NODE", "PROVIDER", "MODEL", "REQUEST ID", "WALL", "QUEUE", "COST", "SOURCE"],
      rs.slice(0, top).map((r) => [
        r.node,
        r.provider,
        r.model,
        r.requestId ?? "-",
        Accounting.seconds(r.wallMs),
        r.queueMs === undefined ? "-" : Accounting.seconds(r.queueMs),
        Cost.format(r.cost),
        r.cost.source
      ]),
      new Set([4, 5, 6])
    )
  if (slowest.length) {
    out.push("", `Slowest requests (${Math.min(top, slowest.length)} of ${slowest.length}):`, reqTable(slowest))
    out.push("", `Most expensive requests (${Math.min(top, mostExpensive.length)} of ${mostExpensive.length}):`, reqTable(mostExpensive))
  } else out.push("", "No requests to paid providers in this run.")
  out.push("", `Full request/response log: ${path.join(run.dir, "io.jsonl")}`)
  return out.join("\n")
}

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table."))

export const runsCommand = Command.make("runs", { json }, (flags) =>
  Effect.gen(function* () {
    const g = yield* root
    const ws = yield* Session.openWorkspace(g)
    const rs = rows(readRuns(ws.storeDir))
    process.stdout.write((flags.json ? JSON.stringify({ runs: rs }, null, 2) : runsText(rs)) + "\n")
  })
).pipe(Command.withDescription("List past builds, newest first: when, built / cached / failed, cost paid, wall-clock time."))

export const reportCommand = Command.make(
  "report",
  {
    run: Args.text({ name: "RUN" }).pipe(Args.optional, Args.withDescription("A run id or a unique prefix of one (default: the latest run).")),
    json
  },
  (flags) =>
    Effect.gen(function* () {
      const g = yield* root
      const ws = yield* Session.openWorkspace(g)
      const run = yield* findRun(readRuns(ws.storeDir), Option.getOrUndefined(flags.run))
      if (flags.json) {
        const { dir: _dir, ...report } = run
        const { slowest, mostExpensive } = ranked(run)
        process.stdout.write(JSON.stringify({ ...report, slowest, mostExpensive }, null, 2) + "\n")
      } else process.stdout.write(reportText(run) + "\n")
    })
).pipe(
  Command.withDescription(
    "One run in detail: cost and wall-clock per stage (cache hits as money and time saved), then its requests, slowest and most expensive first."
  )
)
