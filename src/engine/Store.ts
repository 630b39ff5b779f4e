/**
 * The content-addressed store: one service, two backends.
 *
 * `Store.layer(root)` keeps it on disk under `.storyshot/`:
 *   objects/ab/<sha256>.<ext>       outputs, named by the hash of their bytes
 *   records/ab/<fingerprint>.json   fingerprint → outputs, cost, timings, request ids
 *   inflight/<fingerprint>.json     paid requests submitted but not yet recorded (re-attached after a crash)
 *   state.json + journal.jsonl      the last build's graph (what `graph`, `why` and `clean` read)
 *   tmp/<pid>-...                   temp files and rules' scratch folders, named by the process that made them
 *
 * `Store.layerMemory()` keeps the same things in maps (engine tests, and the shape a remote cache fills in).
 * `test/engine/StoreContract.ts` is the one suite both must pass.
 *
 * Every disk write is whole or absent (see `Atomic.ts`: temp → every byte → fsync → rename, also on ENOSPC
 * and EIO). An object is stored before the record that points at it, so a record never points at a missing
 * object; a record that does (someone deleted files by hand) or that does not parse is set aside with a
 * warning and its node is rebuilt.
 *
 * Garbage collection keeps every object a record, an older take or an in-flight entry refers to: a paid
 * answer kept while its node is unfinished (`{hash, ext}` anywhere in the entry) is never collected.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { Context, Effect, Layer, Option, type Scope } from "effect"
import * as Atomic from "./Atomic.ts"
import { StoreError } from "./Atomic.ts"
import type * as Cost from "./Cost.ts"
import type { FingerprintData } from "./Fingerprint.ts"
import { hashFile, sha256, type Json } from "./Hash.ts"
import type { Outputs } from "./Node.ts"

export { StoreError }

export interface Take {
  readonly outputs: Outputs
  readonly hash: string
  readonly createdAt: number
  readonly cost: Cost.Cost
}

export interface NodeRecord {
  readonly fingerprint: string
  readonly id: string
  readonly kind: string
  readonly stage: string
  readonly data: FingerprintData
  readonly context?: Json | undefined
  readonly outputs: Outputs
  readonly hash: string
  readonly cost: Cost.Cost
  readonly requests: ReadonlyArray<Cost.RequestRecord>
  readonly startedAt: number
  readonly endedAt: number
  readonly attempts: number
  /** The pool it ran in and how long it held slots there, in ms (older records have neither). */
  readonly pool?: string | undefined
  readonly workMs?: number | undefined
  readonly work?: { readonly [pool: string]: number } | undefined
  /** Earlier takes (from --force) whose outputs stay in the store. */
  readonly takes?: ReadonlyArray<Take> | undefined
}

/** One node of the last build's graph, as `graph`, `why`, `clean` and the manifest read it. */
export interface StateNode {
  readonly id: string
  readonly kind: string
  readonly stage: string
  readonly fingerprint: string
  readonly deps: ReadonlyArray<string>
  readonly hash: string
  /** The record's outputs, cost and build time, so a no-op build need not read every record file. */
  readonly outputs?: Outputs | undefined
  readonly cost?: Cost.Cost | undefined
  readonly ms?: number | undefined
  /** Its pool and the time it worked there (not waiting): the next build's estimates for its kind. */
  readonly pool?: string | undefined
  readonly workMs?: number | undefined
  /** The time it held slots of other pools it asked for (`ctx.withPool`), by pool. */
  readonly work?: { readonly [pool: string]: number } | undefined
}

export interface State {
  readonly nodes: { readonly [id: string]: StateNode }
  /** For each expanding node, the ids it created last time (used before it is expanded again). */
  readonly expansions: { readonly [id: string]: ReadonlyArray<{ id: string; kind: string; stage: string }> }
  readonly updatedAt: number
  /** The key of the complete, successful build that wrote it (scheduler/Recorded.ts); a journal line since
   *  (another build added to the graph) takes it away. */
  readonly recorded?: string | undefined
}

export const emptyState: State = { nodes: {}, expansions: {}, updatedAt: 0 }

export interface Warning {
  readonly message: string
}

/** What a build's housekeeping cleared (see `housekeep`). */
export interface Housekeeping {
  /** In-flight entries whose fingerprint already has a record (a kill between the record and the clear). */
  readonly inflightCleared: ReadonlyArray<string>
  /** Temp files and scratch folders left by processes that are no longer running. */
  readonly tmpRemoved: number
}

export class Store extends Context.Tag("storyshot/Store")<
  Store,
  {
    readonly root: string
    /** A readable path of a stored object (the memory store writes the object out when first asked). */
    readonly objectPath: (hash: string, ext: string) => string
    /**
     * Stores a finished file; returns its hash. `"move"`: the file is the caller's to give up (a rule's
     * scratch output), so it may be moved in rather than copied; else it is copied and left as it was.
     */
    readonly putFile: (file: string, ext: string, how?: "copy" | "move") => Effect.Effect<{ hash: string; size: number }, StoreError>
    readonly putBytes: (bytes: Uint8Array, ext: string) => Effect.Effect<{ hash: string; size: number }, StoreError>
    readonly hasObject: (hash: string, ext: string) => Effect.Effect<boolean>
    readonly getRecord: (fingerprint: string) => Effect.Effect<Option.Option<NodeRecord>>
    /**
     * The no-op path's cheap check, synchronous: the record is there and so are these file outputs
     * (a few stat calls, no read). Anything more doubtful goes through `getRecord`.
     */
    readonly hasRecordWith: (fingerprint: string, outputs: Outputs) => boolean
    /** `hasRecordWith` for every one of these at once (the recorded graph taken whole: each folder read once). */
    readonly hasRecordsWith: (nodes: ReadonlyArray<{ readonly fingerprint: string; readonly outputs: Outputs }>) => boolean
    readonly putRecord: (record: NodeRecord) => Effect.Effect<void, StoreError>
    readonly deleteRecord: (fingerprint: string) => Effect.Effect<void, StoreError>
    readonly records: Effect.Effect<ReadonlyArray<NodeRecord>>
    readonly readState: Effect.Effect<State>
    readonly writeState: (state: State) => Effect.Effect<void, StoreError>
    readonly appendJournal: (node: StateNode) => Effect.Effect<void, StoreError>
    readonly getInflight: (fingerprint: string) => Effect.Effect<Json | undefined>
    readonly putInflight: (fingerprint: string, handle: Json) => Effect.Effect<void, StoreError>
    readonly deleteInflight: (fingerprint: string) => Effect.Effect<void>
    /**
     * Waits until what was written for this fingerprint has reached wherever this store also sends it (a
     * remote cache's write-behind); absent for a store that sends nothing. A claim shared with other
     * machines is let go only after it, so the next holder finds the record or the entry there.
     */
    readonly settled?: ((fingerprint: string) => Effect.Effect<void>) | undefined
    /** Every in-flight entry. */
    readonly inflights: Effect.Effect<ReadonlyArray<{ readonly fingerprint: string; readonly handle: Json }>>
    /** Removes objects that nothing refers to (records, their takes, in-flight entries); how many and bytes. */
    readonly collectGarbage: Effect.Effect<{ readonly removed: number; readonly bytes: number }, StoreError>
    /**
     * What a build clears before it starts: in-flight entries whose fingerprint already has a record, and
     * temp files of processes that are no longer running. Never an object.
     */
    readonly housekeep: Effect.Effect<Housekeeping>
    /** A fresh folder for a rule's files, removed when the scope closes. */
    readonly scratch: (label: string) => Effect.Effect<string, StoreError, Scope.Scope>
    /** Free bytes on the store's volume (undefined where that means nothing, as in memory). */
    readonly freeBytes: Effect.Effect<number | undefined>
    readonly writeJson: (relative: string, value: unknown) => Effect.Effect<void, StoreError>
    readonly readJson: (relative: string) => Effect.Effect<unknown | undefined>
    /** Problems found while reading (torn journal line, damaged record); reporters print them. */
    readonly warnings: Effect.Effect<ReadonlyArray<Warning>>
  }
>() {
  static readonly layer = (root: string) => Layer.effect(this, make(root))
  /** The same service in maps; its scratch folders (and objects asked for by path) go away with the layer. */
  static readonly layerMemory = (contents: MemoryContents = memoryContents()) => Layer.scoped(this, makeMemory(contents))
}

export type Service = Store["Type"]

// ---------------------------------------------------------------------------------------------------------
// What both backends share: reading records, applying the journal, finding what objects are referenced.

/** A record's text as a record, or why it is not one. */
const decodeRecord = (text: string): NodeRecord | Error => {
  try {
    const r = JSON.parse(text) as NodeRecord
    if (typeof r !== "object" || r === null || typeof r.fingerprint !== "string" || typeof r.outputs !== "object" || r.outputs === null || typeof r.hash !== "string")
      return new Error("missing fields")
    return r
  } catch (e) {
    return e as Error
  }
}

/** The state as written, plus the nodes the journal holds (built since, by a build that crashed or runs). */
const withJournal = (stateText: string | undefined, journal: string, warn: (m: string) => void): State => {
  let state: { nodes: Record<string, StateNode>; expansions: State["expansions"]; updatedAt: number; recorded?: string | undefined } = {
    nodes: {},
    expansions: {},
    updatedAt: 0
  }
  if (stateText !== undefined) {
    try {
      const parsed = JSON.parse(stateText)
      if (parsed && typeof parsed.nodes === "object") state = { ...state, ...parsed }
      else throw new Error("no nodes")
    } catch {
      warn(`state.json is damaged and was ignored; the build rebuilds the graph from records`)
    }
  }
  if (journal.trim()) {
    // Built since the state was written: the graph is no longer the one its key describes.
    state.recorded = undefined
    const lines = journal.split("\n")
    const nodes: Record<string, StateNode> = { ...state.nodes }
    state.nodes = nodes
    lines.forEach((line, i) => {
      if (!line.trim()) return
      try {
        const n = JSON.parse(line) as StateNode
        if (typeof n?.id !== "string") throw new Error("no id")
        nodes[n.id] = n
      } catch {
        // What a crash (or a disk that filled up) mid-append leaves: harmless, the record is the truth.
        warn(`journal line ${i + 1} is torn (an interrupted build); ignored`)
      }
    })
  }
  return state
}

const objectName = (hash: string, ext: string) => (ext ? `${hash}.${ext}` : hash)

/** Every `{hash, ext}` pair anywhere in a JSON value: how an in-flight entry names a kept answer. */
const objectRefs = (value: unknown, into: Set<string>) => {
  if (Array.isArray(value)) for (const v of value) objectRefs(v, into)
  else if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>
    if (typeof o.hash === "string" && typeof o.ext === "string") into.add(objectName(o.hash, o.ext))
    for (const v of Object.values(o)) objectRefs(v, into)
  }
}

/** The objects garbage collection keeps, by file name. */
const referenced = (records: ReadonlyArray<NodeRecord>, inflights: ReadonlyArray<{ readonly handle: Json }>) => {
  const keep = new Set<string>()
  for (const r of records) {
    for (const o of Object.values(r.outputs)) if (o.ext !== undefined) keep.add(objectName(o.hash, o.ext))
    for (const t of r.takes ?? []) for (const o of Object.values(t.outputs)) if (o.ext !== undefined) keep.add(objectName(o.hash, o.ext))
  }
  for (const f of inflights) objectRefs(f.handle, keep)
  return keep
}

const missingObjectWarning = (fp: string, r: NodeRecord, name: string) =>
  `record ${fp.slice(0, 12)} (${r.id}) points at a missing object for "${name}"; it will be rebuilt`

/** Whether the process that made a temp file still runs (EPERM: it does, as someone else). */
export const processAlive = (pid: number): boolean => {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** The pid a temp entry's name starts with (`<pid>-...`), if it has one. */
export const tempOwner = (name: string): number | undefined => {
  const m = /^(\d+)-/.exec(name)
  return m ? Number(m[1]) : undefined
}

/** Temp entries without an owner (named before owners were recorded) are removed once this old. */
const unownedTempAgeMs = 24 * 3600_000

// ---------------------------------------------------------------------------------------------------------
// On disk.

export const make = (root: string) =>
  Effect.sync(() => {
    const dirs = {
      objects: path.join(root, "objects"),
      records: path.join(root, "records"),
      inflight: path.join(root, "inflight"),
      tmp: path.join(root, "tmp")
    }
    const warnings: Array<Warning> = []
    const warn = (message: string) => warnings.push({ message })
    let made = false
    const ensureDirs = () => {
      if (made) return
      for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true })
      made = true
    }
    const tmpName = () => {
      ensureDirs()
      return Atomic.tempName(root)
    }
    const writeAtomic = (target: string, data: string | Uint8Array) =>
      Effect.suspend(() => Atomic.writeAtomic(target, data, tmpName()))

    // Asked for every output of every node on a no-op build: joined by hand (the folders are already normal).
    const objectPath = (hash: string, ext: string) => `${dirs.objects}${path.sep}${hash.slice(0, 2)}${path.sep}${objectName(hash, ext)}`
    const recordPath = (fp: string) => `${dirs.records}${path.sep}${fp.slice(0, 2)}${path.sep}${fp}.json`
    const inflightPath = (fp: string) => path.join(dirs.inflight, `${fp}.json`)
    const statePath = path.join(root, "state.json")
    const journalPath = path.join(root, "journal.jsonl")
    const sizeOf = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.size

    const exists = (p: string) => (sizeOf(p) ?? 0) > 0

    /**
     * The no-op path asks about every record and every file output: thousands of stat calls for a real
     * film. A shard asked about a few times is listed once instead (one directory read answers for all its
     * entries); the listing is kept up to date by this store's own writes, and every write is whole or
     * absent (Atomic.ts), so a listed name is a whole file. Small builds keep the stat calls.
     */
    const listings = new Map<string, { asked: number; names: Set<string> | undefined }>()
    const listed = (dir: string, name: string): boolean => {
      let entry = listings.get(dir)
      if (!entry) listings.set(dir, (entry = { asked: 0, names: undefined }))
      if (entry.names === undefined && ++entry.asked > 4) {
        try {
          entry.names = new Set(fs.readdirSync(dir))
        } catch {
          entry.names = new Set()
        }
      }
      return entry.names ? entry.names.has(name) : exists(path.join(dir, name))
    }
    const noteWritten = (file: string) => listings.get(path.dirname(file))?.names?.add(path.basename(file))
    const noteRemoved = (file: string) => listings.get(path.dirname(file))?.names?.delete(path.basename(file))

    const hasRecordWith = (fp: string, outputs: Outputs) => {
      if (!listed(`${dirs.records}${path.sep}${fp.slice(0, 2)}`, `${fp}.json`)) return false
      for (const name in outputs) {
        const o = outputs[name]!
        if (o.ext === undefined || o.value !== undefined) continue
        if (!listed(`${dirs.objects}${path.sep}${o.hash.slice(0, 2)}`, objectName(o.hash, o.ext))) return false
      }
      return true
    }

    const hasRecordsWith = (nodes: ReadonlyArray<{ readonly fingerprint: string; readonly outputs: Outputs }>) => {
      // Asked about everything: every shard is listed at once (no stat calls first).
      for (const top of [dirs.records, dirs.objects]) {
        let shards: Array<string>
        try {
          shards = fs.readdirSync(top)
        } catch {
          continue
        }
        for (const shard of shards) {
          const dir = `${top}${path.sep}${shard}`
          const entry = listings.get(dir)
          if (entry?.names !== undefined) continue
          try {
            listings.set(dir, { asked: 0, names: new Set(fs.readdirSync(dir)) })
          } catch {}
        }
      }
      for (const n of nodes) if (!hasRecordWith(n.fingerprint, n.outputs)) return false
      return true
    }

    const putFile = (file: string, ext: string, how: "copy" | "move" = "copy") =>
      Effect.gen(function* () {
        const { hash, size } = yield* hashFile(file).pipe(Effect.mapError(Atomic.fsError("read", file)))
        const target = objectPath(hash, ext)
        if (sizeOf(target) === size) return { hash, size }
        yield* Effect.suspend(() => (how === "move" ? Atomic.moveAtomic : Atomic.copyAtomic)(file, target, size, tmpName()))
        noteWritten(target)
        return { hash, size }
      })

    const putBytes = (bytes: Uint8Array, ext: string) =>
      Effect.gen(function* () {
        const hash = sha256(bytes)
        const target = objectPath(hash, ext)
        if (sizeOf(target) !== bytes.length) {
          yield* writeAtomic(target, bytes)
          noteWritten(target)
        }
        return { hash, size: bytes.length }
      })

    const hasObject = (hash: string, ext: string) => Effect.sync(() => (sizeOf(objectPath(hash, ext)) ?? 0) > 0)

    const parseRecord = (file: string): NodeRecord | undefined => {
      let text: string
      try {
        text = fs.readFileSync(file, "utf8")
      } catch {
        return undefined
      }
      const r = decodeRecord(text)
      if (!(r instanceof Error)) return r
      warn(`damaged record ${file} set aside (${r.message}); its node will be rebuilt`)
      try {
        fs.renameSync(file, `${file}.damaged`)
        noteRemoved(file)
      } catch {}
      return undefined
    }

    const getRecord = (fp: string) =>
      Effect.sync(() => {
        const r = parseRecord(recordPath(fp))
        if (!r) return Option.none()
        for (const [name, out] of Object.entries(r.outputs)) {
          if (out.value !== undefined || out.ext === undefined) continue
          if (!((sizeOf(objectPath(out.hash, out.ext)) ?? 0) > 0)) {
            warn(missingObjectWarning(fp, r, name))
            return Option.none()
          }
        }
        return Option.some(r)
      })

    const records = Effect.sync(() => {
      const out: Array<NodeRecord> = []
      if (!fs.existsSync(dirs.records)) return out
      for (const shard of fs.readdirSync(dirs.records)) {
        const dir = path.join(dirs.records, shard)
        if (!fs.statSync(dir).isDirectory()) continue
        for (const f of fs.readdirSync(dir)) {
          if (!f.endsWith(".json")) continue
          const r = parseRecord(path.join(dir, f))
          if (r) out.push(r)
        }
      }
      return out
    })

    const readText = (p: string): string | undefined => {
      try {
        return fs.readFileSync(p, "utf8")
      } catch {
        return undefined
      }
    }

    const readState = Effect.sync((): State => withJournal(readText(statePath), readText(journalPath) ?? "", warn))

    const writeState = (state: State) =>
      Effect.gen(function* () {
        ensureDirs()
        yield* writeAtomic(statePath, JSON.stringify(state))
        yield* Effect.try({ try: () => fs.rmSync(journalPath, { force: true }), catch: Atomic.fsError("remove", journalPath) })
      })

    const appendJournal = (node: StateNode) => Atomic.appendLine(journalPath, JSON.stringify(node))

    const getInflight = (fp: string) =>
      Effect.sync(() => {
        const text = readText(inflightPath(fp))
        if (text === undefined) return undefined
        try {
          return JSON.parse(text) as Json
        } catch {
          return undefined
        }
      })

    const deleteInflight = (fp: string) => Effect.sync(() => Atomic.removeQuietly(inflightPath(fp)))

    const inflights = Effect.sync(() => {
      const out: Array<{ fingerprint: string; handle: Json }> = []
      let names: Array<string> = []
      try {
        names = fs.readdirSync(dirs.inflight)
      } catch {
        return out
      }
      for (const f of names) {
        if (!f.endsWith(".json")) continue
        const text = readText(path.join(dirs.inflight, f))
        if (text === undefined) continue
        try {
          out.push({ fingerprint: f.slice(0, -".json".length), handle: JSON.parse(text) as Json })
        } catch {
          // Whole or absent, so this is someone's hand edit: keep the file, skip it.
        }
      }
      return out
    })

    /** Removes temp entries of processes that no longer run (and unowned ones older than a day). */
    const sweepTmp = () => {
      let removed = 0
      let names: Array<string> = []
      try {
        names = fs.readdirSync(dirs.tmp)
      } catch {
        return 0
      }
      for (const name of names) {
        const p = path.join(dirs.tmp, name)
        const owner = tempOwner(name)
        const stale =
          owner !== undefined ? !processAlive(owner) : Date.now() - (fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0) > unownedTempAgeMs
        if (!stale) continue
        Atomic.removeQuietly(p)
        removed++
      }
      return removed
    }

    const collectGarbage = Effect.gen(function* () {
      const keep = referenced(yield* records, yield* inflights)
      let removed = 0
      let bytes = 0
      if (fs.existsSync(dirs.objects)) {
        for (const shard of fs.readdirSync(dirs.objects)) {
          const dir = path.join(dirs.objects, shard)
          for (const f of fs.readdirSync(dir)) {
            if (keep.has(f)) continue
            const p = path.join(dir, f)
            bytes += fs.statSync(p).size
            yield* Effect.try({ try: () => fs.rmSync(p, { force: true }), catch: Atomic.fsError("remove", p) })
            noteRemoved(p)
            removed++
          }
        }
      }
      // Leftover temp files from crashed writes are garbage too.
      sweepTmp()
      return { removed, bytes }
    })

    const housekeep = Effect.gen(function* () {
      const cleared: Array<string> = []
      for (const f of yield* inflights) {
        if (sizeOf(recordPath(f.fingerprint)) === undefined) continue
        yield* deleteInflight(f.fingerprint)
        cleared.push(f.fingerprint)
      }
      return { inflightCleared: cleared, tmpRemoved: sweepTmp() }
    })

    const scratch = (label: string) =>
      Effect.acquireRelease(
        Effect.try({
          try: () => {
            ensureDirs()
            // Named by this process, so that housekeeping knows whether its maker still runs.
            const dir = path.join(dirs.tmp, `${process.pid}-${label}-${randomBytes(4).toString("hex")}`)
            fs.mkdirSync(dir, { recursive: true })
            return dir
          },
          catch: Atomic.fsError("create a folder in", dirs.tmp)
        }),
        (dir) => Effect.sync(() => Atomic.removeQuietly(dir))
      )

    const freeBytes = Effect.sync(() => {
      try {
        const s = fs.statfsSync(fs.existsSync(root) ? root : path.dirname(root))
        return s.bavail * s.bsize
      } catch {
        return undefined
      }
    })


    return Store.of({
      root,
      hasRecordWith,
      hasRecordsWith,
      objectPath,
      putFile,
      putBytes,
      hasObject,
      getRecord,
      putRecord: (r) => writeAtomic(recordPath(r.fingerprint), JSON.stringify(r, null, 1)).pipe(Effect.tap(() => noteWritten(recordPath(r.fingerprint)))),
      deleteRecord: (fp) =>
        Effect.try({
          try: () => {
            fs.rmSync(recordPath(fp), { force: true })
            noteRemoved(recordPath(fp))
          },
          catch: Atomic.fsError("remove", recordPath(fp))
        }),
      records,
      readState,
      writeState,
      appendJournal,
      getInflight,
      putInflight: (fp, handle) => writeAtomic(inflightPath(fp), JSON.stringify(handle)),
      deleteInflight,
      inflights,
      collectGarbage,
      housekeep,
      scratch,
      freeBytes,
      writeJson: (relative, value) => writeAtomic(path.join(root, relative), JSON.stringify(value, null, 2)),
      readJson: (relative) =>
        Effect.sync(() => {
          const text = readText(path.join(root, relative))
          if (text === undefined) return undefined
          try {
            return JSON.parse(text) as unknown
          } catch {
            return undefined
          }
        }),
      warnings: Effect.sync(() => warnings.splice(0))
    })
  })

// ---------------------------------------------------------------------------------------------------------
// In memory.

/**
 * What the memory store holds. Records, in-flight entries, the state and the journal are kept as text, the
 * way the disk holds them, so a test can damage them the way a crash or a person would.
 */
export interface MemoryContents {
  readonly objects: Map<string, Uint8Array>
  readonly records: Map<string, string>
  /** Records set aside as damaged, by fingerprint. */
  readonly damaged: Map<string, string>
  readonly inflight: Map<string, string>
  readonly files: Map<string, string>
  state: string | undefined
  journal: string
}

export const memoryContents = (): MemoryContents => ({
  objects: new Map(),
  records: new Map(),
  damaged: new Map(),
  inflight: new Map(),
  files: new Map(),
  state: undefined,
  journal: ""
})

/** Rules read and write real files: scratch folders, and objects asked for by path, live here. */
const memoryRoot = () => path.join(os.tmpdir(), `storyshot-memory-${process.pid}-${randomBytes(4).toString("hex")}`)

export const makeMemory = (contents: MemoryContents): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.suspend(() => {
    const root = memoryRoot()
    return Effect.as(Effect.addFinalizer(() => Effect.sync(() => Atomic.removeQuietly(root))), memoryService(contents, root))
  })

const memoryService = (c: MemoryContents, root: string): Service => {
  {
    const warnings: Array<Warning> = []
    const warn = (message: string) => warnings.push({ message })
    const key = objectName

    const objectPath = (hash: string, ext: string) => {
      const p = path.join(root, "objects", hash.slice(0, 2), key(hash, ext))
      const bytes = c.objects.get(key(hash, ext))
      if (bytes && fs.statSync(p, { throwIfNoEntry: false })?.size !== bytes.length) {
        fs.mkdirSync(path.dirname(p), { recursive: true })
        fs.writeFileSync(p, bytes)
      }
      return p
    }

    const putBytes = (bytes: Uint8Array, ext: string) =>
      Effect.sync(() => {
        const hash = sha256(bytes)
        if (!c.objects.has(key(hash, ext))) c.objects.set(key(hash, ext), Uint8Array.from(bytes))
        return { hash, size: bytes.length }
      })

    const putFile = (file: string, ext: string) =>
      Effect.try({ try: () => fs.readFileSync(file), catch: Atomic.fsError("read", file) }).pipe(
        Effect.flatMap((bytes) => putBytes(bytes, ext))
      )

    const parseRecord = (fp: string): NodeRecord | undefined => {
      const text = c.records.get(fp)
      if (text === undefined) return undefined
      const r = decodeRecord(text)
      if (!(r instanceof Error)) return r
      warn(`damaged record ${fp.slice(0, 12)} set aside (${r.message}); its node will be rebuilt`)
      c.records.delete(fp)
      c.damaged.set(fp, text)
      return undefined
    }

    const hasFileOutputs = (outputs: Outputs) =>
      Object.values(outputs).every((o) => o.value !== undefined || o.ext === undefined || (c.objects.get(key(o.hash, o.ext))?.length ?? 0) > 0)

    const getRecord = (fp: string) =>
      Effect.sync(() => {
        const r = parseRecord(fp)
        if (!r) return Option.none()
        for (const [name, out] of Object.entries(r.outputs)) {
          if (out.value !== undefined || out.ext === undefined) continue
          if (!((c.objects.get(key(out.hash, out.ext))?.length ?? 0) > 0)) {
            warn(missingObjectWarning(fp, r, name))
            return Option.none()
          }
        }
        return Option.some(r)
      })

    const records = Effect.sync(() => {
      const out: Array<NodeRecord> = []
      for (const fp of [...c.records.keys()]) {
        const r = parseRecord(fp)
        if (r) out.push(r)
      }
      return out
    })

    const inflights = Effect.sync(() => {
      const out: Array<{ fingerprint: string; handle: Json }> = []
      for (const [fingerprint, text] of c.inflight) {
        try {
          out.push({ fingerprint, handle: JSON.parse(text) as Json })
        } catch {}
      }
      return out
    })

    return Store.of({
      root,
      objectPath,
      putFile,
      putBytes,
      hasObject: (hash, ext) => Effect.sync(() => (c.objects.get(key(hash, ext))?.length ?? 0) > 0),
      getRecord,
      hasRecordWith: (fp, outputs) => c.records.has(fp) && hasFileOutputs(outputs),
      hasRecordsWith: (nodes) => nodes.every((n) => c.records.has(n.fingerprint) && hasFileOutputs(n.outputs)),
      putRecord: (r) => Effect.sync(() => void c.records.set(r.fingerprint, JSON.stringify(r))),
      deleteRecord: (fp) => Effect.sync(() => void c.records.delete(fp)),
      records,
      readState: Effect.sync(() => withJournal(c.state, c.journal, warn)),
      writeState: (state) =>
        Effect.sync(() => {
          c.state = JSON.stringify(state)
          c.journal = ""
        }),
      appendJournal: (node) =>
        Effect.sync(() => {
          const torn = c.journal.length > 0 && !c.journal.endsWith("\n")
          c.journal += `${torn ? "\n" : ""}${JSON.stringify(node)}\n`
        }),
      getInflight: (fp) =>
        Effect.sync(() => {
          const text = c.inflight.get(fp)
          if (text === undefined) return undefined
          try {
            return JSON.parse(text) as Json
          } catch {
            return undefined
          }
        }),
      putInflight: (fp, handle) => Effect.sync(() => void c.inflight.set(fp, JSON.stringify(handle))),
      deleteInflight: (fp) => Effect.sync(() => void c.inflight.delete(fp)),
      inflights,
      collectGarbage: Effect.gen(function* () {
        const keep = referenced(yield* records, yield* inflights)
        let removed = 0
        let bytes = 0
        for (const [name, data] of [...c.objects]) {
          if (keep.has(name)) continue
          c.objects.delete(name)
          removed++
          bytes += data.length
        }
        return { removed, bytes }
      }),
      housekeep: Effect.sync(() => {
        const cleared = [...c.inflight.keys()].filter((fp) => c.records.has(fp))
        for (const fp of cleared) c.inflight.delete(fp)
        return { inflightCleared: cleared, tmpRemoved: 0 }
      }),
      scratch: (label) =>
        Effect.acquireRelease(
          Effect.try({
            try: () => {
              const dir = path.join(root, "tmp", `${process.pid}-${label}-${randomBytes(4).toString("hex")}`)
              fs.mkdirSync(dir, { recursive: true })
              return dir
            },
            catch: Atomic.fsError("create a folder in", path.join(root, "tmp"))
          }),
          (dir) => Effect.sync(() => Atomic.removeQuietly(dir))
        ),
      freeBytes: Effect.succeed(undefined),
      writeJson: (relative, value) => Effect.sync(() => void c.files.set(relative, JSON.stringify(value, null, 2))),
      readJson: (relative) =>
        Effect.sync(() => {
          const text = c.files.get(relative)
          if (text === undefined) return undefined
          try {
            return JSON.parse(text) as unknown
          } catch {
            return undefined
          }
        }),
      warnings: Effect.sync(() => warnings.splice(0))
    })
  }
}
