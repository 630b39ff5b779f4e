/**
 * A running build as the page and `GET …/builds/:run` see it, kept up to date from the build's events (the
 * same events the terminal reporter draws): done/total per stage, what is running, what was paid, and the
 * estimate of what is left (from the build's dry walk, when it made one: only builds that can cost money do).
 * O(1) per event, so a status poll costs a copy, never a walk of the graph.
 */
import * as Cost from "../engine/Cost.ts"
import type { BuildEvent } from "../engine/Events.ts"
import { idPatterns } from "../Film.ts"

export type NodeState = "running" | "built" | "cached" | "failed" | "skipped"

export interface Progress {
  readonly onEvent: (event: BuildEvent) => void
  readonly preview: (wouldBuild: ReadonlyArray<{ readonly id: string; readonly estimate: Cost.Cost }>) => void
  readonly snapshot: () => {
    readonly done: number
    readonly total: number
    readonly stages: ReadonlyArray<{ readonly stage: string; readonly done: number; readonly total: number }>
    readonly running: ReadonlyArray<string>
    readonly spent: Cost.Total
    readonly left: Cost.Total | null
    readonly built: ReadonlyArray<string>
    readonly cached: number
    readonly failed: ReadonlyArray<{ readonly id: string; readonly error: string }>
  }
  /** Each node this build touched, with its last state (the story shows "running" and "failed" from here). */
  readonly nodes: ReadonlyMap<string, { readonly state: NodeState; readonly error?: string | undefined }>
}

/** A node met before its spec is known (a target an expansion declares) is announced with stage "?": its id says it. */
const stageOf = (id: string, stage: string) => (stage !== "?" ? stage : (idPatterns.find((p) => p.pattern.test(id))?.stage ?? stage))

const stageOrder = ["transcript", "audio", "timing", "prompts", "image", "video", "mux", "final", "subtitles", "storyboard"]

export const make = (): Progress => {
  const stages = new Map<string, { total: number; done: number }>()
  const seen = new Set<string>()
  const nodes = new Map<string, { state: NodeState; error?: string | undefined }>()
  const running = new Set<string>()
  const built: Array<string> = []
  const failed: Array<{ id: string; error: string }> = []
  let cached = 0
  let spent = Cost.zero
  let plan: Map<string, Cost.Cost> | undefined
  const stage = (name: string) => {
    let s = stages.get(name)
    if (!s) stages.set(name, (s = { total: 0, done: 0 }))
    return s
  }
  const settle = (id: string, name: string, state: NodeState, error?: string) => {
    running.delete(id)
    plan?.delete(id)
    if (nodes.get(id)?.state !== "built" && nodes.get(id)?.state !== "cached") stage(stageOf(id, name)).done++
    nodes.set(id, error === undefined ? { state } : { state, error })
  }
  return {
    onEvent: (e) => {
      switch (e._tag) {
        case "Discovered":
          for (const n of e.nodes) {
            if (seen.has(n.id)) continue
            seen.add(n.id)
            stage(stageOf(n.id, n.stage)).total++
          }
          break
        case "Started":
          running.add(e.id)
          nodes.set(e.id, { state: "running" })
          break
        case "Built":
          settle(e.id, e.stage, "built")
          built.push(e.id)
          break
        case "Cached":
          settle(e.id, e.stage, "cached")
          cached++
          break
        case "Failed":
          settle(e.id, e.stage, "failed", e.error)
          failed.push({ id: e.id, error: e.error })
          break
        case "Skipped":
          settle(e.id, e.stage, "skipped", e.because)
          break
        case "OverBudget":
          settle(e.id, e.stage, "skipped", "not started: over the cost cap")
          break
        case "Request":
          spent = Cost.add(spent, e.request.cost)
          break
      }
    },
    preview: (wouldBuild) => {
      plan = new Map(wouldBuild.map((w) => [w.id, w.estimate]))
    },
    snapshot: () => {
      const list = [...stages.entries()]
        .sort((a, b) => stageOrder.indexOf(a[0]) - stageOrder.indexOf(b[0]))
        .map(([name, s]) => ({ stage: name, done: Math.min(s.done, s.total), total: s.total }))
      return {
        done: list.reduce((a, s) => a + s.done, 0),
        total: list.reduce((a, s) => a + s.total, 0),
        stages: list,
        running: [...running],
        spent,
        left: plan ? Cost.sum(plan.values()) : null,
        built: [...built],
        cached,
        failed: [...failed]
      }
    },
    nodes
  }
}
