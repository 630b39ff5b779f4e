/**
 * Two small free nodes between the narration and what it decides (DESIGN.md, the money rule):
 *   `sentence:N:shots`  — the shot count. Prompts (paid) depend on it alone, so re-voicing a sentence that
 *                         keeps its count stops here (early cutoff).
 *   `sentence:N:timing` — each shot's length in frames. Only the mux (and free draft renders) read it.
 */
import { Effect } from "effect"
import type { NodeSpec, Rule } from "../src/engine/Node.ts"
import { ids, kinds } from "./Settings.ts"
import { shotCount, shotFrames } from "./shotRule.ts"

export const version = 1

export const shotsNode = (n: number, shotSeconds: number): NodeSpec => ({
  id: ids.shots(n),
  kind: kinds.shots,
  stage: "timing",
  version,
  recipe: { shotSeconds },
  deps: [{ id: ids.audio(n), output: "duration" }]
})

export const timingNode = (n: number, shotSeconds: number, fps: number): NodeSpec => ({
  id: ids.timing(n),
  kind: kinds.timing,
  stage: "timing",
  version,
  recipe: { shotSeconds, fps },
  deps: [{ id: ids.audio(n), output: "duration" }]
})

const durationOf = (ctx: Parameters<Rule["run"]>[0]) => Number(ctx.value(ctx.node.deps[0]!.id, "duration"))

export const shotsRule: Rule = {
  kind: kinds.shots,
  pool: () => "local",
  paid: () => false,
  guess: (node, built) => ({
    count: shotCount(Number(built.value(node.deps[0]!.id, "duration")), Number(node.recipe.shotSeconds))
  }),
  run: (ctx) =>
    Effect.sync(() => ({ count: { value: shotCount(durationOf(ctx), Number(ctx.node.recipe.shotSeconds)) } }))
}

export const timingRule: Rule = {
  kind: kinds.timing,
  pool: () => "local",
  paid: () => false,
  run: (ctx) =>
    Effect.sync(() => {
      const frames = shotFrames(durationOf(ctx), Number(ctx.node.recipe.fps), Number(ctx.node.recipe.shotSeconds))
      return {
        frames: { value: [...frames] },
        ...Object.fromEntries(frames.map((f, i) => [String(i + 1), { value: f }]))
      }
    })
}
