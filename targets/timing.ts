/**
 * Two small free nodes between the narration and what it decides (DESIGN.md, the money rule):
 *   `sentence:N:shots`  — the shot count. Prompts (paid) depend on it alone, so re-voicing a sentence that
 *                         keeps its count stops here (early cutoff).
 *   `sentence:N:timing` — each shot's length in frames. Only the mux (and free draft renders) read it.
 */
import { Effect, Schema } from "effect"
import type { BuiltLookup, NodeSpec, RunContext } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import { defineRule } from "./Rule.ts"
import { shotCount, shotFrames } from "./shotRule.ts"

export const version = 1

const ShotsRecipe = Schema.Struct({ shotSeconds: Schema.Number })
const TimingRecipe = Schema.Struct({ shotSeconds: Schema.Number, fps: Schema.Number })

export const shotsNode = (n: number, shotSeconds: number): NodeSpec => ({
  id: ids.shots(n),
  kind: kinds.shots,
  stage: "timing",
  version,
  recipe: { shotSeconds } satisfies typeof ShotsRecipe.Type,
  deps: [{ id: ids.audio(n), output: "duration" }]
})

export const timingNode = (n: number, shotSeconds: number, fps: number): NodeSpec => ({
  id: ids.timing(n),
  kind: kinds.timing,
  stage: "timing",
  version,
  recipe: { shotSeconds, fps } satisfies typeof TimingRecipe.Type,
  deps: [{ id: ids.audio(n), output: "duration" }]
})

/** The narration's measured length, in seconds (the audio rule's `duration` output). */
const durationOf = (node: NodeSpec, built: Pick<BuiltLookup, "value"> | RunContext): number => {
  const d = built.value(node.deps[0]!.id, "duration")
  if (typeof d !== "number") throw new Error(`${node.id}: the narration's duration is ${String(d)}, not a number`)
  return d
}

export const shotsRule = defineRule({
  kind: kinds.shots,
  recipe: ShotsRecipe,
  pool: "local",
  guess: (recipe, node, built) => ({ count: shotCount(durationOf(node, built), recipe.shotSeconds) }),
  run: (ctx) => Effect.sync(() => ({ count: { value: shotCount(durationOf(ctx.node, ctx), ctx.recipe.shotSeconds) } }))
})

export const timingRule = defineRule({
  kind: kinds.timing,
  recipe: TimingRecipe,
  pool: "local",
  run: (ctx) =>
    Effect.sync(() => {
      const frames = shotFrames(durationOf(ctx.node, ctx), ctx.recipe.fps, ctx.recipe.shotSeconds)
      return {
        frames: { value: [...frames] },
        ...Object.fromEntries(frames.map((f, i) => [String(i + 1), { value: f }]))
      }
    })
})
