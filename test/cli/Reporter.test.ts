/** The progress display: spend so far and the estimate of what is left, counted down as nodes finish. */
import { describe, expect, it } from "vitest"
import * as Cost from "../../src/engine/Cost.ts"
import * as Reporter from "../../src/cli/Reporter.ts"

describe("Reporter", () => {
  it("shows the running cost and the estimate left; plain mode prints the plan", () => {
    const out: Array<string> = []
    const r = Reporter.make("plain", { write: (s) => out.push(s) })
    r.preview([
      { id: "shot:1:video", stage: "video", estimate: Cost.fromTable(0.225) },
      { id: "shot:2:video", stage: "video", estimate: Cost.fromTable(0.225) },
      { id: "sentence:1:mux", stage: "mux", estimate: Cost.free }
    ])
    expect(out.join("")).toContain("plan    3 to build (2 paid), estimated $0.45")
    expect(r.left()).toEqual({ usd: 0.45, known: true })
    const now = Date.now()
    r.onEvent({ _tag: "Started", id: "shot:1:video", stage: "video", attempt: 1, pool: "fal" })
    const request = { provider: "fal", model: "kling", startedAt: now, endedAt: now + 10, cost: Cost.fromTable(0.225) }
    r.onEvent({ _tag: "Request", id: "shot:1:video", request })
    r.onEvent({ _tag: "Built", id: "shot:1:video", stage: "video", cost: Cost.fromTable(0.225), startedAt: now, endedAt: now + 10, attempts: 1 })
    expect(r.left()!.usd).toBeCloseTo(0.225, 9)
    r.onEvent({ _tag: "OverBudget", id: "shot:2:video", stage: "video", estimate: Cost.fromTable(0.225), spentUsd: 0.225, runningUsd: 0 })
    expect(r.left()!.usd).toBe(0)
    expect(out.join("")).toContain("shot:2:video not started")
    r.close()
  })

  it("the live display's status line carries spend and what is left", () => {
    const out: Array<string> = []
    const r = Reporter.make("tty", { write: (s) => out.push(s) })
    r.preview([{ id: "shot:1:image", stage: "image", estimate: Cost.fromTable(0.05) }])
    const now = Date.now()
    r.onEvent({ _tag: "Request", id: "shot:0:image", request: { provider: "openai", model: "m", startedAt: now, endedAt: now, cost: Cost.fromTable(0.04) } })
    r.close()
    expect(out.join("")).toMatch(/spent \$0\.04 · left ≈ \$0\.05/)
  })

  it("shows the pipeline: which sentences are finished, and when the first one was", () => {
    const out: Array<string> = []
    let clock = 1_000
    const r = Reporter.make("tty", { write: (s) => out.push(s), now: () => clock })
    const mux = (n: number) => `sentence:${n}:mux`
    r.onEvent({ _tag: "Discovered", nodes: [1, 2, 3, 4, 5].map((n) => ({ id: mux(n), stage: "mux" })) })
    // Sentence 2 was already stored: finished, but not this build's first result.
    r.onEvent({ _tag: "Cached", id: mux(2), stage: "mux", saved: Cost.free, savedMs: 0 })
    expect(r.pipeline()).toEqual({ total: 5, finished: [2], firstMs: undefined })
    clock = 9_300
    r.onEvent({ _tag: "Built", id: mux(1), stage: "mux", cost: Cost.free, startedAt: clock - 500, endedAt: clock, attempts: 1 })
    clock = 12_000
    r.onEvent({ _tag: "Built", id: mux(4), stage: "mux", cost: Cost.free, startedAt: clock - 500, endedAt: clock, attempts: 1 })
    expect(r.pipeline()).toEqual({ total: 5, finished: [1, 2, 4], firstMs: 8_300 })
    expect(out.join("")).toContain("sentences 3/5 finished: 1–2, 4 · first after 8.3s")
    r.close()
    // Plain mode says once when the first sentence is finished, and where to watch it.
    const plain: Array<string> = []
    clock = 0
    const p = Reporter.make("plain", { write: (s) => plain.push(s), now: () => clock })
    p.onEvent({ _tag: "Discovered", nodes: [{ id: mux(1), stage: "mux" }, { id: mux(2), stage: "mux" }] })
    clock = 4_200
    p.onEvent({ _tag: "Built", id: mux(1), stage: "mux", cost: Cost.free, startedAt: 0, endedAt: clock, attempts: 1 })
    p.onEvent({ _tag: "Built", id: mux(2), stage: "mux", cost: Cost.free, startedAt: 0, endedAt: clock, attempts: 1 })
    expect(plain.filter((l) => l.startsWith("first"))).toEqual(["first   sentence 1 finished after 4.2s (out/sentences/001.mp4)\n"])
    p.close()
  })

  it("ranges: sorted numbers as runs", () => {
    expect(Reporter.ranges([3, 1, 2, 7, 9, 10])).toBe("1–3, 7, 9–10")
    expect(Reporter.ranges([1, 3, 5, 7, 9, 11, 13], 3)).toBe("1, 3, 5, …")
  })
})
