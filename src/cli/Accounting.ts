/**
 * Cost and time of a run, per request, per node, per stage and for the whole run: what `run.json` keeps and
 * what `storyshot report` / `storyshot runs` print.
 *
 * Time is wall-clock: a stage's time is the union of the intervals its nodes ran in (from the moment a node
 * got its pool slot to the moment its result was stored), never their sum, so four clips made at once in
 * 40 s count 40 s, not 160 s. The sum is kept beside it (`busyMs`) to show how much the concurrency gave.
 * A cache hit is $0 paid; what its stored result cost to make, and how long it took, is counted as saved.
 * An unknown cost is never shown as $0: sums that contain one are `known: false`.
 */
import * as Cost from "../engine/Cost.ts"
import type { BuildEvent } from "../engine/Events.ts"

export interface RequestRow {
  readonly node: string
  readonly stage: string
  readonly provider: string
  readonly model: string
  readonly requestId?: string | undefined
  readonly startedAt: number
  readonly endedAt: number
  readonly wallMs: number
  /** Time waiting in the provider's queue, when the provider says (fal). */
  readonly queueMs?: number | undefined
  /** Wall-clock minus queue time. */
  readonly runMs: number
  readonly cost: Cost.Cost
  readonly attempt?: number | undefined
  /** This request knowingly paid again for something already paid for: why. */
  readonly repaid?: string | undefined
}

export type NodeStatus = "built" | "cached" | "failed" | "skipped" | "over-budget"

export interface NodeRow {
  readonly id: string
  readonly stage: string
  readonly status: NodeStatus
  readonly startedAt?: number | undefined
  readonly endedAt?: number | undefined
  readonly wallMs?: number | undefined
  /** Waiting before it ran: for its inputs to be built, then for a slot in its pool (not in wallMs). */
  readonly inputsMs?: number | undefined
  readonly poolMs?: number | undefined
  /** Paid in this run (built) — $0 for a cache hit. */
  readonly cost: Cost.Cost
  /** A cache hit: what the stored result cost to make, and how long it took. */
  readonly saved?: Cost.Cost | undefined
  readonly savedMs?: number | undefined
  readonly attempts?: number | undefined
  readonly error?: string | undefined
}

export interface StageRow {
  readonly stage: string
  readonly built: number
  readonly cached: number
  readonly failed: number
  readonly requests: number
  readonly cost: Cost.Total
  readonly saved: Cost.Total
  readonly savedMs: number
  /** Union of the stage's node run intervals: how long the stage kept the build busy. */
  readonly wallMs: number
  /** Sum of the node run times (≥ wallMs; the difference is what concurrency saved). */
  readonly busyMs: number
  /** Union of the stage's request intervals, and their sum, and the longest one. */
  readonly requestWallMs: number
  readonly requestSumMs: number
  readonly longestRequestMs: number
}

export interface Left {
  readonly nodes: number
  readonly byStage: ReadonlyArray<{ readonly stage: string; readonly nodes: number; readonly estimate: Cost.Total }>
  readonly estimate: Cost.Total
}

/** How a run ended: finished (ok), a target failed or the build stopped on an error, Ctrl-C, the cost cap. */
export type RunStatus = "ok" | "failed" | "interrupted" | "cap"

export interface RunReport {
  readonly version: 1
  readonly runId: string
  /** Absent in runs recorded before it (derive it from `failed` / `blockedByBudget`). */
  readonly status?: RunStatus | undefined
  /** Why a run that stopped on an error (not a target's failure) stopped. */
  readonly error?: string | undefined
  readonly startedAt: number
  readonly endedAt: number
  readonly wallMs: number
  readonly targets: ReadonlyArray<string>
  readonly profile: string
  readonly built: ReadonlyArray<string>
  readonly cached: ReadonlyArray<string>
  readonly failed: ReadonlyArray<{ readonly id: string; readonly error: string }>
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly because: string }>
  readonly blockedByBudget: ReadonlyArray<string>
  readonly maxCostUsd?: number | undefined
  /** Paid in this run: the sum of its requests' costs. */
  readonly cost: Cost.Total
  readonly saved: Cost.Total
  readonly savedMs: number
  readonly stages: ReadonlyArray<StageRow>
  readonly nodes: ReadonlyArray<NodeRow>
  readonly requests: ReadonlyArray<RequestRow>
  /** What a build stopped at the cost cap left to build, with its estimate. */
  readonly left?: Left | undefined
  readonly output?: string | undefined
  /** Requests that knowingly paid again (runs recorded before re-payments were listed lack it). */
  readonly repaid?: ReadonlyArray<{ readonly id: string; readonly usd: number | null; readonly why: string }> | undefined
}

/** Total length covered by a set of intervals (overlaps counted once). */
export const unionMs = (intervals: ReadonlyArray<readonly [number, number]>): number => {
  const sorted = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0])
  let total = 0
  let start = -Infinity
  let end = -Infinity
  for (const [a, b] of sorted) {
    if (a > end) {
      if (end > start) total += end - start
      start = a
      end = b
    } else if (b > end) end = b
  }
  if (end > start) total += end - start
  return total
}

export const stageOrder = ["transcript", "audio", "timing", "prompts", "image", "video", "mux", "final"]
const byStageOrder = (a: string, b: string) => {
  const ia = stageOrder.indexOf(a)
  const ib = stageOrder.indexOf(b)
  // Code-unit order, not localeCompare: the first localeCompare loads ICU's collator (~25 ms on a no-op build).
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : a > b ? 1 : 0)
}

/** Collects a run's figures from its build events. */
export const collector = (now: () => number = Date.now) => {
  const stageOf = new Map<string, string>()
  const firstStart = new Map<string, number>()
  const discoveredAt = new Map<string, number>()
  const nodes = new Map<string, NodeRow>()
  const requests: Array<RequestRow> = []

  const onEvent = (e: BuildEvent) => {
    switch (e._tag) {
      case "Discovered":
        for (const n of e.nodes) {
          stageOf.set(n.id, n.stage)
          if (!discoveredAt.has(n.id)) discoveredAt.set(n.id, now())
        }
        break
      case "Started":
        stageOf.set(e.id, e.stage)
        if (!firstStart.has(e.id)) firstStart.set(e.id, now())
        break
      case "Request": {
        const r = e.request
        const wallMs = Math.max(0, r.endedAt - r.startedAt)
        requests.push({
          node: e.id,
          stage: stageOf.get(e.id) ?? "?",
          provider: r.provider,
          model: r.model,
          requestId: r.requestId,
          startedAt: r.startedAt,
          endedAt: r.endedAt,
          wallMs,
          queueMs: r.queueMs,
          runMs: Math.max(0, wallMs - (r.queueMs ?? 0)),
          cost: r.cost,
          attempt: r.attempt,
          ...(r.repaid !== undefined ? { repaid: r.repaid } : {})
        })
        break
      }
      case "Built": {
        // The run interval starts when the node got its pool slot (its first Started), not when it began
        // waiting for one: time spent queued behind other nodes of the stage is not the stage's work.
        const startedAt = Math.max(e.startedAt, Math.min(firstStart.get(e.id) ?? e.startedAt, e.endedAt))
        const known = discoveredAt.get(e.id)
        nodes.set(e.id, {
          id: e.id,
          stage: e.stage,
          status: "built",
          startedAt,
          endedAt: e.endedAt,
          wallMs: e.endedAt - startedAt,
          inputsMs: known === undefined ? undefined : Math.max(0, e.startedAt - known),
          poolMs: startedAt - e.startedAt,
          cost: e.cost,
          attempts: e.attempts
        })
        break
      }
      case "Cached":
        nodes.set(e.id, { id: e.id, stage: e.stage, status: "cached", cost: Cost.free, saved: e.saved, savedMs: e.savedMs })
        break
      case "Failed":
        nodes.set(e.id, { id: e.id, stage: e.stage, status: "failed", cost: Cost.free, error: e.error })
        break
      case "Skipped":
        nodes.set(e.id, { id: e.id, stage: e.stage, status: "skipped", cost: Cost.free, error: e.because })
        break
      case "OverBudget":
        nodes.set(e.id, { id: e.id, stage: e.stage, status: "over-budget", cost: Cost.free })
        break
      default:
        break
    }
  }

  const stages = (): ReadonlyArray<StageRow> => {
    const names = new Set<string>([...[...nodes.values()].map((n) => n.stage), ...requests.map((r) => r.stage)])
    return [...names].sort(byStageOrder).map((stage) => {
      const ns = [...nodes.values()].filter((n) => n.stage === stage)
      const rs = requests.filter((r) => r.stage === stage)
      const ran = ns.filter((n) => n.status === "built" && n.startedAt !== undefined && n.endedAt !== undefined)
      const cached = ns.filter((n) => n.status === "cached")
      return {
        stage,
        built: ran.length,
        cached: cached.length,
        failed: ns.filter((n) => n.status === "failed").length,
        requests: rs.length,
        // What this run paid is what its requests cost, plus paid nodes that reported no request (unknown).
        cost: Cost.sum([...rs.map((r) => r.cost), ...ran.filter((n) => n.cost.usd === undefined && !rs.some((r) => r.node === n.id)).map((n) => n.cost)]),
        saved: Cost.sum(cached.map((n) => n.saved ?? Cost.free).filter((c) => c.source !== "free")),
        savedMs: cached.reduce((a, n) => a + (n.savedMs ?? 0), 0),
        wallMs: unionMs(ran.map((n) => [n.startedAt!, n.endedAt!] as const)),
        busyMs: ran.reduce((a, n) => a + n.wallMs!, 0),
        requestWallMs: unionMs(rs.map((r) => [r.startedAt, r.endedAt] as const)),
        requestSumMs: rs.reduce((a, r) => a + r.wallMs, 0),
        longestRequestMs: rs.reduce((a, r) => Math.max(a, r.wallMs), 0)
      }
    })
  }

  return {
    onEvent,
    stages,
    nodes: (): ReadonlyArray<NodeRow> => [...nodes.values()],
    requests: (): ReadonlyArray<RequestRow> => [...requests]
  }
}

export type Collector = ReturnType<typeof collector>

/** What is left to build, per stage, from a dry run's would-build list. */
export const left = (wouldBuild: ReadonlyArray<{ readonly stage: string; readonly estimate: Cost.Cost }>): Left => {
  const stages = new Map<string, Array<Cost.Cost>>()
  for (const w of wouldBuild) stages.set(w.stage, [...(stages.get(w.stage) ?? []), w.estimate])
  return {
    nodes: wouldBuild.length,
    byStage: [...stages.entries()]
      .sort((a, b) => byStageOrder(a[0], b[0]))
      .map(([stage, costs]) => ({ stage, nodes: costs.length, estimate: Cost.sum(costs) })),
    estimate: Cost.sum(wouldBuild.map((w) => w.estimate))
  }
}

export const formatLeft = (l: Left): string =>
  `${l.nodes} target${l.nodes === 1 ? "" : "s"} left to build (${l.byStage.map((s) => `${s.stage} ${s.nodes}`).join(", ")}), estimated ${Cost.format(l.estimate)}`

export const seconds = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`)
