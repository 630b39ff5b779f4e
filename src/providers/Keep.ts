/**
 * Nothing paid for is lost to a crash: a node's journal keeps, in the store, what a paid request returned the
 * moment it returned it, and hands it to the next build, which uses it instead of paying again.
 *
 * What is kept, by name:
 *   notes        small facts, e.g. fal's request handle (`requestId`, `statusUrl`, ...), written at submit
 *   "submit"     the raw bytes of fal's submit answer (before it is decoded into the handle)
 *   "answer"     the raw bytes of the paid answer: OpenAI's base64 image JSON, fal's result JSON, the LLM's JSON
 *   "repair"     the LLM's second answer, when the first needed a repair
 *   "file"       an output file downloaded from the provider (fal's audio or clip)
 * Decoding and checking come after the bytes are kept; the window a kill can still lose is the network round
 * trip itself (the README gives the measured time of the keep).
 *
 * `targets/Journal.ts` implements this on the node's in-flight entry and `Store.putBytes` (the engine keeps
 * every object an in-flight entry names, and clears the entry once the node's record is written).
 */
import { Effect } from "effect"
import type { Json } from "../engine/Hash.ts"

export interface Kept {
  readonly notes: { readonly [name: string]: Json }
  /** The kept bytes of an answer, when an earlier run received it. */
  readonly answer: (name: string) => Uint8Array | undefined
}

export interface Journal {
  readonly read: Effect.Effect<Kept>
  /** Stores the bytes (fsynced) and names them in the in-flight entry, with `notes` in the same write. */
  readonly keep: (name: string, bytes: Uint8Array, ext: string, notes?: { readonly [name: string]: Json | undefined }) => Effect.Effect<void>
  /** Adds small facts to the in-flight entry (e.g. the fal handle, a lost payment). */
  readonly note: (fields: { readonly [name: string]: Json | undefined }) => Effect.Effect<void>
  /** Drops kept answers (they were found unusable) but keeps the notes. */
  readonly drop: (names: ReadonlyArray<string>) => Effect.Effect<void>
  /** Forgets everything (a request cancelled before it started: there is nothing to collect). */
  readonly forget: Effect.Effect<void>
}

export const emptyKept: Kept = { notes: {}, answer: () => undefined }

/** A journal that keeps nothing: for an adapter used on its own (tests, `storyshot models`). */
export const none: Journal = {
  read: Effect.succeed(emptyKept),
  keep: () => Effect.void,
  note: () => Effect.void,
  drop: () => Effect.void,
  forget: Effect.void
}

/** An in-memory journal, for tests: what a crash would have left on disk, without the disk. */
export const memory = (): Journal & { readonly entries: Map<string, Uint8Array>; readonly facts: Record<string, Json> } => {
  const entries = new Map<string, Uint8Array>()
  const facts: Record<string, Json> = {}
  return {
    entries,
    facts,
    read: Effect.sync(() => ({ notes: { ...facts }, answer: (name: string) => entries.get(name) })),
    keep: (name, bytes, _ext, notes) =>
      Effect.sync(() => {
        entries.set(name, bytes)
        for (const [k, v] of Object.entries(notes ?? {})) if (v === undefined) delete facts[k]
        else facts[k] = v
      }),
    note: (fields) =>
      Effect.sync(() => {
        for (const [k, v] of Object.entries(fields)) if (v === undefined) delete facts[k]
        else facts[k] = v
      }),
    drop: (names) => Effect.sync(() => names.forEach((n) => entries.delete(n))),
    forget: Effect.sync(() => {
      entries.clear()
      for (const k of Object.keys(facts)) delete facts[k]
    })
  }
}

/** How a paid call tells the build what it does when the build is stopped. */
export interface Follow {
  readonly journal: Journal
  /** Stopped while a paid answer is on its way (it is being made and billed): the call waits for it. */
  readonly onWaiting?: ((what: string) => Effect.Effect<void>) | undefined
  /** Stopped while the provider works on the request: its handle stays kept for the next build. */
  readonly onKept?: ((what: string) => Effect.Effect<void>) | undefined
  /**
   * Runs the part of a call in which the provider works on the request (fal: from the submit to its result),
   * in the provider's slot; what comes before and after it (an upload, a download) runs outside it, so a
   * slot is held only while the provider works. Without it, everything runs where the call runs.
   */
  readonly working?: (<A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) | undefined
  /** How long the provider typically takes on such a request, in ms (past records): the first poll then. */
  readonly typicalMs?: number | undefined
}

export const followNothing: Follow = { journal: none }

/**
 * Runs a paid request that cannot be taken back once sent: interrupting the build does not abort it (that
 * would throw away what is being billed) but waits for its answer, which `keep` stores, and says so through
 * `onWaiting`. A second Ctrl-C quits the process at once (src/bin.ts).
 */
export const finishPaid = <A, E, R>(call: Effect.Effect<A, E, R>, onWaiting: Effect.Effect<void>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkDaemon(call)
    const exit = yield* fiber.await.pipe(
      Effect.onInterrupt(() => onWaiting.pipe(Effect.zipRight(fiber.await)))
    )
    return yield* exit
  })
