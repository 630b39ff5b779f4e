/**
 * The Store contract: one suite every backend runs (the disk store, the memory store, and later a remote
 * cache), the way @effect/platform's KeyValueStore tests run against each of its layers. It covers the whole
 * service: objects by hash, records, in-flight entries, the recorded graph (state and journal), takes,
 * garbage collection, housekeeping, a damaged record set aside, scratch folders and small JSON files.
 *
 * A backend gives a fresh empty store, and two ways to damage it the way a crash or a person would (a record
 * that does not parse, a journal whose last line was cut).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, type Layer } from "effect"
import { sha256 } from "../../src/engine/Hash.ts"
import { Store, type NodeRecord, type StateNode } from "../../src/engine/Store.ts"

export interface Backend {
  readonly name: string
  readonly make: () => {
    readonly layer: Layer.Layer<Store>
    /** Replaces the record of `fingerprint` with text that does not parse. */
    readonly damageRecord: (fingerprint: string) => void
    /** Appends half a line to the journal, as a crash mid-append leaves it. */
    readonly tearJournal: (fragment: string) => void
  }
}

const fp = (n: number) => sha256(`fingerprint ${n}`)

const record = (n: number, outputs: NodeRecord["outputs"], extra: Partial<NodeRecord> = {}): NodeRecord => ({
  fingerprint: fp(n),
  id: `node:${n}`,
  kind: "toy",
  stage: "toy",
  data: { kind: "toy", version: 1, recipe: { n }, deps: [] },
  outputs,
  hash: sha256(JSON.stringify(outputs)),
  cost: { usd: 0.5, source: "table" },
  requests: [{ provider: "toy", model: "m", startedAt: 1, endedAt: 2, cost: { usd: 0.5, source: "table" }, requestId: `r${n}` }],
  startedAt: 1000,
  endedAt: 1500,
  attempts: 1,
  ...extra
})

const stateNode = (id: string, n: number): StateNode => ({ id, kind: "toy", stage: "toy", fingerprint: fp(n), deps: [], hash: `h${n}` })

const bytes = (text: string) => new TextEncoder().encode(text)

export const storeContract = (backend: Backend) =>
  describe(`Store contract: ${backend.name}`, () => {
    const run = <A, E>(body: (damage: ReturnType<Backend["make"]>) => Effect.Effect<A, E, Store>) => {
      const made = backend.make()
      return body(made).pipe(Effect.provide(made.layer))
    }

    it.effect("objects are stored by the hash of their bytes, once, and read back from their path", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          const a = yield* store.putBytes(bytes("a picture"), "png")
          expect(a).toEqual({ hash: sha256(bytes("a picture")), size: 9 })
          expect(yield* store.putBytes(bytes("a picture"), "png")).toEqual(a)
          expect(yield* store.hasObject(a.hash, "png")).toBe(true)
          expect(yield* store.hasObject(a.hash, "mp4")).toBe(false)
          expect(yield* store.hasObject(sha256("never stored"), "png")).toBe(false)
          expect(fs.readFileSync(store.objectPath(a.hash, "png"), "utf8")).toBe("a picture")
          expect(path.basename(store.objectPath(a.hash, "png"))).toBe(`${a.hash}.png`)
        })
      ))

    it.effect("a file is copied in (the original stays) and hashes like its bytes", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-contract-"))
          const file = path.join(dir, "clip.mp4")
          fs.writeFileSync(file, "not really a clip")
          const stored = yield* store.putFile(file, "mp4")
          expect(stored).toEqual({ hash: sha256(bytes("not really a clip")), size: 17 })
          expect(fs.existsSync(file)).toBe(true)
          expect(fs.readFileSync(store.objectPath(stored.hash, "mp4"), "utf8")).toBe("not really a clip")
          const missing = yield* Effect.flip(store.putFile(path.join(dir, "absent.mp4"), "mp4"))
          expect(missing._tag).toBe("StoreError")
          fs.rmSync(dir, { recursive: true, force: true })
        })
      ))

    it.effect("a file given up (a rule's scratch output) is stored with its bytes, and stored once", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-contract-"))
          const file = path.join(dir, "clip.mp4")
          fs.writeFileSync(file, "a clip given up")
          const stored = yield* store.putFile(file, "mp4", "move")
          expect(stored).toEqual({ hash: sha256(bytes("a clip given up")), size: 15 })
          expect(fs.readFileSync(store.objectPath(stored.hash, "mp4"), "utf8")).toBe("a clip given up")
          // The same bytes again (a retry, another node): the object is not written twice.
          fs.writeFileSync(file, "a clip given up")
          expect(yield* store.putFile(file, "mp4", "move")).toEqual(stored)
          expect(fs.readFileSync(store.objectPath(stored.hash, "mp4"), "utf8")).toBe("a clip given up")
          fs.rmSync(dir, { recursive: true, force: true })
        })
      ))

    it.effect("a record is found by its fingerprint, with its outputs, cost and request ids", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          const img = yield* store.putBytes(bytes("image"), "png")
          const r = record(1, { image: { hash: img.hash, ext: "png", size: img.size }, note: { hash: "v", value: "a value" } })
          expect(Option.isNone(yield* store.getRecord(r.fingerprint))).toBe(true)
          expect(store.hasRecordWith(r.fingerprint, r.outputs)).toBe(false)
          yield* store.putRecord(r)
          expect(Option.getOrUndefined(yield* store.getRecord(r.fingerprint))).toEqual(r)
          expect(store.hasRecordWith(r.fingerprint, r.outputs)).toBe(true)
          expect((yield* store.records).map((x) => x.fingerprint)).toEqual([r.fingerprint])
          // Written again (a new take): the newer one wins.
          yield* store.putRecord({ ...r, attempts: 2 })
          expect(Option.getOrThrow(yield* store.getRecord(r.fingerprint)).attempts).toBe(2)
          yield* store.deleteRecord(r.fingerprint)
          expect(Option.isNone(yield* store.getRecord(r.fingerprint))).toBe(true)
          expect(yield* store.records).toEqual([])
          expect(yield* store.warnings).toEqual([])
        })
      ))

    it.effect("a record whose object is missing is not a result: its node is rebuilt, with a warning", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          const r = record(2, { image: { hash: sha256("never stored"), ext: "png", size: 3 } })
          yield* store.putRecord(r)
          expect(Option.isNone(yield* store.getRecord(r.fingerprint))).toBe(true)
          expect(store.hasRecordWith(r.fingerprint, r.outputs)).toBe(false)
          const warnings = yield* store.warnings
          expect(warnings).toHaveLength(1)
          expect(warnings[0]!.message).toMatch(/missing object for "image"/)
          // Warnings are handed out once.
          expect(yield* store.warnings).toEqual([])
        })
      ))

    it.effect("a damaged record is set aside with a warning, and its fingerprint can be recorded again", (): Effect.Effect<void, unknown> =>
      run((damage) =>
        Effect.gen(function* () {
          const store = yield* Store
          const good = record(3, { v: { hash: "x", value: 1 } })
          const bad = record(4, { v: { hash: "y", value: 2 } })
          yield* store.putRecord(good)
          yield* store.putRecord(bad)
          damage.damageRecord(bad.fingerprint)
          expect(Option.isNone(yield* store.getRecord(bad.fingerprint))).toBe(true)
          expect((yield* store.warnings).map((w) => w.message).join("\n")).toMatch(/damaged record .* set aside/)
          expect((yield* store.records).map((r) => r.fingerprint)).toEqual([good.fingerprint])
          // Set aside, not read again: no second warning.
          expect(Option.isNone(yield* store.getRecord(bad.fingerprint))).toBe(true)
          expect(yield* store.warnings).toEqual([])
          yield* store.putRecord(bad)
          expect(Option.getOrUndefined(yield* store.getRecord(bad.fingerprint))).toEqual(bad)
        })
      ))

    it.effect("in-flight entries are kept, listed and cleared by fingerprint", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          expect(yield* store.getInflight(fp(5))).toBeUndefined()
          const handle = { requestId: "req-5", statusUrl: "http://127.0.0.1/status", answer: { hash: sha256("x"), ext: "json" } }
          yield* store.putInflight(fp(5), handle)
          yield* store.putInflight(fp(6), { requestId: "req-6" })
          expect(yield* store.getInflight(fp(5))).toEqual(handle)
          expect([...(yield* store.inflights)].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint))).toEqual(
            [
              { fingerprint: fp(5), handle },
              { fingerprint: fp(6), handle: { requestId: "req-6" } }
            ].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint))
          )
          yield* store.deleteInflight(fp(5))
          yield* store.deleteInflight(fp(5)) // twice is fine
          expect(yield* store.getInflight(fp(5))).toBeUndefined()
          expect((yield* store.inflights).map((f) => f.fingerprint)).toEqual([fp(6)])
        })
      ))

    it.effect("the recorded graph: the state as written, plus the journal's nodes until the next state", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          expect(yield* store.readState).toEqual({ nodes: {}, expansions: {}, updatedAt: 0 })
          const state = { nodes: { a: stateNode("a", 1) }, expansions: { fan: [{ id: "part:1", kind: "leaf", stage: "leaf" }] }, updatedAt: 42 }
          yield* store.writeState(state)
          expect(yield* store.readState).toEqual(state)
          yield* store.appendJournal(stateNode("b", 2))
          yield* store.appendJournal(stateNode("a", 3))
          const read = yield* store.readState
          expect(Object.keys(read.nodes).sort()).toEqual(["a", "b"])
          expect(read.nodes.a!.fingerprint).toBe(fp(3))
          expect(read.expansions).toEqual(state.expansions)
          // A new state replaces the journal.
          yield* store.writeState({ nodes: { c: stateNode("c", 4) }, expansions: {}, updatedAt: 43 })
          expect(Object.keys((yield* store.readState).nodes)).toEqual(["c"])
          expect(yield* store.warnings).toEqual([])
        })
      ))

    it.effect("a journal line torn by a crash is ignored with a warning; the lines around it are kept", (): Effect.Effect<void, unknown> =>
      run((damage) =>
        Effect.gen(function* () {
          const store = yield* Store
          yield* store.appendJournal(stateNode("a", 1))
          damage.tearJournal(`{"id":"b","kind":"toy","sta`)
          yield* store.appendJournal(stateNode("c", 3))
          const read = yield* store.readState
          expect(Object.keys(read.nodes).sort()).toEqual(["a", "c"])
          expect((yield* store.warnings).map((w) => w.message)).toEqual([expect.stringMatching(/journal line 2 is torn/)])
        })
      ))

    it.effect("garbage collection keeps what records, older takes and in-flight entries name, and only that", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          const current = yield* store.putBytes(bytes("current take"), "png")
          const older = yield* store.putBytes(bytes("older take"), "png")
          const answer = yield* store.putBytes(bytes('{"a paid answer":true}'), "json")
          const orphan = yield* store.putBytes(bytes("nobody's"), "png")
          const r = record(7, { image: { hash: current.hash, ext: "png", size: current.size } }, {
            takes: [{ outputs: { image: { hash: older.hash, ext: "png", size: older.size } }, hash: "t", createdAt: 1, cost: { usd: 0.5, source: "table" } }]
          })
          yield* store.putRecord(r)
          // A paid answer kept while its node is unfinished, named deep inside the entry.
          yield* store.putInflight(fp(8), { requestId: "req-8", kept: [{ answer: { hash: answer.hash, ext: "json" } }] })
          const gc = yield* store.collectGarbage
          expect(gc).toEqual({ removed: 1, bytes: orphan.size })
          expect(yield* store.hasObject(orphan.hash, "png")).toBe(false)
          for (const kept of [
            [current.hash, "png"],
            [older.hash, "png"],
            [answer.hash, "json"]
          ] as const)
            expect(yield* store.hasObject(kept[0], kept[1])).toBe(true)
          expect(yield* store.collectGarbage).toEqual({ removed: 0, bytes: 0 })
        })
      ))

    it.effect("housekeeping clears in-flight entries already recorded, keeps the others and every object", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          const answer = yield* store.putBytes(bytes("answer"), "json")
          // Killed between the record and the clear: the entry is stale.
          yield* store.putRecord(record(9, { v: { hash: "x", value: 1 } }))
          yield* store.putInflight(fp(9), { requestId: "req-9", answer: { hash: answer.hash, ext: "json" } })
          // Still being made by the provider: the next build re-attaches to it.
          yield* store.putInflight(fp(10), { requestId: "req-10", answer: { hash: answer.hash, ext: "json" } })
          const done = yield* store.housekeep
          expect(done.inflightCleared).toEqual([fp(9)])
          expect(yield* store.getInflight(fp(9))).toBeUndefined()
          expect(yield* store.getInflight(fp(10))).toEqual({ requestId: "req-10", answer: { hash: answer.hash, ext: "json" } })
          expect(yield* store.hasObject(answer.hash, "json")).toBe(true)
          expect((yield* store.housekeep).inflightCleared).toEqual([])
        })
      ))

    it.effect("a scratch folder exists while its scope is open and is gone after", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          const dir = yield* Effect.scoped(
            Effect.gen(function* () {
              const dir = yield* store.scratch("label")
              expect(fs.statSync(dir).isDirectory()).toBe(true)
              fs.writeFileSync(path.join(dir, "work.tmp"), "half-made")
              const other = yield* store.scratch("label")
              expect(other).not.toBe(dir)
              return dir
            })
          )
          expect(fs.existsSync(dir)).toBe(false)
        })
      ))

    it.effect("small JSON files are written whole and read back; a missing one reads as undefined", () =>
      run(() =>
        Effect.gen(function* () {
          const store = yield* Store
          expect(yield* store.readJson("models.json")).toBeUndefined()
          yield* store.writeJson("models.json", { fetchedAt: 1, models: [{ id: "m" }] })
          expect(yield* store.readJson("models.json")).toEqual({ fetchedAt: 1, models: [{ id: "m" }] })
        })
      ))
  })
