/**
 * A toy graph of fake targets (no media) for engine tests: leaves hold a value from their recipe, `sum`
 * nodes add their dependencies, a `count` node decides how many `part` nodes a `fan` node expands to.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { BuildEvents, type BuildEvent } from "../../src/engine/Events.ts"
import type { Json, NodeSpec, Rule } from "../../src/engine/Node.ts"
import * as Scheduler from "../../src/engine/Scheduler.ts"
import { Store } from "../../src/engine/Store.ts"

export interface Probe {
  runs: Array<string>
  running: Map<string, number>
  peak: Map<string, number>
  failNext: Map<string, Array<unknown>>
  delayMs: number
}

export const makeProbe = (): Probe => ({ runs: [], running: new Map(), peak: new Map(), failNext: new Map(), delayMs: 0 })

const track = (probe: Probe, pool: string, id: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      probe.runs.push(id)
      const n = (probe.running.get(pool) ?? 0) + 1
      probe.running.set(pool, n)
      probe.peak.set(pool, Math.max(probe.peak.get(pool) ?? 0, n))
    }),
    () => Effect.sync(() => probe.running.set(pool, (probe.running.get(pool) ?? 1) - 1))
  )

const maybeFail = (probe: Probe, id: string) =>
  Effect.suspend(() => {
    const queue = probe.failNext.get(id)
    const next = queue?.shift()
    return next === undefined ? Effect.void : Effect.fail(next)
  })

export const rules = (probe: Probe): Record<string, Rule<unknown>> => {
  const common = (kind: string, compute: (ctx: Parameters<Rule["run"]>[0]) => Json): Rule<unknown> => ({
    kind,
    pool: (n) => String(n.recipe.pool ?? "toy"),
    paid: (n) => n.recipe.paid === true,
    estimate: (n) => (n.recipe.paid === true ? { usd: 0.1, source: "table" } : { usd: 0, source: "free" }),
    run: (ctx) =>
      Effect.scoped(
        Effect.gen(function* () {
          yield* track(probe, String(ctx.node.recipe.pool ?? "toy"), ctx.node.id)
          if (probe.delayMs > 0 || typeof ctx.node.recipe.delay === "number")
            yield* Effect.sleep(Number(ctx.node.recipe.delay ?? probe.delayMs))
          yield* maybeFail(probe, ctx.node.id)
          if (ctx.node.recipe.paid === true)
            yield* ctx.request({ provider: "toy", model: "m", startedAt: Date.now(), endedAt: Date.now(), cost: { usd: 0.1, source: "table" } })
          return { value: { value: compute(ctx) } }
        })
      )
  })
  return {
    leaf: common("leaf", (ctx) => ctx.node.recipe.value ?? null),
    sum: common("sum", (ctx) =>
      ctx.node.deps.reduce((acc, d) => acc + Number(ctx.value(d.id, "value")), 0) +
      (ctx.node.recipe.mod === undefined ? 0 : Number(ctx.node.recipe.mod))
    ),
    // Always outputs the parity of its input: a change of input often leaves the output as it was.
    parity: common("parity", (ctx) => Number(ctx.value(ctx.node.deps[0]!.id, "value")) % 2),
    fan: common("fan", (ctx) => ctx.deps.length + (ctx.node.recipe.extra === undefined ? 0 : 1))
  }
}

export const leaf = (id: string, value: Json, extra: Record<string, Json> = {}): NodeSpec => ({
  id,
  kind: "leaf",
  stage: "leaf",
  version: 1,
  recipe: { value, ...extra },
  deps: []
})

export const sum = (id: string, deps: ReadonlyArray<string>, extra: Record<string, Json> = {}): NodeSpec => ({
  id,
  kind: "sum",
  stage: "sum",
  version: 1,
  recipe: { ...extra },
  deps: deps.map((d) => ({ id: d, output: "value" }))
})

/** `fan` expands to as many `part:i` leaves as the value of `countId`. */
export const fan = (id: string, countId: string): NodeSpec => ({
  id,
  kind: "fan",
  stage: "fan",
  version: 1,
  recipe: {},
  deps: [],
  after: [countId],
  expand: (built) => {
    const n = Number(built.value(countId, "value"))
    const nodes = Array.from({ length: n }, (_, i) => leaf(`part:${i + 1}`, i + 1, { part: true }))
    return { nodes, deps: nodes.map((p) => ({ id: p.id, output: "value" })) }
  }
})

export const tempStore = () => fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-test-"))

export const runBuild = (
  root: string,
  probe: Probe,
  nodes: ReadonlyArray<NodeSpec>,
  options: Partial<Scheduler.BuildOptions> & { targets: ReadonlyArray<string> }
) => {
  const events: Array<BuildEvent> = []
  return Scheduler.build({ nodes, rules: rules(probe) }, { retryBaseMs: 1, ...options }).pipe(
    Effect.map((result) => ({ result, events })),
    Effect.provide(Layer.mergeAll(Store.layer(root), BuildEvents.layerFanout((e) => events.push(e))))
  )
}
