/**
 * Seeds, wherever a provider takes one, so a take can be reproduced: the same seed and prompt find the same
 * picture (on a deterministic server such as AUTOMATIC1111), and a new take draws a new seed.
 *
 * - The recipe holds the pinned seed (`image.seed` in the config), or null: then the seed is derived from the
 *   node's fingerprint, which already holds every input (recipe, prompt, references). The same inputs give the
 *   same seed on any machine, and changing a setting back finds the old picture again.
 * - `build --force` on a node that has a record makes a new take: the seed is derived again from the take's
 *   number, so each take has its own seed, and every take's seed is known.
 * - The seed used is kept in the record, as the node's `seed` output (and the provider's echo of it wins).
 */
import { Effect, Option } from "effect"
import type { RunContext } from "../src/engine/Node.ts"
import { Store } from "../src/engine/Store.ts"

/** A seed in [0, 2^31 - 1) from a text (FNV-1a, then folded). */
export const derive = (text: string): number => {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0
  return h % 2147483647
}

/** The seed this run of the node sends. */
export const seedFor = (ctx: RunContext, pinned: number | null): Effect.Effect<number, never, Store> =>
  Effect.gen(function*() {
    const store = yield* Store
    const record = yield* store.getRecord(ctx.fingerprint)
    // A node that runs while its record exists is making a new take (--force).
    const take = Option.isSome(record) ? (record.value.takes?.length ?? 0) + 1 : 0
    const base = pinned ?? derive(ctx.fingerprint)
    return take === 0 ? base : derive(`${base}:take ${take}`)
  })
