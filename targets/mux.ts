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
import { transitions, type Transition } from "../src/Shot.ts"
import * as Leadin from "./leadin.ts"
import { transitionDep } from "./plan.ts"
import { pick } from "./registry.ts"
import { defineRule, type PlanContext } from "./Rule.ts"

export const version = 1

const Recipe = Schema.Struct({
  width: Schema.Number,
  height: Schema.Number,
  fps: Schema.Number,
  /** Transitions between shots (issue 16): "planned" takes each shot's from its plan; absent: all cuts (as before). */
  transitions: Schema.optional(
    Schema.Struct({
      shots: Schema.Literal("planned", ...transitions),
      frames: Schema.Number,
      /** Into this sentence from the one before (its first shot): from its plan, or one for all; absent: a cut. */
      sentences: Schema.optional(Schema.Literal("planned", ...transitions))
    })
  )
})

/** How shot j is entered, from its plan's `transition.j`, or the config's one for every shot. */
const intoOf = (mode: "planned" | Transition, planned: unknown): Transition =>
  mode !== "planned" ? mode : (transitions as ReadonlyArray<unknown>).includes(planned) ? (planned as Transition) : "cut"

const transitionFrames = (plan: PlanContext) => Math.max(1, Math.round(plan.config.transitions.seconds * plan.config.fps))

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
    recipe: {
      width: plan.config.width,
      height: plan.config.height,
      fps: plan.config.fps,
      // Only when some shot may be entered by more than a cut: an all-cuts film keeps its muxes' fingerprints.
      ...(plan.config.transitions.shots === "cut" && (n === 1 || plan.config.transitions.sentences === "cut")
        ? {}
        : {
          transitions: {
            shots: plan.config.transitions.shots,
            frames: transitionFrames(plan),
            ...(n > 1 && plan.config.transitions.sentences !== "cut" ? { sentences: plan.config.transitions.sentences } : {})
          }
        })
    } satisfies typeof Recipe.Type,
    deps: [
      { id: ids.audio(n), output: "audio" },
      { id: ids.timing(n), output: "frames" }
    ],
    // With transitions between sentences taken from the plan, the way in (its first shot's) decides a lead-in.
    after: n > 1 && plan.config.transitions.sentences === "planned" ? [...shotsUpTo(n), ids.plan(n)] : shotsUpTo(n),
    expand: (built) => {
      const first = firstShotOf(built, n)
      const count = countOf(built.value(ids.shots(n), "count"), ids.shots(n))
      const nodes: Array<NodeSpec> = []
      const deps: Array<Dep> = []
      for (let j = 1; j <= count; j++) {
        const shot = { n, j, k: first + j - 1 }
        // The next shot, whose image the clip may end on (`continuity: "end-frames"`): in this sentence, or the
        // next sentence's first (its number is known: it follows this sentence's last).
        const tail = j < count ? { n, j: j + 1, k: shot.k + 1 } : n < sentences.length ? { n: n + 1, j: 1, k: shot.k + 1 } : undefined
        nodes.push(image.node({ shot, sentence: sentences[n - 1]! }, plan), video.node({ shot, tail }, plan))
        deps.push({ id: ids.video(shot.k), output: "video" })
        if (j === 1 ? n > 1 && plan.config.transitions.sentences === "planned" : plan.config.transitions.shots === "planned") deps.push(transitionDep(n, j))
      }
      // Into this sentence from the previous one's last shot: a lead-in of that clip past its cut (targets/leadin.ts),
      // unless the way in is a cut. The previous sentence's shot nodes are declared again here (the same specs
      // its own mux declares), so the lead-in's clip is known whichever mux expands first.
      const mode = n > 1 ? plan.config.transitions.sentences : "cut"
      const into = mode === "planned" ? intoOf(mode, built.value(ids.plan(n), "transition.1")) : mode
      if (into !== "cut") {
        const before = countOf(built.value(ids.shots(n - 1), "count"), ids.shots(n - 1))
        const last = { n: n - 1, j: before, k: first - 1 }
        nodes.push(
          image.node({ shot: last, sentence: sentences[n - 2]! }, plan),
          video.node({ shot: last, tail: { n, j: 1, k: first } }, plan),
          Leadin.node(n, last.k, { width: plan.config.width, height: plan.config.height, fps: plan.config.fps, frames: transitionFrames(plan) })
        )
        deps.push({ id: ids.leadin(n), output: "video" })
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
      const [audio, timing, ...rest] = ctx.deps
      const frames = ctx.value(timing!.id, "frames") as ReadonlyArray<number>
      const file = path.join(ctx.scratch, "sentence.mp4")
      const clips = rest.filter((d) => d.output === "video" && d.id.startsWith("shot:"))
      const lead = rest.find((d) => d.id.endsWith(":leadin"))
      const planned = new Map(rest.filter((d) => d.output?.startsWith("transition.")).map((d) => [Number(d.output!.slice("transition.".length)), d]))
      const t = ctx.recipe.transitions
      yield* muxSentence({
        clips: clips.map((c, i) => {
          const p = planned.get(i + 1)
          const mode = i === 0 ? (t?.sentences ?? "cut") : (t?.shots ?? "cut")
          const into = t === undefined ? "cut" : intoOf(mode, p ? ctx.value(p.id, p.output!) : undefined)
          // The first shot is entered from the previous sentence's lead-in; without one (the film's first
          // sentence) a crossfade is a cut and a fade comes in from its colour.
          const from = i === 0 && lead ? { from: ctx.file(lead.id, "video") } : {}
          return {
            path: ctx.file(c.id, "video"),
            frames: frames[i]!,
            ...(t === undefined || into === "cut" || (i === 0 && into === "crossfade" && !lead) ? {} : { into: { kind: into, frames: t.frames, ...from } })
          }
        }),
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
