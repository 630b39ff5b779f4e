/**
 * The Store contract on both backends, then what only the disk store can get wrong: writes that stay whole
 * when the disk fills up or fails at any byte, a journal append that fails part-way, and temp files of
 * processes that are gone.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { spawnSync } from "node:child_process"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Atomic from "../../src/engine/Atomic.ts"
import { sha256 } from "../../src/engine/Hash.ts"
import { memoryContents, Store, type NodeRecord } from "../../src/engine/Store.ts"
import * as Verify from "../../src/engine/Verify.ts"
import { filesUnder, fillingDisk } from "./faults.ts"
import { storeContract } from "./StoreContract.ts"

const tempRoot = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-store-")), ".storyshot")

storeContract({
  name: "disk",
  make: () => {
    const root = tempRoot()
    return {
      layer: Store.layer(root),
      damageRecord: (fingerprint) => fs.writeFileSync(path.join(root, "records", fingerprint.slice(0, 2), `${fingerprint}.json`), '{"fingerprint": "cut he'),
      tearJournal: (fragment) => fs.appendFileSync(path.join(root, "journal.jsonl"), fragment)
    }
  }
})

storeContract({
  name: "memory",
  make: () => {
    const contents = memoryContents()
    return {
      layer: Store.layerMemory(contents),
      damageRecord: (fingerprint) => void contents.records.set(fingerprint, '{"fingerprint": "cut he'),
      tearJournal: (fragment) => {
        contents.journal += fragment
      }
    }
  }
})

const record = (n: number, size = 0): NodeRecord => ({
  fingerprint: sha256(`fp ${n}`),
  id: `node:${n}`,
  kind: "toy",
  stage: "toy",
  data: { kind: "toy", version: 1, recipe: { n, padding: "x".repeat(size) }, deps: [] },
  outputs: { v: { hash: "h", value: n } },
  hash: sha256(`out ${n}`),
  cost: { usd: 0, source: "free" },
  requests: [],
  startedAt: 0,
  endedAt: 1,
  attempts: 1
})

/** Every JSON file under the store parses, every object hashes to its name, and tmp/ is empty. */
const whole = (root: string) => {
  const problems: Array<string> = []
  for (const f of filesUnder(root)) {
    const rel = path.relative(root, f)
    if (f.endsWith(".json"))
      try {
        JSON.parse(fs.readFileSync(f, "utf8"))
      } catch {
        problems.push(`torn ${rel}`)
      }
    if (rel.startsWith("objects") && sha256(fs.readFileSync(f)) !== path.basename(f).split(".")[0]) problems.push(`damaged ${rel}`)
    if (rel.startsWith("tmp")) problems.push(`left ${rel}`)
  }
  return problems
}

describe("disk store on a disk that fills up or fails", () => {
  // Each kind of write, failed at several points: before its first byte, inside it, and just short of its end.
  const writes: ReadonlyArray<{
    readonly what: string
    readonly size: number
    readonly write: (store: Store["Type"], n: number) => Effect.Effect<unknown, unknown>
    readonly read: (store: Store["Type"]) => Effect.Effect<unknown>
  }> = [
    {
      what: "state.json",
      size: 40_000,
      write: (s, n) => s.writeState({ nodes: { a: { id: "a", kind: "k", stage: "s", fingerprint: "f".repeat(40_000), deps: [], hash: `v${n}` } }, expansions: {}, updatedAt: n }),
      read: (s) => Effect.map(s.readState, (st) => st.updatedAt)
    },
    {
      what: "a record",
      size: 20_000,
      write: (s, n) => s.putRecord({ ...record(1, 20_000), attempts: n }),
      read: (s) => Effect.map(s.getRecord(record(1).fingerprint), (r) => Option.getOrUndefined(r)?.attempts)
    },
    {
      what: "an in-flight entry",
      size: 10_000,
      write: (s, n) => s.putInflight(sha256("inflight"), { n, pad: "p".repeat(10_000) }),
      read: (s) => Effect.map(s.getInflight(sha256("inflight")), (h) => (h as { n?: number } | undefined)?.n)
    },
    {
      what: "a JSON file",
      size: 10_000,
      write: (s, n) => s.writeJson("models.json", { n, pad: "p".repeat(10_000) }),
      read: (s) => Effect.map(s.readJson("models.json"), (v) => (v as { n?: number } | undefined)?.n)
    }
  ]

  for (const code of ["ENOSPC", "EIO"] as const)
    for (const w of writes)
      it.effect(`${code} while writing ${w.what}: the old file stays whole, the error says which path, nothing is left in tmp/`, () =>
        Effect.gen(function* () {
          const root = tempRoot()
          const store = yield* Effect.provide(Store, Store.layer(root))
          yield* w.write(store, 1)
          for (const at of [0, 1, 4096, Math.floor(w.size / 2), w.size - 1]) {
            const disk = fillingDisk(root, at, code)
            const error = yield* Effect.flip(w.write(store, 2)).pipe(Effect.ensuring(Effect.sync(disk.restore)))
            expect(error).toMatchObject({ _tag: "StoreError", reason: code === "ENOSPC" ? "DiskFull" : "IoError", code })
            expect((error as { path: string }).path.startsWith(root)).toBe(true)
            expect((error as Error).message).toMatch(code === "ENOSPC" ? /^the disk is full: could not write \S+ \(ENOSPC\)/ : /^the disk failed: could not write \S+ \(EIO/)
            expect(yield* w.read(store)).toBe(1)
            expect(whole(root)).toEqual([])
          }
          // Space is back: the next write goes through.
          yield* w.write(store, 3)
          expect(yield* w.read(store)).toBe(3)
        })
      )

  it.effect("an object that does not fit is not stored, and the store checks out (verify)", () =>
    Effect.gen(function* () {
      const root = tempRoot()
      const store = yield* Effect.provide(Store, Store.layer(root))
      const first = yield* store.putBytes(new Uint8Array(5000).fill(1), "bin")
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-src-")), "clip.mp4")
      fs.writeFileSync(file, new Uint8Array(9000).fill(2))
      for (const at of [0, 100, 8999]) {
        const disk = fillingDisk(root, at)
        const bytesError = yield* Effect.flip(store.putBytes(new Uint8Array(9000).fill(3), "bin"))
        const fileError = yield* Effect.flip(store.putFile(file, "mp4"))
        disk.restore()
        expect(bytesError.reason).toBe("DiskFull")
        expect(fileError.reason).toBe("DiskFull")
        expect(yield* store.hasObject(sha256(new Uint8Array(9000).fill(3)), "bin")).toBe(false)
        expect(yield* store.hasObject(sha256(new Uint8Array(9000).fill(2)), "mp4")).toBe(false)
        expect(whole(root)).toEqual([])
      }
      expect(yield* store.hasObject(first.hash, "bin")).toBe(true)
      const report = yield* Verify.verify(root)
      expect(report.problems).toEqual([])
    }))

  it.effect("a file given up is moved into the store, not copied; one that cannot be moved is copied and stays", () =>
    Effect.gen(function* () {
      const root = tempRoot()
      const store = yield* Effect.provide(Store, Store.layer(root))
      const dir = yield* store.scratch("move").pipe(Effect.scoped)
      fs.mkdirSync(dir, { recursive: true })
      const file = path.join(dir, "final.mp4")
      fs.writeFileSync(file, new Uint8Array(70_000).fill(7))
      const inode = fs.statSync(file).ino
      const moved = yield* store.putFile(file, "mp4", "move")
      const object = store.objectPath(moved.hash, "mp4")
      expect(fs.existsSync(file)).toBe(false)
      expect(fs.statSync(object).ino).toBe(inode)
      expect(whole(root)).toEqual([])

      // Another volume (EXDEV) or a rename Windows refuses: copied, and the file is left as it was.
      const other = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-src-")), "clip.mp4")
      fs.writeFileSync(other, new Uint8Array(5000).fill(8))
      const restore = Atomic.withIo({
        renameSync: (from, to) => {
          if (from === other) throw Object.assign(new Error("EXDEV: cross-device link not permitted"), { code: "EXDEV" })
          fs.renameSync(from, to)
        }
      })
      const copied = yield* store.putFile(other, "mp4", "move").pipe(Effect.ensuring(Effect.sync(restore)))
      expect(fs.readFileSync(other)).toEqual(Buffer.from(new Uint8Array(5000).fill(8)))
      expect(fs.readFileSync(store.objectPath(copied.hash, "mp4"))).toEqual(Buffer.from(new Uint8Array(5000).fill(8)))
      expect(whole(root)).toEqual([])
      fs.rmSync(path.dirname(other), { recursive: true, force: true })
      fs.rmSync(path.dirname(root), { recursive: true, force: true })
    }))

  it.effect("a journal append that fails part-way leaves the journal as it was; later lines stay readable", () =>
    Effect.gen(function* () {
      const root = tempRoot()
      const store = yield* Effect.provide(Store, Store.layer(root))
      const node = (id: string) => ({ id, kind: "k", stage: "s", fingerprint: `f-${id}`, deps: [], hash: `h-${id}`, pad: "x".repeat(3000) })
      yield* store.appendJournal(node("a"))
      const before = fs.readFileSync(path.join(root, "journal.jsonl"))
      for (const at of [0, 1, 1500]) {
        const disk = fillingDisk(root, at)
        const error = yield* Effect.flip(store.appendJournal(node("b")))
        disk.restore()
        expect(error.reason).toBe("DiskFull")
        expect(fs.readFileSync(path.join(root, "journal.jsonl")).equals(before)).toBe(true)
      }
      yield* store.appendJournal(node("c"))
      expect(Object.keys((yield* store.readState).nodes).sort()).toEqual(["a", "c"])
      expect(yield* store.warnings).toEqual([])
    }))
})

describe("disk store housekeeping", () => {
  const deadPid = () => {
    // A process that has ended: its pid is free (reuse within the test is vanishingly unlikely).
    const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" })
    return Number(r.stdout)
  }

  it.effect("temp files of processes that are gone are removed, and verify explains what remains", () =>
    Effect.gen(function* () {
      const root = tempRoot()
      const store = yield* Effect.provide(Store, Store.layer(root))
      yield* store.putBytes(new Uint8Array([1]), "bin") // makes the folders
      const tmp = path.join(root, "tmp")
      const dead = deadPid()
      fs.writeFileSync(path.join(tmp, `${dead}-aaaa.tmp`), "half a record")
      fs.mkdirSync(path.join(tmp, `${dead}-0123456789abcdef-beef`))
      fs.writeFileSync(path.join(tmp, `${dead}-0123456789abcdef-beef`, "card.png"), "half a card")
      fs.writeFileSync(path.join(tmp, `${process.pid}-bbbb.tmp`), "mine, being written")
      const old = path.join(tmp, "0123456789abcdef-cafe")
      fs.mkdirSync(old)
      fs.utimesSync(old, new Date(Date.now() - 2 * 86_400_000), new Date(Date.now() - 2 * 86_400_000))

      const notes = (yield* Verify.verify(root)).notes.join("\n")
      expect(notes).toMatch(new RegExp(`2 temp file\\(s\\) in tmp/ left by a build that was stopped or crashed \\(process ${dead}, no longer running\\): the next build removes them`))
      expect(notes).toMatch(new RegExp(`1 temp file\\(s\\) in tmp/ belong to a running storyshot \\(process ${process.pid}\\)`))
      expect(notes).toMatch(/1 temp file\(s\) in tmp\/ from an older storyshot/)

      const done = yield* store.housekeep
      expect(done.tmpRemoved).toBe(3)
      expect(fs.readdirSync(tmp)).toEqual([`${process.pid}-bbbb.tmp`])
    }))

  it.effect("verify names in-flight entries already recorded apart from those to re-attach to", () =>
    Effect.gen(function* () {
      const root = tempRoot()
      const store = yield* Effect.provide(Store, Store.layer(root))
      yield* store.putRecord(record(1))
      yield* store.putInflight(record(1).fingerprint, { requestId: "stale" })
      yield* store.putInflight(sha256("other"), { requestId: "live" })
      const notes = (yield* Verify.verify(root)).notes
      expect(notes).toContain("1 paid request(s) in flight: the next build re-attaches to them instead of paying again")
      expect(notes).toContain("1 in-flight entry whose result is already recorded (a build stopped between the two): the next build clears it")
    }))
})

