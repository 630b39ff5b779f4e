/**
 * The store with a remote cache behind it: the local store (disk or memory) wrapped, not replaced. Every
 * read and write goes to the local store first, as before; the remote adds two things.
 *
 * Read-through. A record missing locally is looked up in the remote (`ac/<fingerprint>.json`); the objects
 * it names are fetched (`cas/<sha256>`), hashed, and kept only if every byte matches, then the record is
 * written locally and returned: the scheduler counts it as a cache hit, with the money and time it saved.
 * The remote is not trusted: a record whose fingerprint is not the hash of its own data, whose output hash
 * does not follow from its outputs, or that names an object whose bytes do not hash to its name, is refused
 * with a warning and its node is built here.
 *
 * Write-behind. After a node's record is written locally (which the scheduler does only for a node that
 * succeeded), its objects and then its record are sent, in the background; the build does not wait for
 * them, except at its end (bounded: see `flushMs`). A record is sent only after every object it names, so
 * the remote, like the local store, never has a record that points at nothing.
 *
 * In-flight entries (a paid request's handle, written when the provider accepts it) are sent as soon as
 * they are written, with the objects they name (a kept answer), so a second machine that finds the node
 * unfinished collects the same request instead of paying for another one.
 *
 * Operations on one fingerprint are applied to the remote in the order they were made (record, then the
 * clearing of the in-flight entry); a read of a fingerprint waits for the writes to it already queued.
 *
 * A remote that fails (no connection, no answer within the call's budget, denied, no bucket) is dropped for
 * the rest of the layer's life after ONE warning line: the build goes on locally, pays no further time-outs,
 * and never fails because of the cache. What was not sent can be sent later (`storyshot cache push`).
 *
 * Secrets never leave the machine: any record, in-flight entry or object that contains one of the
 * configured secrets (providers' keys, the cache's own secret key) is not sent, with a warning.
 */
import * as fs from "node:fs"
import { Effect, Either, Exit, FiberSet, Layer, Option, type Scope } from "effect"
import * as Fingerprint from "../engine/Fingerprint.ts"
import { hashJson, sha256, type Json } from "../engine/Hash.ts"
import type { Outputs } from "../engine/Node.ts"
import { Store, type NodeRecord, type Service } from "../engine/Store.ts"
import type { Workspace } from "../Workspace.ts"
import { budgetFor, RemoteCache, type Remote, type RemoteCacheError } from "./Remote.ts"
import * as Settings from "./Settings.ts"

export interface Options {
  /** Secrets that must never be sent. */
  readonly secrets: ReadonlyArray<string>
  /** One line for the person, printed as it happens (the build's Warning event). */
  readonly warn: (message: string) => void
  /** Default true. False: every write waits for its upload (the contract suite, `cache push`). */
  readonly writeBehind?: boolean | undefined
  /** How long the end of a build waits for uploads still running (default 120 s). */
  readonly flushMs?: number | undefined
  /** Budget of one small call, as in the settings (objects get more by size). */
  readonly timeoutMs: number
  /** Called after each key is written to the remote (progress displays; tests that damage what was sent). */
  readonly onSent?: ((key: string) => void) | undefined
}

/** What the remote did for this layer, for `storyshot cache` and the tests. */
export interface Stats {
  recordsFetched: number
  objectsFetched: number
  bytesFetched: number
  recordsSent: number
  objectsSent: number
  bytesSent: number
  inflightSent: number
  inflightFetched: number
  /** Records and objects refused (damaged, not matching their hash, or naming what the remote lacks). */
  refused: number
  /** Set once the remote failed: why, as the warning said. */
  down: string | undefined
}

export interface RemoteStore {
  readonly store: Service
  readonly stats: Stats
  /** Waits (up to `flushMs`) for every upload queued so far. */
  readonly flush: Effect.Effect<void>
  /** Sends one local record (and its objects) now; false when it could not be (down, missing, secret). */
  readonly push: (record: NodeRecord) => Effect.Effect<boolean>
  /** Fetches one remote record (and its objects) into the local store, verified; none when it could not be. */
  readonly pull: (fingerprint: string) => Effect.Effect<Option.Option<NodeRecord>>
}

/** The local store's layer, with the remote (`RemoteCache`) behind it. */
export const layer = <E, R>(local: Layer.Layer<Store, E, R>, options: Options): Layer.Layer<Store, E, R | RemoteCache> =>
  Layer.scoped(
    Store,
    Effect.gen(function* () {
      const made = yield* make(yield* Store, yield* RemoteCache, options)
      return made.store
    })
  ).pipe(Layer.provide(local))

/**
 * The store a build of this workspace uses: the disk store, with the remote cache behind it when one is
 * configured (else the disk store alone, and the AWS SDK is never loaded).
 */
export const forWorkspace = (
  ws: Pick<Workspace, "env" | "config" | "storeDir">,
  hooks: { readonly warn: (message: string) => void; readonly secrets: ReadonlyArray<string> }
): Layer.Layer<Store, Settings.RemoteCacheConfigError> => {
  const settings = Settings.fromWorkspace(ws, hooks.secrets)
  if (Either.isLeft(settings)) return Layer.fail(settings.left)
  const local = Store.layer(ws.storeDir)
  if (settings.right === undefined) return local
  return layer(local, { secrets: settings.right.secrets, warn: hooks.warn, timeoutMs: settings.right.timeoutMs }).pipe(
    Layer.provide(RemoteCache.layerS3(settings.right))
  )
}

// ---------------------------------------------------------------------------------------------------------

export const recordKey = (fingerprint: string) => `ac/${fingerprint}.json`
export const objectKey = (hash: string) => `cas/${hash}`
export const inflightKey = (fingerprint: string) => `inflight/${fingerprint}.json`

const hex64 = /^[0-9a-f]{64}$/
/** An object's extension becomes part of a local file name: nothing but a short plain word. */
const safeExt = /^[a-z0-9]{1,10}$/

/** File outputs of a record (value outputs travel inside the record). */
const fileOutputs = (outputs: Outputs) =>
  Object.entries(outputs).flatMap(([name, o]) => (o.value === undefined && o.ext !== undefined ? [{ name, hash: o.hash, ext: o.ext, size: o.size }] : []))

/** The record as the remote keeps it: older takes are this machine's history, not the result. */
const shared = (r: NodeRecord): NodeRecord => {
  const { takes: _takes, ...rest } = r
  return rest
}

/**
 * A record from the remote, checked before anything is fetched for it; a string says why it is refused.
 * Its fingerprint must be the hash of its own data (so it answers the question that was asked), its output
 * hash must follow from its outputs, value outputs must hash right, and file outputs must name objects by
 * a well-formed hash and a plain extension.
 */
export const checkRecord = (fingerprint: string, bytes: Uint8Array): NodeRecord | string => {
  let r: NodeRecord
  try {
    r = JSON.parse(Buffer.from(bytes).toString("utf8")) as NodeRecord
  } catch {
    return "it does not parse"
  }
  if (typeof r !== "object" || r === null || typeof r.outputs !== "object" || r.outputs === null || typeof r.data !== "object" || r.data === null)
    return "fields are missing"
  if (r.fingerprint !== fingerprint) return "it is kept under another fingerprint"
  if (Fingerprint.of(r.data) !== fingerprint) return "its fingerprint is not the hash of its data"
  for (const [name, o] of Object.entries(r.outputs)) {
    if (typeof o !== "object" || o === null || typeof o.hash !== "string") return `output "${name}" has no hash`
    if (o.value !== undefined) {
      if (hashJson(o.value) !== o.hash) return `output "${name}" does not match its hash`
    } else if (o.ext !== undefined && (!hex64.test(o.hash) || !safeExt.test(o.ext))) return `output "${name}" names no valid object`
  }
  if (hashJson(Object.fromEntries(Object.entries(r.outputs).map(([k, o]) => [k, o.hash]))) !== r.hash) return "its hash does not follow from its outputs"
  if (typeof r.cost !== "object" || r.cost === null) return "it has no cost"
  return shared(r)
}

/** Every `{hash, ext}` pair in a JSON value: the objects an in-flight entry names (a kept answer). */
const refsOf = (value: unknown, into: Array<{ hash: string; ext: string }> = []) => {
  if (Array.isArray(value)) for (const v of value) refsOf(v, into)
  else if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>
    if (typeof o.hash === "string" && typeof o.ext === "string") into.push({ hash: o.hash, ext: o.ext })
    for (const v of Object.values(o)) refsOf(v, into)
  }
  return into
}

/** The entry without the references whose objects could not be had (the request id alone still re-attaches). */
const withoutRefs = (value: Json, missing: ReadonlySet<string>): Json => {
  if (Array.isArray(value)) return value.map((v) => withoutRefs(v, missing))
  if (value !== null && typeof value === "object") {
    const out: Record<string, Json> = {}
    for (const [k, v] of Object.entries(value as Record<string, Json>)) {
      const ref = v as { hash?: unknown; ext?: unknown } | null
      if (ref !== null && typeof ref === "object" && typeof ref.hash === "string" && typeof ref.ext === "string" && missing.has(ref.hash)) continue
      out[k] = withoutRefs(v, missing)
    }
    return out
  }
  return value
}


export const make = (local: Service, remote: Remote, options: Options): Effect.Effect<RemoteStore, never, Scope.Scope> =>
  Effect.gen(function* () {
    const writeBehind = options.writeBehind !== false
    const flushMs = options.flushMs ?? 120_000
    // Detached work (fetches that outlive the synchronous fast path's look-up, uploads that outlive the
    // node) runs in fibers owned by this layer: interrupted when it closes, after the flush below.
    const runtime = yield* FiberSet.makeRuntimePromise<never>()
    const permits = yield* Effect.makeSemaphore(8)
    const stats: Stats = {
      recordsFetched: 0,
      objectsFetched: 0,
      bytesFetched: 0,
      recordsSent: 0,
      objectsSent: 0,
      bytesSent: 0,
      inflightSent: 0,
      inflightFetched: 0,
      refused: 0,
      down: undefined
    }
    /** Per fingerprint: the last remote write queued for it (reads of it wait for it). */
    const chains = new Map<string, Promise<void>>()
    const pending = new Set<Promise<unknown>>()
    const fetches = new Map<string, Promise<Option.Option<NodeRecord>>>()
    /** Fingerprints the remote has no (usable) record of, this run. */
    const misses = new Set<string>()
    /** Objects known to be in the remote, and objects whose remote copy was refused (sent again, overwriting). */
    const present = new Set<string>()
    const bad = new Set<string>()
    /** In-flight entries this layer sent or fetched: the ones to clear in the remote when the node is done. */
    const remoteInflight = new Set<string>()

    const hasSecret = (bytes: Uint8Array) => {
      const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      return options.secrets.some((s) => buffer.includes(s))
    }

    /** One remote call: none once the remote is down, and the first failure takes it down (one warning). */
    const op = <A>(effect: Effect.Effect<A, RemoteCacheError>): Effect.Effect<Option.Option<A>> =>
      Effect.suspend(() =>
        stats.down !== undefined
          ? Effect.succeed(Option.none<A>())
          : permits.withPermits(1)(effect).pipe(
              Effect.map(Option.some),
              Effect.catchAll((e) =>
                Effect.sync(() => {
                  if (stats.down === undefined) {
                    stats.down = e.message
                    options.warn(`remote cache unavailable (${e.message}); building on without it: nothing more is fetched from it or sent to it this run`)
                  }
                  return Option.none<A>()
                })
              )
            )
      )

    /** Runs `work` detached, after what is queued for `fingerprint`; the promise settles when it is done. */
    const chain = (fingerprint: string, work: Effect.Effect<unknown>): Promise<void> => {
      const previous = chains.get(fingerprint) ?? Promise.resolve()
      const next = previous.then(() => runtime(work)).then(
        () => undefined,
        () => undefined
      )
      chains.set(fingerprint, next)
      pending.add(next)
      void next.finally(() => {
        pending.delete(next)
        if (chains.get(fingerprint) === next) chains.delete(fingerprint)
      })
      return next
    }

    /** Queues a write; with write-behind the caller goes on at once, otherwise it waits for it. */
    const send = (fingerprint: string, work: Effect.Effect<unknown>) =>
      Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
        const done = chain(fingerprint, Option.isSome(span) ? Effect.withParentSpan(work, span.value) : work)
        return writeBehind ? Effect.void : Effect.promise(() => done)
      })

    const queued = (fingerprint: string) => Effect.promise(() => chains.get(fingerprint) ?? Promise.resolve())

    // --- sending -------------------------------------------------------------------------------------

    /** Sends one local object unless the remote has it; false when it is not there afterwards. */
    const sendObject = (hash: string, ext: string) =>
      Effect.gen(function* () {
        if (present.has(hash) && !bad.has(hash)) return true
        if (!bad.has(hash)) {
          const there = yield* op(remote.has(objectKey(hash)))
          if (Option.isNone(there)) return false
          if (there.value) {
            present.add(hash)
            return true
          }
        }
        let bytes: Uint8Array
        try {
          bytes = fs.readFileSync(local.objectPath(hash, ext))
        } catch {
          return false
        }
        // Our own copy must be right too: a damaged local object is never shared.
        if (sha256(bytes) !== hash) return false
        if (hasSecret(bytes)) {
          options.warn(`remote cache: object ${hash.slice(0, 12)}… contains a secret (a key) and was not sent`)
          return false
        }
        const sent = yield* op(remote.put(objectKey(hash), bytes, "application/octet-stream", budgetFor(options, bytes.length)))
        if (Option.isNone(sent)) return false
        options.onSent?.(objectKey(hash))
        present.add(hash)
        bad.delete(hash)
        stats.objectsSent++
        stats.bytesSent += bytes.length
        return true
      })

    const sendJson = (key: string, what: string, value: unknown) =>
      Effect.gen(function* () {
        const bytes = Buffer.from(JSON.stringify(value))
        if (hasSecret(bytes)) {
          options.warn(`remote cache: ${what} contains a secret (a key) and was not sent`)
          return false
        }
        if (Option.isNone(yield* op(remote.put(key, bytes, "application/json")))) return false
        options.onSent?.(key)
        return true
      })

    /** A record goes up after every object it names, or not at all. */
    const sendRecord = (r: NodeRecord) =>
      Effect.gen(function* () {
        for (const o of fileOutputs(r.outputs)) if (!(yield* sendObject(o.hash, o.ext))) return false
        if (!(yield* sendJson(recordKey(r.fingerprint), `the record of ${r.id}`, shared(r)))) return false
        misses.delete(r.fingerprint)
        stats.recordsSent++
        return true
      })

    const sendInflight = (fingerprint: string, handle: Json) =>
      Effect.gen(function* () {
        for (const ref of refsOf(handle)) if (safeExt.test(ref.ext) && hex64.test(ref.hash)) yield* sendObject(ref.hash, ref.ext)
        if (yield* sendJson(inflightKey(fingerprint), `the in-flight entry ${fingerprint.slice(0, 12)}`, handle)) stats.inflightSent++
      })

    // --- fetching ------------------------------------------------------------------------------------

    /** Fetches one object into the local store; why not, when its bytes cannot be had or do not match. */
    const fetchObject = (hash: string, ext: string, size: number | undefined, what: string) =>
      Effect.gen(function* () {
        if (yield* local.hasObject(hash, ext)) return undefined
        const got = yield* op(remote.get(objectKey(hash), budgetFor(options, size)))
        if (Option.isNone(got)) return "down"
        const bytes = got.value
        if (bytes === undefined) {
          stats.refused++
          options.warn(`remote cache: ${what} is missing from the cache (${hash.slice(0, 12)}…); built here`)
          return "missing"
        }
        const actual = sha256(bytes)
        if (actual !== hash || (size !== undefined && bytes.length !== size)) {
          stats.refused++
          bad.add(hash)
          options.warn(
            `remote cache: ${what} does not match its hash (${bytes.length} bytes hashing to ${actual.slice(0, 12)}…, expected ${hash.slice(0, 12)}…${size !== undefined ? `, ${size} bytes` : ""}): refused; built here`
          )
          return "refused"
        }
        const stored = yield* Effect.either(local.putBytes(bytes, ext))
        if (stored._tag === "Left") return "local"
        stats.objectsFetched++
        stats.bytesFetched += bytes.length
        present.add(hash)
        return undefined
      })

    const fetchRecord = (fingerprint: string): Effect.Effect<Option.Option<NodeRecord>> =>
      Effect.gen(function* () {
        const got = yield* op(remote.get(recordKey(fingerprint)))
        if (Option.isNone(got)) return Option.none()
        if (got.value === undefined) {
          misses.add(fingerprint)
          return Option.none()
        }
        const r = checkRecord(fingerprint, got.value)
        if (typeof r === "string") {
          misses.add(fingerprint)
          stats.refused++
          options.warn(`remote cache: the record ${fingerprint.slice(0, 12)}… is refused (${r}); its node is built here`)
          return Option.none()
        }
        for (const o of fileOutputs(r.outputs)) {
          const failed = yield* fetchObject(o.hash, o.ext, o.size, `${r.id}'s "${o.name}"`)
          if (failed !== undefined) {
            if (failed !== "down" && failed !== "local") misses.add(fingerprint)
            return Option.none()
          }
        }
        const written = yield* Effect.either(local.putRecord(r))
        if (written._tag === "Left") return Option.none()
        stats.recordsFetched++
        return yield* local.getRecord(fingerprint)
      }).pipe(Effect.withSpan("RemoteCache.fetchRecord", { attributes: { "cache.fingerprint": fingerprint } }))

    /** One fetch per fingerprint at a time, detached: a look-up that gives up waiting does not stop it. */
    const pull = (fingerprint: string): Effect.Effect<Option.Option<NodeRecord>> =>
      Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
        let p = fetches.get(fingerprint)
        if (!p) {
          const work = Option.isSome(span) ? Effect.withParentSpan(fetchRecord(fingerprint), span.value) : fetchRecord(fingerprint)
          // Never rejects: a fetch stopped with the layer is a miss, not a defect of the look-up that waits.
          p = (chains.get(fingerprint) ?? Promise.resolve()).then(() => runtime(work)).catch(() => Option.none<NodeRecord>())
          fetches.set(fingerprint, p)
          const mine = p
          void p.finally(() => {
            if (fetches.get(fingerprint) === mine) fetches.delete(fingerprint)
          })
        }
        const wait = p
        return Effect.promise(() => wait)
      })

    const fetchInflight = (fingerprint: string): Effect.Effect<Json | undefined> =>
      Effect.gen(function* () {
        yield* queued(fingerprint)
        const got = yield* op(remote.get(inflightKey(fingerprint)))
        if (Option.isNone(got) || got.value === undefined) return undefined
        let handle: Json
        try {
          handle = JSON.parse(Buffer.from(got.value).toString("utf8")) as Json
        } catch {
          return undefined
        }
        const missing = new Set<string>()
        for (const ref of refsOf(handle)) {
          if (!safeExt.test(ref.ext) || !hex64.test(ref.hash)) {
            missing.add(ref.hash)
            continue
          }
          if ((yield* fetchObject(ref.hash, ref.ext, undefined, `a kept answer of in-flight request ${fingerprint.slice(0, 12)}…`)) !== undefined) missing.add(ref.hash)
        }
        const kept = missing.size > 0 ? withoutRefs(handle, missing) : handle
        yield* Effect.ignore(local.putInflight(fingerprint, kept))
        remoteInflight.add(fingerprint)
        stats.inflightFetched++
        return kept
      })

    // --- the service ---------------------------------------------------------------------------------

    const getRecord = (fingerprint: string) =>
      Effect.flatMap(local.getRecord(fingerprint), (found) =>
        Option.isSome(found) || stats.down !== undefined || misses.has(fingerprint) ? Effect.succeed(found) : pull(fingerprint)
      )

    const flushWithin = (budgetMs: number) => Effect.suspend(() => {
      const all = () => Promise.all([...pending])
      const started = Date.now()
      const loop: Effect.Effect<void> = Effect.suspend(() =>
        pending.size === 0 ? Effect.void : Effect.flatMap(Effect.promise(all), () => loop)
      )
      return loop.pipe(
        Effect.timeoutOption(budgetMs),
        Effect.flatMap((done) =>
          Effect.sync(() => {
            if (Option.isNone(done) && pending.size > 0)
              options.warn(
                `remote cache: ${pending.size} upload(s) still running after ${Math.round((Date.now() - started) / 1000)} s were stopped; \`storyshot cache push\` sends them`
              )
          })
        )
      )
    })
    const flush = flushWithin(flushMs)
    // Registered after the fibers' set, so it runs first: uploads get their chance before they are stopped.
    // A build stopped by Ctrl-C waits a few seconds only (what is not sent, `cache push` sends later).
    yield* Effect.addFinalizer((exit) => flushWithin(Exit.isInterrupted(exit) ? Math.min(flushMs, 5_000) : flushMs))

    const store: Service = {
      ...local,
      getRecord,
      putRecord: (r) => Effect.zipRight(local.putRecord(r), send(r.fingerprint, sendRecord(r))),
      deleteRecord: (fingerprint) =>
        Effect.zipRight(
          local.deleteRecord(fingerprint),
          Effect.suspend(() => {
            misses.delete(fingerprint)
            return send(fingerprint, op(remote.remove(recordKey(fingerprint))))
          })
        ),
      getInflight: (fingerprint) =>
        Effect.flatMap(local.getInflight(fingerprint), (handle) =>
          handle !== undefined || stats.down !== undefined ? Effect.succeed(handle) : fetchInflight(fingerprint)
        ),
      putInflight: (fingerprint, handle) =>
        Effect.zipRight(
          local.putInflight(fingerprint, handle),
          Effect.suspend(() => {
            // Marked now: a clear that comes before the upload is done is queued after it.
            remoteInflight.add(fingerprint)
            return send(fingerprint, sendInflight(fingerprint, handle))
          })
        ),
      deleteInflight: (fingerprint) =>
        Effect.zipRight(
          local.deleteInflight(fingerprint),
          Effect.suspend(() => {
            if (!remoteInflight.delete(fingerprint)) return Effect.void
            return send(fingerprint, op(remote.remove(inflightKey(fingerprint))))
          })
        ),
      // An entry cleared here because its record exists is stale in the remote too.
      housekeep: Effect.flatMap(local.housekeep, (done) =>
        Effect.as(
          Effect.forEach(done.inflightCleared, (fingerprint) => send(fingerprint, op(remote.remove(inflightKey(fingerprint)))), { discard: true }),
          done
        )
      )
    }

    return {
      store,
      stats,
      flush,
      push: (r) => Effect.promise(() => chain(r.fingerprint, Effect.void)).pipe(Effect.zipRight(Effect.suspend(() => sendRecord(r)))),
      pull: (fingerprint) => Effect.flatMap(local.getRecord(fingerprint), (found) => (Option.isSome(found) ? Effect.succeed(found) : pull(fingerprint)))
    } satisfies RemoteStore
  })


