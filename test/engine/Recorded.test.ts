/**
 * The recorded graph taken whole (src/engine/scheduler/Recorded.ts): with the same key, declared nodes and
 * targets, a build does no per-node work, but what it reports must be what the node-by-node walk would find,
 * a missing output or record must still be noticed and rebuilt, and an edit must rebuild exactly what it
 * touched.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { BuildEvents, type BuildEvent } from "../../src/engine/Events.ts"
import type { Json, NodeSpec, Rule } from "../../src/engine/Node.ts"
import * as Scheduler from "../../src/engine/Scheduler.ts"
import { Store } from "../../src/engine/Store.ts"
import { tempStore } from "./toy.ts"

/** `text` writes its recipe's text to a file; `join` writes its inputs' files one after another. */
const rules = (runs: Array<string>): Record<string, Rule<unknown>> => ({
  text: {
    kind: "text",
    pool: () => "toy",
    paid: () => false,
    run: (ctx) =>
      Effect.suspend(() => {
        runs.push(ctx.node.id)
        if (ctx.node.recipe.text === "fail") return Effect.fail(new Error(`${ctx.node.id} failed`))
        const file = path.join(ctx.scratch, "out.txt")
        fs.writeFileSync(file, String(ctx.node.recipe.text))
        return Effect.succeed({ file: { file, ext: "txt" } })
      })
  },
  join: {
    kind: "join",
    pool: () => "toy",
    paid: () => false,
    run: (ctx) =>
      Effect.sync(() => {
        runs.push(ctx.node.id)
        const file = path.join(ctx.scratch, "out.txt")
        fs.writeFileSync(file, ctx.deps.map((d) => fs.readFileSync(ctx.file(d.id, "file"), "utf8")).join("+"))
        return { file: { file, ext: "txt" }, count: { value: ctx.deps.length } }
      })
  }
})

const text = (id: string, value: string): NodeSpec => ({ id, kind: "text", stage: "text", version: 1, recipe: { text: value }, deps: [] })
const join = (id: string, deps: ReadonlyArray<string>): NodeSpec => ({
  id,
  kind: "join",
  stage: "join",
  version: 1,
  recipe: {},
  deps: deps.map((d) => ({ id: d, output: "file" }))
})
/** `all` expands to one `part:i` per line of `lines`' text, and joins them. */
const all = (): NodeSpec => ({
  id: "all",
  kind: "join",
  stage: "join",
  version: 1,
  recipe: {},
  deps: [],
  after: ["lines"],
  expand: (built) => {
    const n = Number(built.value("lines", "count"))
    const nodes = Array.from({ length: n }, (_, i) => text(`part:${i + 1}`, `part ${i + 1}`))
    return { nodes, deps: nodes.map((p) => ({ id: p.id, output: "file" })) }
  }
})

// a ─┐
// b ─┴─ ab ─┐
// c ────────┴─ top          lines (a, b, c joined: count 3) → all → part:1..3
const film = (a = "a", b = "b") => [text("a", a), text("b", b), text("c", "c"), join("ab", ["a", "b"]), join("top", ["ab", "c"]), join("lines", ["a", "b", "c"]), all()]
const targets = ["top", "all"]

const build = (root: string, nodes: ReadonlyArray<NodeSpec>, options: Partial<Scheduler.BuildOptions> = {}) => {
  const runs: Array<string> = []
  const events: Array<BuildEvent> = []
  return Scheduler.build({ nodes, rules: rules(runs) }, { targets, complete: true, retryBaseMs: 1, ...options }).pipe(
    Effect.map((result) => ({ result, runs, events })),
    Effect.provide(Layer.mergeAll(Store.layer(root), BuildEvents.layerFanout((e) => events.push(e))))
  )
}

const sorted = (xs: Iterable<string>) => [...xs].sort()
const objectOf = (root: string, hash: string) => path.join(root, "objects", hash.slice(0, 2), `${hash}.txt`)
const recordOf = (root: string, fingerprint: string) => path.join(root, "records", fingerprint.slice(0, 2), `${fingerprint}.json`)
const summary = (r: Scheduler.BuildResult) => ({
  results: Object.fromEntries(sorted(r.results.keys()).map((id) => [id, r.results.get(id)!.hash])),
  edges: Object.fromEntries(sorted(r.results.keys()).map((id) => [id, [...r.edges(id)].sort()])),
  stages: Object.fromEntries(sorted(r.results.keys()).map((id) => [id, r.nodes.get(id)?.stage as Json]))
})

describe("the recorded graph, taken whole", () => {
  it.effect("a no-op with the same key runs nothing, walks no node, and reports what the node-by-node walk reports", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const cold = yield* build(root, film(), { recorded: "k1" })
      expect(sorted(cold.runs)).toEqual(["a", "ab", "all", "b", "c", "lines", "part:1", "part:2", "part:3", "top"])
      const walked = yield* build(tempStoreCopy(root), film())
      const taken = yield* build(root, film(), { recorded: "k1" })
      expect(taken.runs).toEqual([])
      expect(taken.result.built).toEqual([])
      // No fingerprint was computed: the recorded graph was taken as it is.
      expect(taken.result.data.size).toBe(0)
      expect(walked.result.data.size).toBe(10)
      expect(sorted(taken.result.cached)).toEqual(sorted(walked.result.cached))
      expect(summary(taken.result)).toEqual(summary(walked.result))
      // Every node is announced and reported cached, as before.
      const cachedEvents = taken.events.filter((e) => e._tag === "Cached").map((e) => (e as { id: string }).id)
      expect(sorted(cachedEvents)).toEqual(sorted(walked.result.cached))
      // A dry run with the key: nothing would be built.
      const dry = yield* build(root, film(), { recorded: "k1", dryRun: true })
      expect(dry.result.wouldBuild).toEqual([])
      expect(dry.result.data.size).toBe(0)
    }))

  it.effect("an output file deleted from the store is noticed: that node is rebuilt, and nothing that did not change", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const cold = yield* build(root, film(), { recorded: "k1" })
      fs.rmSync(objectOf(root, cold.result.results.get("ab")!.outputs.file!.hash))
      const next = yield* build(root, film(), { recorded: "k1" })
      // The same bytes again: what reads it is cut off early.
      expect(next.runs).toEqual(["ab"])
      expect(fs.existsSync(objectOf(root, cold.result.results.get("ab")!.outputs.file!.hash))).toBe(true)
      const again = yield* build(root, film(), { recorded: "k1" })
      expect(again.runs).toEqual([])
      expect(again.result.data.size).toBe(0)
    }))

  it.effect("a record deleted (as `clean` does) is noticed: its node is rebuilt", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const cold = yield* build(root, film(), { recorded: "k1" })
      fs.rmSync(recordOf(root, cold.result.results.get("part:2")!.fingerprint))
      const next = yield* build(root, film(), { recorded: "k1" })
      expect(next.runs).toEqual(["part:2"])
    }))

  it.effect("an edit rebuilds exactly what it touched; the build after it takes the new graph whole", () =>
    Effect.gen(function* () {
      const root = tempStore()
      yield* build(root, film(), { recorded: "k1" })
      const edited = yield* build(root, film("a", "B"), { recorded: "k1" })
      expect(sorted(edited.runs)).toEqual(["ab", "b", "lines", "top"])
      expect(fs.readFileSync(objectOf(root, edited.result.results.get("top")!.outputs.file!.hash), "utf8")).toBe("a+B+c")
      const after = yield* build(root, film("a", "B"), { recorded: "k1" })
      expect(after.runs).toEqual([])
      expect(after.result.data.size).toBe(0)
      expect(after.result.results.get("top")!.hash).toBe(edited.result.results.get("top")!.hash)
    }))

  it.effect("another key (other code, config or text) walks the graph node by node", () =>
    Effect.gen(function* () {
      const root = tempStore()
      yield* build(root, film(), { recorded: "k1" })
      const other = yield* build(root, film(), { recorded: "k2" })
      expect(other.runs).toEqual([])
      expect(other.result.data.size).toBe(10)
      const none = yield* build(root, film())
      expect(none.result.data.size).toBe(10)
    }))

  it.effect("other targets, --force, a partial build or a journal line since: the graph is walked, not taken", () =>
    Effect.gen(function* () {
      const root = tempStore()
      yield* build(root, film(), { recorded: "k1" })
      const fewer = yield* build(root, film(), { recorded: "k1", targets: ["top"] })
      expect(fewer.result.data.size).toBe(5)
      const forced = yield* build(root, film(), { recorded: "k1", force: new Set(["c"]) })
      expect(forced.runs).toEqual(["c"])
      // A partial build (not every target) writes no key: the next complete build walks, then writes it again.
      yield* build(root, film(), { recorded: "k1", targets: ["ab"], complete: false })
      const walked = yield* build(root, film(), { recorded: "k1" })
      expect(walked.result.data.size).toBe(10)
      const taken = yield* build(root, film(), { recorded: "k1" })
      expect(taken.result.data.size).toBe(0)
      // A node another build added to the journal: the state is no longer what the key describes.
      fs.appendFileSync(path.join(root, "journal.jsonl"), JSON.stringify({ ...taken.result.state.nodes["c"] }) + "\n")
      const afterJournal = yield* build(root, film(), { recorded: "k1" })
      expect(afterJournal.result.data.size).toBe(10)
    }))

  it.effect("a failed build records no key: the next one walks the graph and rebuilds what failed", () =>
    Effect.gen(function* () {
      const root = tempStore()
      const broken = [...film().filter((n) => n.id !== "c"), text("c", "fail")]
      const failed = yield* build(root, broken, { recorded: "k1", keepGoing: true })
      expect(failed.result.failed.map((f) => f.id)).toEqual(["c"])
      expect(failed.result.state.recorded).toBeUndefined()
      const next = yield* build(root, film(), { recorded: "k1" })
      expect(next.runs).toContain("c")
      expect(next.result.data.size).toBe(10)
    }))
})

/** A copy of a store folder, so two builds can be compared from the same start. */
const tempStoreCopy = (root: string) => {
  const copy = tempStore()
  fs.cpSync(root, copy, { recursive: true })
  return copy
}
