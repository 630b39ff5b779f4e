/**
 * A node's journal (src/providers/Keep.ts) on what the engine offers: the node's in-flight entry (one small
 * JSON file per fingerprint, fsynced) and `Store.putBytes` (content-addressed, fsynced). The entry holds the
 * notes (e.g. fal's handle, top level, as earlier builds wrote it) and one `{hash, ext}` per kept answer, so
 * the engine's housekeeping knows which objects it must not delete (contract 3).
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import type { Json } from "../src/engine/Hash.ts"
import type { RunContext } from "../src/engine/Node.ts"
import { Store } from "../src/engine/Store.ts"
import type { Journal, Kept } from "../src/providers/Keep.ts"

interface Ref {
  readonly hash: string
  readonly ext: string
}

const isRef = (v: unknown): v is Ref =>
  typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as Ref).hash === "string" && typeof (v as Ref).ext === "string" && Object.keys(v).length === 2

/** Journal writes never fail the call they protect: an answer that cannot be kept (a full disk) is still used
 *  from memory, and the record's own write says what is wrong with the disk. */
const quietly = (effect: Effect.Effect<void, unknown>) => effect.pipe(Effect.catchAllCause(() => Effect.void))

export const of = (ctx: RunContext): Effect.Effect<Journal, never, Store> =>
  Effect.gen(function*() {
    const store = yield* Store
    const initial = yield* ctx.inflight.get
    let entry: Record<string, Json> =
      typeof initial === "object" && initial !== null && !Array.isArray(initial) ? { ...(initial as Record<string, Json>) } : {}
    const write = quietly(Effect.suspend(() => ctx.inflight.set(entry)))
    const read = Effect.sync((): Kept => {
      const notes: Record<string, Json> = {}
      for (const [k, v] of Object.entries(entry)) if (!isRef(v)) notes[k] = v
      const snapshot = entry
      return {
        notes,
        answer: (name) => {
          const ref = snapshot[name]
          if (!isRef(ref)) return undefined
          try {
            return new Uint8Array(fs.readFileSync(store.objectPath(ref.hash, ref.ext)))
          } catch {
            return undefined
          }
        }
      }
    })
    return {
      read,
      keep: (name, bytes, ext, notes) =>
        quietly(
          store.putBytes(bytes, ext).pipe(
            Effect.flatMap(({ hash }) =>
              Effect.suspend(() => {
                const next: Record<string, Json> = { ...entry, [name]: { hash, ext } }
                for (const [k, v] of Object.entries(notes ?? {})) if (v === undefined) delete next[k]
                else next[k] = v
                entry = next
                return ctx.inflight.set(entry)
              })
            )
          )
        ),
      note: (fields) =>
        Effect.suspend(() => {
          const next = { ...entry }
          for (const [k, v] of Object.entries(fields)) if (v === undefined) delete next[k]
          else next[k] = v
          entry = next
          return write
        }),
      drop: (names) =>
        Effect.suspend(() => {
          const next = { ...entry }
          for (const n of names) delete next[n]
          entry = next
          return write
        }),
      forget: Effect.suspend(() => {
        entry = {}
        return ctx.inflight.clear
      })
    } satisfies Journal
  })
