/**
 * A build on a disk that fills up (the engine's side of issue 12), on toy rules that write files: the
 * build stops at the first write the store cannot take (also with keepGoing), says which path once
 * (`storeFailure`), loses nothing it recorded, and the next build, with space again, builds only the rest.
 * Housekeeping: what a build leaves behind (stale in-flight entries, dead processes' temp files) is cleared
 * by the next one, and a successful build leaves no temp file.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { spawnSync } from "node:child_process"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BuildEvents, type BuildEvent } from "../../src/engine/Events.ts"
import * as Fingerprint from "../../src/engine/Fingerprint.ts"
import type { NodeSpec, Rule } from "../../src/engine/Node.ts"
import * as Scheduler from "../../src/engine/Scheduler.ts"
import { Store } from "../../src/engine/Store.ts"
import * as Verify from "../../src/engine/Verify.ts"
import { sha256 } from "../../src/engine/Hash.ts"
import { filesUnder, fillingDisk } from "./faults.ts"

/** `part:i` writes a file of `size` bytes; `top` reads them all. */
const graph = (parts: number, size = 4000): ReadonlyArray<NodeSpec> => [
  ...Array.from({ length: parts }, (_, i): NodeSpec => ({ id: `part:${i + 1}`, kind: "file", stage: "part", version: 1, recipe: { i, size }, deps: [] })),
  { id: "top", kind: "file", stage: "top", version: 1, recipe: { size: 10 }, deps: Array.from({ length: parts }, (_, i) => ({ id: `part:${i + 1}` })) }
]

const rules = (runs: Array<string>, fail?: (id: string) => unknown): Record<string, Rule<unknown>> => ({
  file: {
    kind: "file",
    pool: () => "disk",
    paid: () => false,
    run: (ctx) =>
      Effect.suspend(() => {
        runs.push(ctx.node.id)
        const broken = fail?.(ctx.node.id)
        if (broken) return Effect.fail(broken)
        const file = path.join(ctx.scratch, "out.bin")
        fs.writeFileSync(file, Buffer.alloc(Number(ctx.node.recipe.size), ctx.node.id))
        return Effect.succeed({ data: { file, ext: "bin" } })
      })
  }
})

const build = (store: Layer.Layer<Store>, runs: Array<string>, nodes: ReadonlyArray<NodeSpec>, options: Partial<Scheduler.BuildOptions> = {}, fail?: (id: string) => unknown) => {
  const events: Array<BuildEvent> = []
  return Scheduler.build({ nodes, rules: rules(runs, fail) }, { targets: ["top"], pools: { disk: 2 }, complete: true, retryBaseMs: 1, ...options }).pipe(
    Effect.map((result) => ({ result, events })),
    Effect.provide(Layer.mergeAll(store, BuildEvents.layerFanout((e) => events.push(e))))
  )
}

const tempRoot = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-diskfull-")), ".storyshot")

/** No torn file anywhere: every JSON parses, every object hashes to its name. */
const torn = (root: string) =>
  filesUnder(root).filter((f) => {
    if (f.endsWith(".json"))
      try {
        JSON.parse(fs.readFileSync(f, "utf8"))
        return false
      } catch {
        return true
      }
    return f.includes(`${path.sep}objects${path.sep}`) && sha256(fs.readFileSync(f)) !== path.basename(f).split(".")[0]
  })

describe("a build on a disk that fills up", () => {
  for (const [label, quota] of [
    ["early (a few objects fit)", 30_000],
    ["late (most of the build fits)", 90_000]
  ] as const)
    it.live(`${label}: stops once, keeps what it recorded, and the next build finishes only the rest`, () =>
      Effect.gen(function* () {
        const root = tempRoot()
        const runs: Array<string> = []
        const disk = fillingDisk(root, quota)
        const first = yield* build(Store.layer(root), runs, graph(24), { keepGoing: true }).pipe(Effect.ensuring(Effect.sync(disk.restore)))
        const r = first.result
        // One failure of the store, saying the disk is full and where.
        expect(r.storeFailure?.reason).toBe("DiskFull")
        expect(r.storeFailure?.message).toMatch(/^the disk is full: could not (write|store) \S+ \(ENOSPC\); free some space and build again/)
        expect(r.storeFailure?.path.startsWith(root)).toBe(true)
        expect(r.failed.length).toBeGreaterThan(0)
        expect(r.failed.every((f) => f.cause instanceof Error && (f.cause as { _tag?: string })._tag === "StoreError")).toBe(true)
        // Stopped even with keepGoing: not every part ran.
        expect(r.built.length).toBeLessThan(24)
        expect(r.results.has("top")).toBe(false)
        // Nothing torn, nothing left in tmp/, and the store checks out.
        expect(torn(root)).toEqual([])
        expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([])
        expect((yield* Verify.verify(root)).problems).toEqual([])

        // Space again: only what was not recorded runs.
        const again = yield* build(Store.layer(root), (runs.length = 0, runs), graph(24))
        expect(again.result.failed).toEqual([])
        expect(again.result.storeFailure).toBeUndefined()
        expect(new Set(again.result.cached)).toEqual(new Set(r.built))
        expect(again.result.built.some((id) => r.built.includes(id))).toBe(false)
        expect(again.result.built.length + again.result.cached.length).toBe(25)
        expect((yield* Verify.verify(root)).problems).toEqual([])
      }))

  it.live("the state write failing on a full disk loses nothing: the records are the truth", () =>
    Effect.gen(function* () {
      const root = tempRoot()
      const runs: Array<string> = []
      // Room for every object and record, not for state.json (it is written last and is the largest).
      yield* build(Store.layer(root), runs, graph(4, 100))
      const before = fs.readFileSync(path.join(root, "state.json"), "utf8")
      const disk = fillingDisk(root, 0)
      const noop = yield* build(Store.layer(root), runs, graph(4, 100), { force: new Set(["top"]) }).pipe(Effect.ensuring(Effect.sync(disk.restore)))
      expect(noop.result.storeFailure?.reason).toBe("DiskFull")
      expect(fs.readFileSync(path.join(root, "state.json"), "utf8")).toBe(before)
      expect(torn(root)).toEqual([])
    }))

  it.live("a rule that fails while the volume has no space left is put down to the full disk", () =>
    Effect.gen(function* () {
      const root = tempRoot()
      const full = Layer.effect(
        Store,
        Effect.map(Effect.provide(Store, Store.layer(root)), (s) => ({ ...s, freeBytes: Effect.succeed(0) }))
      )
      const runs: Array<string> = []
      const r = yield* build(full, runs, graph(3), { keepGoing: true }, (id) => (id === "part:2" ? new Error("ffmpeg: No space left on device") : undefined))
      expect(r.result.storeFailure?.message).toMatch(/^the disk is full: part:2 could not write its files in \S+ \(0 bytes free\)/)
      expect(r.result.failed.map((f) => f.id)).toEqual(["part:2"])
    }))
})

describe("housekeeping by the next build", () => {
  it.live("an in-flight entry whose result is recorded is cleared; one still in flight is kept", () =>
    Effect.gen(function* () {
      const root = tempRoot()
      const runs: Array<string> = []
      const nodes = graph(2)
      yield* build(Store.layer(root), runs, nodes)
      const store = yield* Effect.provide(Store, Store.layer(root))
      // A kill between the record and the clear leaves an entry for part:1's fingerprint.
      const fp = Fingerprint.of(Fingerprint.data(nodes[0]!, [], () => undefined as never))
      yield* store.putInflight(fp, { requestId: "done-already" })
      yield* store.putInflight(sha256("elsewhere"), { requestId: "still-making" })
      expect((yield* Verify.verify(root)).notes.join("\n")).toMatch(/1 in-flight entry whose result is already recorded/)
      yield* build(Store.layer(root), runs, nodes)
      expect(yield* store.getInflight(fp)).toBeUndefined()
      expect(yield* store.getInflight(sha256("elsewhere"))).toEqual({ requestId: "still-making" })
    }))

  it.live("temp files of a process that is gone are removed, and a successful build leaves none", () =>
    Effect.gen(function* () {
      const root = tempRoot()
      const runs: Array<string> = []
      yield* build(Store.layer(root), runs, graph(3))
      const dead = Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout)
      fs.writeFileSync(path.join(root, "tmp", `${dead}-0a0a0a0a0a0a.tmp`), "half a record")
      fs.mkdirSync(path.join(root, "tmp", `${dead}-0123456789abcdef-00ff00ff`))
      const again = yield* build(Store.layer(root), runs, graph(4))
      expect(again.result.built.length).toBeGreaterThan(0)
      expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([])
      expect((yield* Verify.verify(root)).notes.filter((n) => n.includes("temp file"))).toEqual([])
    }))
})
