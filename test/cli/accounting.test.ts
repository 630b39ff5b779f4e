/**
 * Cost and time accounting against the fake providers (known prices): run totals, per-stage wall-clock,
 * the dry-run estimate, cache hits as savings, `why` for a changed model, and the cost cap.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Accounting from "../../src/cli/Accounting.ts"
import * as Build from "../../src/cli/build.ts"
import { capMessage } from "../../src/cli/build.ts"
import * as Runs from "../../src/cli/runs.ts"
import * as Why from "../../src/cli/why.ts"
import type { BuildEvent } from "../../src/engine/Events.ts"
import * as Workspace from "../../src/Workspace.ts"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { flags, makeWorkspace, runBuild, smallConfig } from "../e2e/harness.ts"

const cloud = smallConfig(`profile: "cloud"`)
// Short sentences: the fake narration lasts 1 s, and a guess from a few words is one shot too.
const story = ["The fox ran.", "Snow fell.", "A hunter watched."]

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes({ workMs: { tts: 40, video: 120 }, latency: { image: 60, chat: 20 } })
})
afterAll(() => fakes.close())

const readReport = (dir: string, runId: string) =>
  JSON.parse(fs.readFileSync(path.join(dir, ".storyshot", "runs", runId, "run.json"), "utf8")) as Accounting.RunReport

const explain = (dir: string, id: string, env: Record<string, string>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const ws = yield* Workspace.load({ cwd: dir, env: { PATH: process.env.PATH, ...env } })
      return yield* Why.explain(ws, id)
    }) as Effect.Effect<Why.Explanation, unknown, never>
  )

describe("cost and time against the fakes", () => {
  it("totals, stage wall-clock, dry-run estimate, cache savings and why (changed model)", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: cloud })
    fakes.reset()

    const dry = await runBuild(dir, { dryRun: true }, fakes.env)
    expect(fakes.counts().images + fakes.counts().ttsSubmits + fakes.counts().videoSubmits + fakes.counts().chats).toBe(0)
    const estimate = dry.summary.estimate!
    // Every paid stage is in the plan, shots included (guessed from the narration's word count).
    const stages = new Set(dry.summary.wouldBuild!.map((w) => w.stage))
    for (const s of ["audio", "prompts", "image", "video"]) expect(stages).toContain(s)

    const first = await runBuild(dir, {}, fakes.env)
    expect(first.summary.failed).toEqual([])
    const report = readReport(dir, first.summary.runId)
    const requestSum = report.requests.reduce((a, r) => a + (r.cost.usd ?? NaN), 0)
    expect(report.requests.length).toBe(fakes.counts().ttsSubmits + fakes.counts().videoSubmits + fakes.counts().images + fakes.counts().chats)
    expect(report.cost.known).toBe(true)
    expect(report.cost.usd).toBeCloseTo(requestSum, 9)
    expect(first.summary.cost.usd).toBeCloseTo(requestSum, 9)
    expect(report.stages.reduce((a, s) => a + s.cost.usd, 0)).toBeCloseTo(requestSum, 9)

    for (const s of report.stages.filter((s) => s.requests > 0)) {
      expect(s.wallMs).toBeGreaterThanOrEqual(s.longestRequestMs)
      expect(s.wallMs).toBeLessThanOrEqual(s.busyMs)
      expect(s.requestWallMs).toBeGreaterThanOrEqual(s.longestRequestMs)
      expect(s.requestWallMs).toBeLessThanOrEqual(s.requestSumMs)
    }
    // Three clips made at once: the stage's wall-clock is well under the sum of its requests.
    const video = report.stages.find((s) => s.stage === "video")!
    expect(video.requests).toBe(3)
    expect(video.requestWallMs).toBeLessThan(video.requestSumMs)

    const error = Math.abs(estimate.usd - report.cost.usd) / report.cost.usd
    console.log(
      `dry-run estimate ${estimate.usd.toFixed(6)} (known ${estimate.known}) vs paid ${report.cost.usd.toFixed(6)}: ${(error * 100).toFixed(2)}% off; ` +
        report.stages.map((s) => `${s.stage} $${s.cost.usd.toFixed(4)} wall ${s.wallMs} ms busy ${s.busyMs} ms longest req ${s.longestRequestMs} ms req-sum ${s.requestSumMs} ms`).join("; ")
    )
    expect(estimate.known).toBe(true)
    expect(error).toBeLessThanOrEqual(0.1)

    // Fully built: the estimate is exactly 0 and nothing would be built.
    const again = await runBuild(dir, { dryRun: true }, fakes.env)
    expect(again.summary.wouldBuild).toEqual([])
    expect(again.summary.estimate).toEqual({ usd: 0, known: true })

    // A build with nothing stale pays $0 and counts what the cache saved.
    fakes.reset()
    const cached = await runBuild(dir, {}, fakes.env)
    expect(cached.summary.built).toEqual([])
    const cachedReport = readReport(dir, cached.summary.runId)
    expect(cachedReport.cost).toEqual({ usd: 0, known: true })
    expect(cachedReport.saved.usd).toBeCloseTo(report.cost.usd, 9)
    expect(cachedReport.savedMs).toBeGreaterThan(0)

    // `runs` lists both, newest first; `report` ranks the slowest and the most expensive requests first.
    const rows = Runs.rows(Runs.readRuns(path.join(dir, ".storyshot")))
    expect(rows.map((r) => r.runId)).toEqual([cached.summary.runId, first.summary.runId])
    const run = Runs.readRuns(path.join(dir, ".storyshot")).find((r) => r.runId === first.summary.runId)!
    const { slowest, mostExpensive } = Runs.ranked(run)
    expect(mostExpensive[0]!.cost.usd).toBe(Math.max(...report.requests.map((r) => r.cost.usd ?? 0)))
    expect(slowest[0]!.wallMs).toBe(Math.max(...report.requests.map((r) => r.wallMs)))
    expect(Runs.reportText(run)).toContain("Most expensive requests")

    // A changed model: `why` names it, old → new.
    const env2 = { ...fakes.env, OPENROUTER_MODEL: "google/gemini-2.5-flash" }
    const why = await explain(dir, "sentence:1:prompts", env2)
    expect(why.status).toBe("stale")
    expect(why.changes).toContainEqual({ ingredient: "model", before: "openai/gpt-4o-mini", after: "google/gemini-2.5-flash" })
    expect(Why.toText(why)).toContain(`model: "openai/gpt-4o-mini" → "google/gemini-2.5-flash"`)
  }, 90_000)

  it("--max-cost: recorded spend never passes the cap by more than what was running when it was reached", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: cloud })
    fakes.reset()
    const cap = 0.4
    const stamped: Array<{ at: number; e: BuildEvent }> = []
    const summary = await Effect.runPromise(
      Effect.gen(function* () {
        const ws = yield* Workspace.load({ cwd: dir, env: { PATH: process.env.PATH, ...fakes.env } })
        return yield* Build.run(ws, flags({ maxCost: Option.some(cap) }), (e) => stamped.push({ at: Date.now(), e }))
      }) as Effect.Effect<Build.Summary, unknown, never>
    )
    const report = readReport(dir, summary.runId)
    expect(summary.blockedByBudget.length).toBeGreaterThan(0)
    const over = report.nodes.filter((n) => n.status === "over-budget")
    expect(over.length).toBe(summary.blockedByBudget.length)
    // The nodes running when the cap was first reached: started before the first refusal, built after it.
    const refusedAt = stamped.find((s) => s.e._tag === "OverBudget")!.at
    const startedAt = new Map<string, number>()
    for (const s of stamped) if (s.e._tag === "Started" && !startedAt.has(s.e.id)) startedAt.set(s.e.id, s.at)
    const runningThen = report.nodes.filter((n) => n.status === "built" && (startedAt.get(n.id) ?? Infinity) <= refusedAt && n.endedAt! >= refusedAt)
    const runningCost = runningThen.reduce((a, n) => a + (n.cost.usd ?? 0), 0)
    const spentBefore = report.nodes.filter((n) => n.status === "built" && n.endedAt! < refusedAt).reduce((a, n) => a + (n.cost.usd ?? 0), 0)
    console.log(
      `cap $${cap}: recorded spend $${report.cost.usd.toFixed(4)}; at the first refusal $${spentBefore.toFixed(4)} was spent and ${runningThen.length} node(s) costing $${runningCost.toFixed(4)} were running; ${over.length} refused; ${Accounting.formatLeft(summary.left!)}`
    )
    expect(report.cost.known).toBe(true)
    expect(report.cost.usd).toBeLessThanOrEqual(cap + runningCost + 1e-9)
    // Nodes running when the cap was reached finished and were recorded.
    expect(runningThen.length).toBeGreaterThan(0)
    expect(runningThen.every((n) => report.requests.some((r) => r.node === n.id))).toBe(true)
    // The message says what is left to build and its estimate.
    expect(summary.left!.nodes).toBeGreaterThanOrEqual(over.length)
    expect(summary.left!.estimate.usd).toBeGreaterThan(0)
    const message = capMessage(summary)
    expect(message).toMatch(/left to build \(.*video \d+.*\), estimated \$\d/)
    expect(message).toContain("Raise --max-cost")
  }, 90_000)
})
