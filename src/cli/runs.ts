/**
 * `storyshot runs` and `storyshot report [RUN]`: what past builds did, cost and took, read from
 * `.storyshot/runs/<run-id>/run.json` (written by `build`, see `Accounting.ts`). The full request/response
 * log of a run is beside it in `io.jsonl`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Option } from "effect"
import * as Cost from "../engine/Cost.ts"
import * as Accounting from "./Accounting.ts"
import { root } from "./Root.ts"
import type { Flags, reportOptions, runsOptions } from "./Commands.ts"
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
  readonly status: Accounting.RunStatus
  readonly startedAt: number | undefined
  readonly profile: string | undefined
  readonly built: number
  readonly cached: number
  readonly failed: number
  readonly overBudget: number
  readonly cost: Cost.Total | undefined
  readonly wallMs: number | undefined
}

/** How a run ended; runs recorded before `status` existed finished (an interrupted one left no run.json). */
export const statusOf = (r: StoredRun): Accounting.RunStatus =>
  r.status ?? ((r.failed?.length ?? 0) > 0 ? "failed" : (r.blockedByBudget?.length ?? 0) > 0 ? "cap" : "ok")

export const rows = (runs: ReadonlyArray<StoredRun>): ReadonlyArray<RunRow> =>
  runs.map((r) => ({
    runId: r.runId,
    status: statusOf(r),
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
        ["RUN", "WHEN (UTC)", "PROFILE", "STATUS", "BUILT", "CACHED", "FAILED", "COST", "WALL"],
        rs.map((r) => [
          r.runId,
          when(r.startedAt),
          r.profile ?? "?",
          r.status === "cap" ? "cost cap" : r.status,
          String(r.built),
          String(r.cached),
          r.failed ? String(r.failed) : r.overBudget ? `cap:${r.overBudget}` : "0",
          money(r.cost),
          r.wallMs === undefined ? "?" : Accounting.seconds(r.wallMs)
        ]),
        new Set([4, 5, 6, 7, 8])
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

/** Calls of one kind to an outside service, from the run's io.jsonl: every attempt, failed ones included. */
export interface CallRow {
  readonly provider: string
  /** Method and path, e.g. "POST /fal-ai/minimax/speech-02-turbo". */
  readonly call: string
  readonly calls: number
  /** No answer (network, time-out) or an HTTP status of 400 or more. */
  readonly failed: number
  /** "503 ×4, no answer ×2" */
  readonly outcomes: string
}

/**
 * Every exchange the run had with an outside service, grouped by provider and call. `requests` (in run.json)
 * holds what providers recorded as a request (with its cost); this is the ground truth of what was *tried*:
 * a build whose every submit failed shows its attempts here.
 */
export const readCalls = (run: StoredRun): ReadonlyArray<CallRow> => {
  let text: string
  try {
    text = fs.readFileSync(path.join(run.dir, "io.jsonl"), "utf8")
  } catch {
    return []
  }
  const groups = new Map<string, { provider: string; call: string; outcomes: Map<string, number>; calls: number; failed: number }>()
  for (const line of text.split("\n")) {
    if (!line.trim()) continue
    let e: { provider?: string; method?: string; url?: string; status?: number }
    try {
      e = JSON.parse(line)
    } catch {
      continue // a line cut short by a kill
    }
    let where = e.url ?? "?"
    try {
      // Request ids, upload ids and file names vary per call: one row per kind of call.
      where = new URL(where).pathname
        .replace(/\/files\/.*/, "/files/…")
        .split("/")
        .map((part) => (/^[0-9a-f-]{16,}$/i.test(part) || /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(part) ? "{id}" : part))
        .join("/")
    } catch {}
    const call = `${e.method ?? "?"} ${where}`
    const key = `${e.provider}\u0000${call}`
    const g = groups.get(key) ?? { provider: e.provider ?? "?", call, outcomes: new Map(), calls: 0, failed: 0 }
    const outcome = e.status === undefined ? "no answer" : String(e.status)
    g.calls++
    if (e.status === undefined || e.status >= 400) g.failed++
    g.outcomes.set(outcome, (g.outcomes.get(outcome) ?? 0) + 1)
    groups.set(key, g)
  }
  return [...groups.values()]
    .sort((a, b) => b.failed - a.failed || b.calls - a.calls || a.call.localeCompare(b.call))
    .map((g) => ({
      provider: g.provider,
      call: g.call,
      calls: g.calls,
      failed: g.failed,
      outcomes: [...g.outcomes].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o} ×${n}`).join(", ")
    }))
}

const usd = (c: Cost.Cost) => (c.usd === undefined ? -1 : c.usd)
const requests = (run: StoredRun) => run.requests ?? []

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
  const status = statusOf(run)
  const ended = status === "interrupted" ? "interrupted: " : status === "failed" && run.error ? `stopped on an error (${run.error}): ` : ""
  out.push(
    `Run ${run.runId} · ${when(run.startedAt)} UTC · profile ${run.profile ?? "?"} · targets ${(run.targets ?? []).join(", ") || "?"}`,
    `${ended}${run.built?.length ?? 0} built, ${run.cached?.length ?? 0} cached, ${run.failed?.length ?? 0} failed in ${run.wallMs === undefined ? "?" : Accounting.seconds(run.wallMs)} · paid ${money(run.cost)}${run.saved && (run.saved.usd > 0 || !run.saved.known) ? ` · cache saved ${money(run.saved)} and ${Accounting.seconds(run.savedMs ?? 0)} of work` : ""}`
  )
  for (const f of (run.failed ?? []).slice(0, top)) out.push(`  failed ${f.id}: ${f.error}`)
  if ((run.failed?.length ?? 0) > top) out.push(`  ... and ${run.failed!.length - top} more failed`)
  if (run.maxCostUsd !== undefined) out.push(`cost cap $${run.maxCostUsd}${run.blockedByBudget?.length ? `: ${run.blockedByBudget.length} paid target(s) not started` : ""}`)
  if (run.left) out.push(Accounting.formatLeft(run.left))
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
  // Re-payments: what this run knowingly paid for again (from run.json, or its requests for older runs).
  const repaid = run.repaid ?? requests(run).filter((r) => r.repaid !== undefined).map((r) => ({ id: r.node, usd: r.cost.usd ?? null, why: r.repaid! }))
  if (repaid.length) {
    const total = Cost.sum(repaid.map((r) => (r.usd === null ? Cost.unknown : Cost.fromTable(r.usd))))
    out.push("", `Paid again (${repaid.length}, ${Cost.format(total)}):`)
    for (const r of repaid) out.push(`  ${r.id}  ${r.usd === null ? "unknown" : Cost.format(Cost.fromTable(r.usd))}  ${r.why}`)
  }
  const calls = readCalls(run)
  if (slowest.length) {
    out.push("", `Slowest requests (${Math.min(top, slowest.length)} of ${slowest.length}):`, reqTable(slowest))
    out.push("", `Most expensive requests (${Math.min(top, mostExpensive.length)} of ${mostExpensive.length}):`, reqTable(mostExpensive))
  } else if (calls.length === 0) out.push("", "No requests to paid providers in this run.")
  else out.push("", "No request was recorded as accepted by a paid provider (so none was billed as far as storyshot knows); the calls it tried are below.")
  if (calls.length) {
    const total = calls.reduce((a, c) => a + c.calls, 0)
    const failed = calls.reduce((a, c) => a + c.failed, 0)
    out.push(
      "",
      `Calls to outside services, every attempt (${total}, ${failed} failed):`,
      table(
        ["PROVIDER", "CALL", "CALLS", "FAILED", "OUTCOMES"],
        calls.map((c) => [c.provider, c.call, String(c.calls), String(c.failed), c.outcomes]),
        new Set([2, 3])
      )
    )
  }
  out.push("", `Full request/response log: ${path.join(run.dir, "io.jsonl")}`)
  return out.join("\n")
}

/** `storyshot runs` (its options are in Commands.ts). */
export const runsHandler = (flags: Flags<typeof runsOptions>) =>
  Effect.gen(function* () {
    const g = yield* root
    const ws = yield* Session.openWorkspace(g)
    const rs = rows(readRuns(ws.storeDir))
    process.stdout.write((flags.json ? JSON.stringify({ runs: rs }, null, 2) : runsText(rs)) + "\n")
  })

/** `storyshot report [RUN]` (its options are in Commands.ts). */
export const reportHandler = (flags: Flags<typeof reportOptions>) =>
    Effect.gen(function* () {
      const g = yield* root
      const ws = yield* Session.openWorkspace(g)
      const run = yield* findRun(readRuns(ws.storeDir), Option.getOrUndefined(flags.run))
      if (flags.json) {
        const { dir: _dir, ...report } = run
        const { slowest, mostExpensive } = ranked(run)
        process.stdout.write(JSON.stringify({ ...report, status: statusOf(run), slowest, mostExpensive, calls: readCalls(run) }, null, 2) + "\n")
      } else process.stdout.write(reportText(run) + "\n")
    })
