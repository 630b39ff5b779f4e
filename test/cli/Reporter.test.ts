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
})
