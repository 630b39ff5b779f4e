/**
 * The content-addressed store under `.storyshot/`.
 *
 *   objects/ab/<sha256>.<ext>   outputs, named by the hash of their bytes
 *   records/ab/<fingerprint>.json   fingerprint → outputs, cost, timings, request ids
 *   inflight/<fingerprint>.json     paid requests submitted but not yet stored (re-attached after a crash)
 *   state.json + journal.jsonl      the last build's graph (what `graph`, `why` and `clean` read)
 *
 * Every write is temp file → fsync → rename, so a crash leaves either the old file or the new one. An object
 * is stored before the record that points at it, so a record never points at a missing object; a record that
 * does (someone deleted files by hand) or that does not parse is set aside with a warning and rebuilt.
 * Renames retry briefly on Windows, where a virus scanner or indexer may hold a file for a moment (EPERM/EBUSY).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { Context, Effect, Layer, Option, Schedule, Schema } from "effect"
import * as Cost from "./Cost.ts"
import type { FingerprintData } from "./Fingerprint.ts"
import { hashFile, sha256, type Json } from "./Hash.ts"
import type { Outputs } from "./Node.ts"

export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  message: Schema.String,
  path: Schema.String
}) {}

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
}

export interface State {
  readonly nodes: { readonly [id: string]: StateNode }
  /** For each expanding node, the ids it created last time (used before it is expanded again). */
  readonly expansions: { readonly [id: string]: ReadonlyArray<{ id: string; kind: string; stage: string }> }
  readonly updatedAt: number
}

export const emptyState: State = { nodes: {}, expansions: {}, updatedAt: 0 }

export interface Warning {
  readonly message: string
}

export class Store extends Context.Tag("storyshot/Store")<
  Store,
  {
    readonly root: string
    readonly objectPath: (hash: string, ext: string) => string
    /** Moves (or copies) a finished file into the store; returns its hash. */
    readonly putFile: (file: string, ext: string) => Effect.Effect<{ hash: string; size: number }, StoreError>
    readonly putBytes: (bytes: Uint8Array, ext: string) => Effect.Effect<{ hash: string; size: number }, StoreError>
    readonly hasObject: (hash: string, ext: string) => Effect.Effect<boolean>
    readonly getRecord: (fingerprint: string) => Effect.Effect<Option.Option<NodeRecord>>
    /**
     * The no-op path's cheap check, synchronous: the record file is there and so are these file outputs
     * (a few stat calls, no read). Anything more doubtful goes through `getRecord`.
     */
    readonly hasRecordWith: (fingerprint: string, outputs: Outputs) => boolean
    readonly putRecord: (record: NodeRecord) => Effect.Effect<void, StoreError>
    readonly deleteRecord: (fingerprint: string) => Effect.Effect<void, StoreError>
    readonly records: Effect.Effect<ReadonlyArray<NodeRecord>>
    readonly readState: Effect.Effect<State>
    readonly writeState: (state: State) => Effect.Effect<void, StoreError>
    readonly appendJournal: (node: StateNode) => Effect.Effect<void, StoreError>
    readonly getInflight: (fingerprint: string) => Effect.Effect<Json | undefined>
    readonly putInflight: (fingerprint: string, handle: Json) => Effect.Effect<void, StoreError>
    readonly deleteInflight: (fingerprint: string) => Effect.Effect<void>
    /** Removes objects that no record refers to; returns how many and how many bytes. */
    readonly collectGarbage: Effect.Effect<{ readonly removed: number; readonly bytes: number }, StoreError>
    readonly writeJson: (relative: string, value: unknown) => Effect.Effect<void, StoreError>
    readonly readJson: (relative: string) => Effect.Effect<unknown | undefined>
    /** Problems found while reading (torn journal line, damaged record); reporters print them. */
    readonly warnings: Effect.Effect<ReadonlyArray<Warning>>
  }
>() {
  static readonly layer = (root: string) => Layer.effect(this, make(root))
}

const isRetryableFsError = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException)?.code
  return code === "EPERM" || code === "EBUSY" || code === "EACCES"
}

const fsError = (what: string, p: string) => (e: unknown) => {
  const code = (e as NodeJS.ErrnoException)?.code
  const hint =
    code === "ENOSPC"
      ? " (the disk is full: free some space and build again; what was stored so far is kept)"
      : code === "EROFS" || code === "EACCES" || code === "EPERM"
        ? " (the store is not writable: check the folder's permissions)"
        : ""
  return new StoreError({ message: `could not ${what} ${p}: ${(e as Error)?.message ?? String(e)}${hint}`, path: p })
}

const fsyncDir = (dir: string) => {
  // Directory fsync makes the rename itself durable on Linux/macOS; Windows cannot open directories.
  if (process.platform === "win32") return
  try {
    const fd = fs.openSync(dir, "r")
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    // best effort
  }
}

const renameRetrying = (from: string, to: string) =>
  Effect.try({ try: () => fs.renameSync(from, to), catch: (e) => e }).pipe(
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 20, while: isRetryableFsError })
  )

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
      return path.join(dirs.tmp, `${process.pid}-${randomBytes(6).toString("hex")}.tmp`)
    }

    /** temp → fsync → rename: the file at `target` is either the old one or the whole new one. */
    const writeAtomic = (target: string, data: string | Uint8Array) =>
      Effect.gen(function* () {
        const tmp = tmpName()
        yield* Effect.try({
          try: () => {
            fs.mkdirSync(path.dirname(target), { recursive: true })
            const fd = fs.openSync(tmp, "w")
            try {
              fs.writeSync(fd, typeof data === "string" ? Buffer.from(data) : data)
              fs.fsyncSync(fd)
            } finally {
              fs.closeSync(fd)
            }
          },
          catch: fsError("write", target)
        })
        yield* renameRetrying(tmp, target).pipe(
          Effect.catchAll((e) => {
            try {
              fs.rmSync(tmp, { force: true })
            } catch {}
            return Effect.fail(fsError("write", target)(e))
          })
        )
        fsyncDir(path.dirname(target))
      })

    const objectPath = (hash: string, ext: string) =>
      path.join(dirs.objects, hash.slice(0, 2), ext ? `${hash}.${ext}` : hash)
    const recordPath = (fp: string) => path.join(dirs.records, fp.slice(0, 2), `${fp}.json`)
    const inflightPath = (fp: string) => path.join(dirs.inflight, `${fp}.json`)
    const statePath = path.join(root, "state.json")
    const journalPath = path.join(root, "journal.jsonl")

    const putFile = (file: string, ext: string) =>
      Effect.gen(function* () {
        ensureDirs()
        const { hash, size } = yield* hashFile(file).pipe(Effect.mapError(fsError("read", file)))
        const target = objectPath(hash, ext)
        if (fs.existsSync(target) && fs.statSync(target).size === size) return { hash, size }
        // Copy to a temp name in the store (the file may be on another volume), fsync, rename.
        const tmp = tmpName()
        yield* Effect.try({
          try: () => {
            fs.copyFileSync(file, tmp)
            const fd = fs.openSync(tmp, "r+")
            try {
              fs.fsyncSync(fd)
            } finally {
              fs.closeSync(fd)
            }
            fs.mkdirSync(path.dirname(target), { recursive: true })
          },
          catch: fsError("store", file)
        })
        yield* renameRetrying(tmp, target).pipe(Effect.mapError(fsError("store", file)))
        fsyncDir(path.dirname(target))
        return { hash, size }
      })

    const putBytes = (bytes: Uint8Array, ext: string) =>
      Effect.gen(function* () {
        const hash = sha256(bytes)
        const target = objectPath(hash, ext)
        if (!(fs.existsSync(target) && fs.statSync(target).size === bytes.length)) yield* writeAtomic(target, bytes)
        return { hash, size: bytes.length }
      })

    const hasObject = (hash: string, ext: string) =>
      Effect.sync(() => {
        try {
          return fs.statSync(objectPath(hash, ext)).size > 0
        } catch {
          return false
        }
      })

    const parseRecord = (file: string): NodeRecord | undefined => {
      let text: string
      try {
        text = fs.readFileSync(file, "utf8")
      } catch {
        return undefined
      }
      try {
        const r = JSON.parse(text) as NodeRecord
        if (typeof r.fingerprint !== "string" || typeof r.outputs !== "object" || typeof r.hash !== "string")
          throw new Error("missing fields")
        return r
      } catch (e) {
        warn(`damaged record ${file} set aside (${(e as Error).message}); its node will be rebuilt`)
        try {
          fs.renameSync(file, `${file}.damaged`)
        } catch {}
        return undefined
      }
    }

    const getRecord = (fp: string) =>
      Effect.sync(() => {
        const r = parseRecord(recordPath(fp))
        if (!r) return Option.none()
        for (const [name, out] of Object.entries(r.outputs)) {
          if (out.value !== undefined || out.ext === undefined) continue
          let ok = false
          try {
            ok = fs.statSync(objectPath(out.hash, out.ext)).size > 0
          } catch {}
          if (!ok) {
            warn(`record ${fp.slice(0, 12)} (${r.id}) points at a missing object for "${name}"; it will be rebuilt`)
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

    const readState = Effect.sync((): State => {
      let state: { nodes: Record<string, StateNode>; expansions: State["expansions"]; updatedAt: number } = {
        nodes: {},
        expansions: {},
        updatedAt: 0
      }
      try {
        const parsed = JSON.parse(fs.readFileSync(statePath, "utf8"))
        if (parsed && typeof parsed.nodes === "object") state = { ...state, ...parsed }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") warn(`state.json is damaged and was ignored; the build rebuilds the graph from records`)
      }
      // The journal holds nodes built since state.json was last written (a build that crashed or is running).
      let journal = ""
      try {
        journal = fs.readFileSync(journalPath, "utf8")
      } catch {}
      if (journal) {
        const lines = journal.split("\n")
        const nodes: Record<string, StateNode> = { ...state.nodes }
        state.nodes = nodes
        lines.forEach((line, i) => {
          if (!line.trim()) return
          try {
            const n = JSON.parse(line) as StateNode
            nodes[n.id] = n
          } catch {
            // A torn last line is what a crash mid-append leaves: expected, and harmless.
            if (i < lines.length - 1 || !journal.endsWith("\n"))
              warn(`journal line ${i + 1} is torn (an interrupted build); ignored`)
          }
        })
      }
      return state
    })

    const writeState = (state: State) =>
      Effect.gen(function* () {
        ensureDirs()
        yield* writeAtomic(statePath, JSON.stringify(state))
        yield* Effect.try({ try: () => fs.rmSync(journalPath, { force: true }), catch: fsError("remove", journalPath) })
      })

    const appendJournal = (node: StateNode) =>
      Effect.try({
        try: () => {
          ensureDirs()
          fs.appendFileSync(journalPath, JSON.stringify(node) + "\n")
        },
        catch: fsError("append to", journalPath)
      })

    const getInflight = (fp: string) =>
      Effect.sync(() => {
        try {
          return JSON.parse(fs.readFileSync(inflightPath(fp), "utf8")) as Json
        } catch {
          return undefined
        }
      })

    const collectGarbage = Effect.gen(function* () {
      const all = yield* records
      const keep = new Set<string>()
      for (const r of all) {
        for (const o of Object.values(r.outputs)) if (o.ext !== undefined) keep.add(path.basename(objectPath(o.hash, o.ext)))
        for (const t of r.takes ?? [])
          for (const o of Object.values(t.outputs)) if (o.ext !== undefined) keep.add(path.basename(objectPath(o.hash, o.ext)))
      }
      let removed = 0
      let bytes = 0
      if (fs.existsSync(dirs.objects)) {
        for (const shard of fs.readdirSync(dirs.objects)) {
          const dir = path.join(dirs.objects, shard)
          for (const f of fs.readdirSync(dir)) {
            if (keep.has(f)) continue
            const p = path.join(dir, f)
            bytes += fs.statSync(p).size
            yield* Effect.try({ try: () => fs.rmSync(p, { force: true }), catch: fsError("remove", p) })
            removed++
          }
        }
      }
      // Leftover temp files from crashed writes are garbage too.
      if (fs.existsSync(dirs.tmp))
        for (const f of fs.readdirSync(dirs.tmp)) {
          try {
            fs.rmSync(path.join(dirs.tmp, f), { force: true, recursive: true })
          } catch {}
        }
      return { removed, bytes }
    })

    const exists = (p: string) => (fs.statSync(p, { throwIfNoEntry: false })?.size ?? 0) > 0

    const hasRecordWith = (fp: string, outputs: Outputs) => {
      if (!exists(recordPath(fp))) return false
      for (const o of Object.values(outputs)) if (o.ext !== undefined && o.value === undefined && !exists(objectPath(o.hash, o.ext))) return false
      return true
    }

    return Store.of({
      root,
      hasRecordWith,
      objectPath,
      putFile,
      putBytes,
      hasObject,
      getRecord,
      putRecord: (r) => writeAtomic(recordPath(r.fingerprint), JSON.stringify(r, null, 1)),
      deleteRecord: (fp) =>
        Effect.try({ try: () => fs.rmSync(recordPath(fp), { force: true }), catch: fsError("remove", recordPath(fp)) }),
      records,
      readState,
      writeState,
      appendJournal,
      getInflight,
      putInflight: (fp, handle) => writeAtomic(inflightPath(fp), JSON.stringify(handle)),
      deleteInflight: (fp) =>
        Effect.sync(() => {
          try {
            fs.rmSync(inflightPath(fp), { force: true })
          } catch {}
        }),
      collectGarbage,
      writeJson: (relative, value) => writeAtomic(path.join(root, relative), JSON.stringify(value, null, 2)),
      readJson: (relative) =>
        Effect.sync(() => {
          try {
            return JSON.parse(fs.readFileSync(path.join(root, relative), "utf8")) as unknown
          } catch {
            return undefined
          }
        }),
      warnings: Effect.sync(() => warnings.splice(0))
    })
  })
