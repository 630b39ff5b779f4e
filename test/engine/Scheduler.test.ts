import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Fiber, Layer, Schema, TestClock } from "effect"
import type { NodeSpec, Rule } from "../../src/engine/Node.ts"
import { BuildEvents } from "../../src/engine/Events.ts"
import { Store } from "../../src/engine/Store.ts"
import * as Scheduler from "../../src/engine/Scheduler.ts"
import { fan, leaf, makeProbe, runBuild, sum, tempStore } from "./toy.ts"

/** A provider-like failure that carries the engine's legacy retry hint (src/engine/Transient.ts). */
class ProviderError extends Schema.TaggedError<ProviderError>()("ProviderError", {
  provider: Schema.String,
  message: Schema.String,
  transient: Schema.Boolean,
  retryAfterMs: Schema.optional(Schema.Number)
}) {}

// a ─┐
//    ├─ ab ─┐
// b ─┘      ├─ top
// c ────────┘
const diamond = (a = 1, b = 2, c = 3, mod?: number) => [
  leaf("a", a),
  leaf("b", b),
  leaf("c", c),
  sum("ab", ["a", "b"], mod === undefined ? {} : { mod }),
  sum("top", ["ab", "c"])
]

const sorted = (xs: ReadonlyArray<string>) => [...xs].sort()

describe("Scheduler on a toy graph", () => {
  it.effect("a second build runs 0 nodes and finds every result cached", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const probe = makeProbe()
      const first = yield* runBuild(root, probe, diamond(), { targets: ["top"] })
      expect(sorted(first.result.built)).toEqual(["a", "ab", "b", "c", "top"])
      expect(first.result.results.get("top")!.outputs.value!.value).toBe(6)
      probe.runs.length = 0
      const second = yield* runBuild(root, probe, diamond(), { targets: ["top"] })
      expect(second.result.built).toEqual([])
      expect(probe.runs).toEqual([])
      expect(sorted(second.result.cached)).toEqual(["a", "ab", "b", "c", "top"])
    }))

  it.effect("changing one leaf rebuilds exactly its downstream path", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const probe = makeProbe()
      yield* runBuild(root, probe, diamond(), { targets: ["top"] })
      const again = yield* runBuild(root, probe, diamond(1, 5), { targets: ["top"] })
      expect(sorted(again.result.built)).toEqual(["ab", "b", "top"])
      expect(again.result.results.get("top")!.outputs.value!.value).toBe(9)
    }))

  it.effect("early cutoff: a rebuilt node with the same output does not rebuild its dependents", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const probe = makeProbe()
      const graph = (n: number) => [
        leaf("n", n),
        { ...sum("p", ["n"]), kind: "parity" },
        sum("down", ["p"])
      ]
      yield* runBuild(root, probe, graph(3), { targets: ["down"] })
      const again = yield* runBuild(root, probe, graph(5), { targets: ["down"] })
      // n changed and parity re-ran, but 5 is odd like 3: "down" keeps its fingerprint.
      expect(sorted(again.result.built)).toEqual(["n", "p"])
      expect(again.result.cached).toContain("down")
    }))

  it.effect("changing a recipe field and changing it back reruns nothing the second time", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const probe = makeProbe()
      yield* runBuild(root, probe, diamond(), { targets: ["top"] })
      const changed = yield* runBuild(root, probe, diamond(1, 2, 3, 10), { targets: ["top"] })
      expect(sorted(changed.result.built)).toEqual(["ab", "top"])
      const back = yield* runBuild(root, probe, diamond(), { targets: ["top"] })
      expect(back.result.built).toEqual([])
    }))

  it.effect("dynamic expansion: the number of parts is known only after `count` is built", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const probe = makeProbe()
      const graph = (n: number) => [leaf("count", n), fan("fan", "count")]
      const first = yield* runBuild(root, probe, graph(3), { targets: ["fan"] })
      expect(sorted(first.result.built)).toEqual(["count", "fan", "part:1", "part:2", "part:3"])
      expect(first.result.results.get("fan")!.outputs.value!.value).toBe(3)
      expect(first.result.state.expansions["fan"]!.map((n) => n.id)).toEqual(["part:1", "part:2", "part:3"])
      const more = yield* runBuild(root, probe, graph(4), { targets: ["fan"] })
      expect(sorted(more.result.built)).toEqual(["count", "fan", "part:4"])
    }))

  it.effect("a target builds what it needs and nothing downstream", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const probe = makeProbe()
      const r = yield* runBuild(root, probe, diamond(), { targets: ["ab"] })
      expect(sorted(r.result.built)).toEqual(["a", "ab", "b"])
      expect(probe.runs).not.toContain("top")
      expect(probe.runs).not.toContain("c")
    }))

  it.effect("--force rebuilds the named node even when fresh, and keeps the old take", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const probe = makeProbe()
      yield* runBuild(root, probe, diamond(), { targets: ["top"] })
      const forced = yield* runBuild(root, probe, diamond(), { targets: ["top"], force: new Set(["ab"]) })
      expect(forced.result.built).toEqual(["ab"])
      // Same output, so early cutoff keeps "top".
      expect(forced.result.cached).toContain("top")
      const recordFile = fs
        .readdirSync(path.join(root, "records"), { recursive: true })
        .map(String)
        .filter((f) => f.endsWith(".json"))
        .map((f) => JSON.parse(fs.readFileSync(path.join(root, "records", f), "utf8")))
        .find((r) => r.id === "ab")
      expect(recordFile.takes).toHaveLength(1)
    }))

  it.live("fail-fast stops after a permanent failure; --keep-going finishes the independent branches", () =>
    Effect.gen(function* () {
      const graph = [leaf("bad", 1), sum("afterBad", ["bad"]), leaf("ok1", 1, { delay: 30 }), sum("afterOk", ["ok1"])]
      const permanent = new ProviderError({ provider: "toy", message: "422 nope", transient: false })

      const probe1 = makeProbe()
      probe1.failNext.set("bad", [permanent])
      const fast = yield* runBuild(tempStore(), probe1, graph, { targets: ["afterBad", "afterOk"] })
      expect(fast.result.failed.map(({ id, error }) => ({ id, error }))).toEqual([{ id: "bad", error: "422 nope" }])
      // The typed error itself reaches the summary, not only its message.
      const cause = fast.result.failed[0]!.cause
      expect(cause instanceof ProviderError && cause.provider === "toy" && cause.transient === false).toBe(true)
      expect(fast.result.built).not.toContain("afterOk")

      const probe2 = makeProbe()
      probe2.failNext.set("bad", [permanent])
      const going = yield* runBuild(tempStore(), probe2, graph, { targets: ["afterBad", "afterOk"], keepGoing: true })
      expect(going.result.failed.map((f) => f.id)).toEqual(["bad"])
      expect(going.result.skipped).toEqual([{ id: "afterBad", because: "bad" }])
      expect(sorted(going.result.built)).toEqual(["afterOk", "ok1"])
    }))

  it.live("a transient error is retried once by default; a permanent one is not retried", () =>
    Effect.gen(function* () {
      const probe = makeProbe()
      probe.failNext.set("t", [new ProviderError({ provider: "toy", message: "429 slow down", transient: true, retryAfterMs: 5 })])
      probe.failNext.set("p", [new ProviderError({ provider: "toy", message: "400 bad", transient: false })])
      const r = yield* runBuild(tempStore(), probe, [leaf("t", 1), leaf("p", 2)], { targets: ["t", "p"], keepGoing: true })
      expect(r.result.built).toEqual(["t"])
      expect(probe.runs.filter((x) => x === "t")).toHaveLength(2)
      expect(probe.runs.filter((x) => x === "p")).toHaveLength(1)
      expect(r.result.failed.map(({ id, error }) => ({ id, error }))).toEqual([{ id: "p", error: "400 bad" }])
      const retry = r.events.find((e) => e._tag === "Retrying")
      expect(retry && retry._tag === "Retrying" && retry.delayMs).toBeGreaterThanOrEqual(5)

      // Two transient failures exhaust the single retry.
      const probe2 = makeProbe()
      const busy = new ProviderError({ provider: "toy", message: "503", transient: true })
      probe2.failNext.set("t", [busy, busy])
      const r2 = yield* runBuild(tempStore(), probe2, [leaf("t", 1)], { targets: ["t"] })
      expect(r2.result.failed.map((f) => f.id)).toEqual(["t"])
      expect(probe2.runs).toHaveLength(2)
    }))

  it.effect("the retry waits as long as Retry-After asks (TestClock)", () =>
    Effect.gen(function* () {
      const probe = makeProbe()
      probe.failNext.set("t", [new ProviderError({ provider: "toy", message: "429", transient: true, retryAfterMs: 60_000 })])
      const fiber = yield* Effect.fork(runBuild(tempStore(), probe, [leaf("t", 1)], { targets: ["t"] }))
      yield* TestClock.adjust("59 seconds")
      expect(probe.runs).toEqual(["t"])
      yield* TestClock.adjust("2 seconds")
      const r = yield* Fiber.join(fiber)
      expect(r.result.built).toEqual(["t"])
      expect(probe.runs).toEqual(["t", "t"])
    }))

  it.live("a pool's limit is never exceeded", () =>
    Effect.gen(function* () {
      const probe = makeProbe()
      probe.delayMs = 10
      const nodes = Array.from({ length: 12 }, (_, i) => leaf(`l${i}`, i, { pool: i % 2 ? "fal" : "openai" }))
      yield* runBuild(tempStore(), probe, [...nodes, sum("all", nodes.map((n) => n.id))], {
        targets: ["all"],
        pools: { fal: 2, openai: 3 }
      })
      expect(probe.peak.get("fal")).toBe(2)
      expect(probe.peak.get("openai")).toBe(3)
    }))

  it.live("an interrupted build leaves the store consistent, and the next build finishes the rest", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const probe = makeProbe()
      const nodes = [leaf("fast", 1), leaf("slow", 2, { delay: 5_000 }), sum("top", ["fast", "slow"])]
      const fiber = yield* Effect.fork(runBuild(root, probe, nodes, { targets: ["top"] }))
      yield* Effect.sleep(300)
      yield* Fiber.interrupt(fiber)
      // No temp files or half-written records are left behind.
      const tmp = path.join(root, "tmp")
      expect(fs.existsSync(tmp) ? fs.readdirSync(tmp) : []).toEqual([])
      const probe2 = makeProbe()
      const next = yield* runBuild(root, probe2, [leaf("fast", 1), leaf("slow", 2), sum("top", ["fast", "slow"])], { targets: ["top"] })
      expect(next.result.cached).toEqual(["fast"])
      expect(sorted(next.result.built)).toEqual(["slow", "top"])
    }))

  // 30 nodes on one slot: 10 are let in at the pool's door (State.admissionFor), 20 wait in its line without a fiber.
  const lineUp = (delay: number) => {
    const nodes = Array.from({ length: 30 }, (_, i) => leaf(`l${i}`, i, { pool: "one", delay }))
    return [...nodes, sum("all", nodes.map((n) => n.id))]
  }

  it.live("fail-fast: nodes still waiting at a pool's door never start, then or later", () =>
    Effect.gen(function* () {
      const probe = makeProbe()
      probe.failNext.set("l0", [new ProviderError({ provider: "toy", message: "422 nope", transient: false })])
      const r = yield* runBuild(tempStore(), probe, lineUp(20), { targets: ["all"], pools: { one: 1 } })
      expect(r.result.failed.map((f) => f.id)).toEqual(["l0"])
      yield* Effect.sleep(200)
      // l0 failed; at most the node already handed its slot had begun.
      expect(probe.runs.length).toBeLessThanOrEqual(2)
      expect(probe.runs[0]).toBe("l0")
    }))

  it.live("interrupted with nodes waiting at a pool's door: none of them starts afterwards, and the next build does all of them", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const probe = makeProbe()
      const fiber = yield* Effect.fork(runBuild(root, probe, lineUp(150), { targets: ["all"], pools: { one: 1 } }))
      yield* Effect.sleep(100)
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep(400)
      expect(probe.runs).toEqual(["l0"])
      const probe2 = makeProbe()
      const next = yield* runBuild(root, probe2, lineUp(0), { targets: ["all"], pools: { one: 1 } })
      expect(next.result.built).toHaveLength(31)
      expect(next.result.results.get("all")!.outputs.value!.value).toBe(435)
      expect(probe2.peak.get("one")).toBe(1)
    }))

  // A film's shape: sentence n's mux expands to its parts once the part counts of sentences 1..n are known
  // (part numbers run across the film), its plan once its own count is; a second target asks for the plans.
  const film = (sentences: number, edited: number) => {
    const nodes: Array<NodeSpec> = []
    for (let n = 1; n <= sentences; n++) {
      nodes.push(leaf(`a:${n}`, n === edited ? 3 : 1, { n }))
      nodes.push({ ...sum(`count:${n}`, [], { n }), kind: "parity", deps: [{ id: `a:${n}`, output: "value" }] })
      nodes.push({
        ...sum(`plan:${n}`, [], { n, role: "plan" }),
        after: [`count:${n}`],
        expand: () => ({ nodes: [sum(`p:${n}`, [`a:${n}`], { n })], deps: [{ id: `p:${n}`, output: "value" }] })
      })
      nodes.push({
        ...sum(`mux:${n}`, [], { n, role: "mux" }),
        after: Array.from({ length: n }, (_, i) => `count:${i + 1}`),
        expand: (built) => {
          let first = 1
          for (let i = 1; i < n; i++) first += Number(built.value(`count:${i}`, "value")) + 1
          const parts = [first, first + 1].map((k) => sum(`part:${k}`, [`plan:${n}`], { k }))
          return { nodes: parts, deps: parts.map((x) => ({ id: x.id, output: "value" })) }
        }
      })
    }
    nodes.push(sum("final", Array.from({ length: sentences }, (_, i) => `mux:${i + 1}`)))
    nodes.push(sum("board", Array.from({ length: sentences }, (_, i) => `plan:${i + 1}`)))
    return nodes
  }

  it.effect("after an edit, the edited sentence's work starts before the later sentences' expansions find their parts fresh", () =>
    Effect.gen(function* () {
      const root = tempStore()
      yield* runBuild(root, makeProbe(), film(30, 0), { targets: ["final", "board"] })
      const probe = makeProbe()
      const edit = yield* runBuild(root, probe, film(30, 2), { targets: ["final", "board"] })
      expect(sorted(probe.runs)).toEqual(sorted(["a:2", "count:2", "p:2", "plan:2"]))
      // Every later sentence's parts were looked at again (their numbers follow sentence 2's), and found fresh.
      const cached = (id: string) => edit.events.findIndex((e) => e._tag === "Cached" && e.id === id)
      expect(cached("part:60")).toBeGreaterThan(-1)
      const started = edit.events.findIndex((e) => e._tag === "Started" && e.id === "p:2")
      expect(started).toBeGreaterThan(-1)
      expect(started).toBeLessThan(cached("part:60"))
      expect(started).toBeLessThan(cached("part:12"))
    }))

  it.effect("a rule that names one scratch file for two outputs gets both stored (the file is copied, not moved away under the second)", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const rule: Rule<unknown> = {
        kind: "twice",
        pool: () => "toy",
        paid: () => false,
        run: (ctx) =>
          Effect.sync(() => {
            const file = path.join(ctx.scratch, "both.bin")
            fs.writeFileSync(file, "one file, two outputs")
            return { a: { file, ext: "bin" }, b: { file, ext: "bin" } }
          })
      }
      const node: NodeSpec = { id: "two", kind: "twice", stage: "toy", version: 1, recipe: {}, deps: [] }
      const r = yield* Scheduler.build({ nodes: [node], rules: { twice: rule } }, { targets: ["two"], retryBaseMs: 1 }).pipe(
        Effect.provide(Layer.mergeAll(Store.layer(root), BuildEvents.layerFanout(() => {})))
      )
      expect(r.failed).toEqual([])
      const outputs = r.results.get("two")!.outputs
      expect(outputs.a!.hash).toBe(outputs.b!.hash)
      const store = yield* Effect.provide(Store, Store.layer(root))
      expect(fs.readFileSync(store.objectPath(outputs.a!.hash, "bin"), "utf8")).toBe("one file, two outputs")
    }))

  it.effect("a dependency cycle is reported with the ids around it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        runBuild(tempStore(), makeProbe(), [sum("x", ["y"]), sum("y", ["z"]), sum("z", ["x"])], { targets: ["x"] })
      )
      expect(error._tag).toBe("CycleError")
      expect(error.message).toMatch(/x → y → z → x/)
    }))

  it.effect("a cycle that an expansion closes is reported, through a node it created or an old one", () =>
    Effect.gen(function* () {
      // `loop` expands (after `n`) into a dependency on `user`, which depends on `loop`: the cycle exists only
      // once the expansion is made.
      const loop = (extra: Partial<NodeSpec>): NodeSpec => ({
        ...fan("loop", "n"),
        expand: () => ({ nodes: [], deps: [{ id: "user", output: "value" }] }),
        ...extra
      })
      const nodes = [leaf("n", 2), loop({}), sum("user", ["loop"])]
      const r = yield* runBuild(tempStore(), makeProbe(), nodes, { targets: ["loop"] })
      expect(r.result.failed.map((f) => f.id)).toEqual(["loop"])
      expect(r.result.failed[0]!.error).toMatch(/dependency cycle: .*loop.*user|dependency cycle: .*user.*loop/)
      // Through a node the expansion itself adds: `made` depends on `loop`, and `loop` on `made`.
      const through = [leaf("n", 2), loop({ expand: () => ({ nodes: [sum("made", ["loop"])], deps: [{ id: "made", output: "value" }] }) })]
      const r2 = yield* runBuild(tempStore(), makeProbe(), through, { targets: ["loop"] })
      expect(r2.result.failed[0]!.error).toMatch(/dependency cycle/)
    }))

  it.effect("a dry run reports what would run with its estimate and runs nothing", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const probe = makeProbe()
      const graph = [leaf("free", 1), leaf("paid", 2, { paid: true }), sum("top", ["free", "paid"])]
      const dry = yield* runBuild(root, probe, graph, { targets: ["top"], dryRun: true })
      expect(probe.runs).toEqual([])
      // "top" would build too: its inputs would be rebuilt.
      expect(sorted(dry.result.wouldBuild.map((w) => w.id))).toEqual(["free", "paid", "top"])
      expect(dry.result.wouldBuild.find((w) => w.id === "paid")!.estimate.usd).toBe(0.1)
      yield* runBuild(root, probe, graph, { targets: ["top"] })
      const after = yield* runBuild(root, makeProbe(), graph, { targets: ["top"], dryRun: true })
      expect(after.result.wouldBuild).toEqual([])
    }))

  it.effect("--max-cost: no new paid node starts once the cap would be passed", () =>
    Effect.gen(function* () {
      const probe = makeProbe()
      const nodes = Array.from({ length: 5 }, (_, i) => leaf(`p${i}`, i, { paid: true, pool: "one" }))
      const r = yield* runBuild(tempStore(), probe, nodes, {
        targets: nodes.map((n) => n.id),
        pools: { one: 1 },
        maxCostUsd: 0.25,
        keepGoing: true
      })
      expect(r.result.built).toHaveLength(2)
      expect(r.result.cost.usd).toBeCloseTo(0.2)
      expect(r.result.blockedByBudget).toHaveLength(3)
    }))
})

describe("findCycle", () => {
  it("handles long chains without overflowing the stack", () => {
    const n = 50_000
    const deps = (id: string) => (Number(id) > 0 ? [String(Number(id) - 1)] : [])
    expect(Scheduler.findCycle([String(n)], deps)).toBeUndefined()
  })
})
