/**
 * `sentence:N:mux`: the sentence's clips, each cut to its shot's frames, joined, with the narration laid
 * over and the whole cut to the shorter of the two. Exact durations live here and nowhere upstream.
 *
 * The shots of sentence N are known only once its narration is measured, and their film-wide numbers K once
 * every earlier sentence's shot count is: the mux expands after `sentence:1..N:shots` (dynamic dependencies).
 * Those counts only place the shots; the mux's fingerprint holds its own clips, narration and timing. The
 * image and video implementations of the shots are the ones the config picked (`registry.ts`).
 */
import * as path from "node:path"
import { Effect, Schema } from "effect"
import type { Dep, NodeSpec } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import { muxSentence } from "../src/media/Assemble.ts"
import { verifyMedia } from "../src/media/Verify.ts"
import { pick } from "./registry.ts"
import { defineRule, type PlanContext } from "./Rule.ts"

export const version = 1

const Recipe = Schema.Struct({ width: Schema.Number, height: Schema.Number, fps: Schema.Number })

const countOf = (value: unknown, id: string): number => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) throw new Error(`${id}: shot count ${String(value)} is not a whole number`)
  return value
}

/**
 * The first shot number of each sentence, from the shot counts (which are built before any mux expands):
 * kept per build's lookup, so the muxes of a long film do not each add up every earlier count again (that was
 * quadratic in the sentences: 326,000 look-ups for 808 of them).
 */
const firsts = new WeakMap<object, Array<number>>()
const firstShotOf = (built: { readonly value: (id: string, output: string) => unknown }, n: number): number => {
  let known = firsts.get(built)
  if (!known) firsts.set(built, (known = [0, 1]))
  for (let i = known.length; i <= n; i++) known[i] = known[i - 1]! + countOf(built.value(ids.shots(i - 1), "count"), ids.shots(i - 1))
  return known[n]!
}

/** `sentence:1..N:shots`, one list for every mux (each takes a prefix of it). */
const shotIds: Array<string> = []
const shotsUpTo = (n: number) => {
  for (let i = shotIds.length + 1; i <= n; i++) shotIds.push(ids.shots(i))
  return shotIds.slice(0, n)
}

export const node = (n: number, sentences: ReadonlyArray<string>, plan: PlanContext): NodeSpec => {
  const image = pick("image", plan.config)
  const video = pick("video", plan.config)
  return {
    id: ids.mux(n),
    kind: kinds.mux,
    stage: "mux",
    version,
    recipe: { width: plan.config.width, height: plan.config.height, fps: plan.config.fps } satisfies typeof Recipe.Type,
    deps: [
      { id: ids.audio(n), output: "audio" },
      { id: ids.timing(n), output: "frames" }
    ],
    after: shotsUpTo(n),
    expand: (built) => {
      const first = firstShotOf(built, n)
      const count = countOf(built.value(ids.shots(n), "count"), ids.shots(n))
      const nodes: Array<NodeSpec> = []
      const deps: Array<Dep> = []
      for (let j = 1; j <= count; j++) {
        const shot = { n, j, k: first + j - 1 }
        nodes.push(image.node({ shot, sentence: sentences[n - 1]! }, plan), video.node({ shot }, plan))
        deps.push({ id: ids.video(shot.k), output: "video" })
      }
      return { nodes, deps }
    }
  }
}

export const rule = defineRule({
  kind: kinds.mux,
  recipe: Recipe,
  pool: "ffmpeg",
  run: (ctx) =>
    Effect.gen(function*() {
      const [audio, timing, ...clips] = ctx.deps
      const frames = ctx.value(timing!.id, "frames") as ReadonlyArray<number>
      const file = path.join(ctx.scratch, "sentence.mp4")
      yield* muxSentence({
        clips: clips.map((c, i) => ({ path: ctx.file(c.id, "video"), frames: frames[i]! })),
        audio: ctx.file(audio!.id, "audio"),
        out: file,
        fps: ctx.recipe.fps,
        width: ctx.recipe.width,
        height: ctx.recipe.height
      })
      yield* verifyMedia(file, { video: true, audio: true })
      return { video: { file, ext: "mp4" } }
    })
})
