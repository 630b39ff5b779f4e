/**
 * `sentence:N:plan`: the shots of sentence N as the film uses them — the prompt writer's (`sentence:N:prompts`)
 * with the person's edits from `storyshot.shots.json` applied (src/director/ShotEdits.ts), and the cast and
 * place read back as story-bible ids. Free; everything visual depends on it instead of the writer's node.
 *
 * Why a node of its own: a pinned edit of shot 2 changes this node's recipe, not the writer's, so nothing is
 * re-planned (re-paid), and of its outputs only shot 2's change: early cutoff keeps every other shot's image
 * and clip. Its outputs are split by what each consumer sends (the money rule): `still.j` (prompt, framing,
 * cast, place) for the image, `motion.j` (camera, motion) for the clip, `transition.j` for the mux, and `j`
 * (all of it) for the pages.
 *
 * Approved shots are frozen in the edits file: a sentence whose shots are all frozen does not read the
 * writer's node at all (its expansion leaves it out), so a later model or setting change cannot re-plan it. A
 * pending refinement (`refine` in the file) adds a `shot:K:refine` node: one paid call to the writer.
 */
import { Effect, Schema } from "effect"
import * as Bible from "../src/director/Bible.ts"
import type { Director } from "../src/director/Inputs.ts"
import * as ShotEdits from "../src/ShotEdits.ts"
import type { Dep, Json, NodeSpec, RunContext } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import { cameraMoves, cameraWords, transitions, type CameraMove, type PlannedShot, type Transition } from "../src/Shot.ts"
import { defineRule } from "./Rule.ts"

export const version = 1

const Pin = Schema.Struct({
  ...ShotEdits.ShotFields,
  refine: Schema.optional(Schema.String),
  frozen: Schema.optional(ShotEdits.Frozen)
})
type Pin = typeof Pin.Type

const Recipe = Schema.Struct({
  /** The edits of this sentence's shots, by index. */
  pinned: Schema.Record({ key: Schema.String, value: Pin }),
  /** Lower-case names and aliases → id, to read names back as ids (empty without a bible). */
  cast: Schema.Record({ key: Schema.String, value: Schema.String }),
  places: Schema.Record({ key: Schema.String, value: Schema.String })
})

/** A pin as the recipe holds it: what the plan applies (nothing about when or why it was made). */
const pinOf = (e: ShotEdits.ShotEdit): Pin | undefined => {
  const pin: Record<string, Json> = { ...(ShotEdits.pinnedOf(e) as Record<string, Json>) }
  if (e.refine !== undefined) pin.refine = e.refine
  if (e.approved === true && e.frozen !== undefined) pin.frozen = e.frozen as unknown as Json
  return Object.keys(pin).length > 0 ? (pin as unknown as Pin) : undefined
}

/** Sentence n's pins, from the edits matched to the transcript once per plan. */
export const pinsOf = (matched: ShotEdits.Matched, n: number): Record<string, Pin> => {
  const out: Record<string, Pin> = {}
  for (const [j, e] of matched.bySentence.get(n) ?? []) {
    const pin = pinOf(e)
    if (pin !== undefined) out[String(j)] = pin
  }
  return out
}

/** Whether a sentence's plan of `count` shots reads its writer's node: not when every shot is approved (frozen). */
export const readsWriter = (pinned: Record<string, Pin>, count: number): boolean =>
  !Array.from({ length: count }, (_, i) => pinned[String(i + 1)]?.frozen !== undefined).every(Boolean)

export interface RefineSpec {
  /** The refine node for shot j of sentence n (K is its film-wide number). */
  readonly node: (args: { readonly n: number; readonly j: number; readonly k: number; readonly feedback: string; readonly base: Pin }) => NodeSpec
}

const countOf = (v: Json, id: string): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new Error(`${id}: shot count ${String(v)} is not a whole number`)
  return v
}

export const node = (n: number, sentence: string, director: Director, matched: ShotEdits.Matched, refine: RefineSpec): NodeSpec => {
  const pinned = pinsOf(matched, n)
  const refines = Object.values(pinned).some((pin) => pin.refine !== undefined)
  const bible = director.bible
  return {
    id: ids.plan(n),
    kind: kinds.plan,
    stage: "prompts",
    version,
    recipe: {
      pinned: pinned as unknown as Json,
      cast: bible ? Bible.lookup(bible.cast) : {},
      places: bible ? Bible.lookup(bible.places) : {}
    },
    context: { sentence },
    deps: [{ id: ids.shots(n), output: "count" }],
    // Its own shot count (read by the expansion), and with a pending refinement every earlier sentence's
    // count too: its node is numbered by the shot's K. Only then (n ids per sentence is n² edges over a film,
    // walked by every build).
    after: refines ? Array.from({ length: n }, (_, i) => ids.shots(i + 1)) : [ids.shots(n)],
    expand: (built) => {
      const count = countOf(built.value(ids.shots(n), "count"), ids.shots(n))
      let first = 1
      if (refines) for (let i = 1; i < n; i++) first += countOf(built.value(ids.shots(i), "count"), ids.shots(i))
      const nodes: Array<NodeSpec> = []
      const deps: Array<Dep> = []
      if (readsWriter(pinned, count)) deps.push({ id: ids.prompts(n) })
      for (let j = 1; j <= count; j++) {
        const pin = pinned[String(j)]
        if (pin?.refine === undefined) continue
        const k = first + j - 1
        nodes.push(refine.node({ n, j, k, feedback: pin.refine, base: pin }))
        deps.push({ id: ids.refine(k), output: "shot" })
      }
      return { nodes, deps }
    }
  }
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)

/** A shot from any of its sources, with every field (a writer's older answer may lack the director's). */
const complete = (s: Partial<Record<keyof PlannedShot, unknown>>): PlannedShot => {
  const camera = (cameraMoves as ReadonlyArray<string>).includes(String(s.camera)) ? (s.camera as CameraMove) : "push-in"
  const transition = (transitions as ReadonlyArray<string>).includes(String(s.transition)) ? (s.transition as Transition) : "cut"
  const motion = str(s.motion)?.trim() ?? ""
  return {
    prompt: str(s.prompt) ?? "",
    shotType: str(s.shotType) ?? "",
    camera,
    motion: motion.length > 0 ? motion : `slow ${cameraWords(camera)}`,
    transition,
    cast: Array.isArray(s.cast) ? s.cast.filter((c): c is string => typeof c === "string") : [],
    place: str(s.place) ?? null
  }
}

const defined = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

/** The base a refinement rewrites: the writer's shot (when the plan reads it), the frozen one, the pins. */
export const baseShot = (written: Json | undefined, pin: Pin | undefined): PlannedShot => {
  const { refine: _r, frozen, ...fields } = pin ?? {}
  return complete({ ...((written ?? {}) as object), ...(frozen ?? {}), ...defined(fields) })
}

export const rule = defineRule({
  kind: kinds.plan,
  recipe: Recipe,
  pool: "local",
  // For dry runs and `graph`: shots that show nobody and enter by a cut (the plan is known once the writer answers).
  guess: (_recipe, node, built) => {
    const count = countOf(built.value(node.deps[0]!.id, "count"), node.deps[0]!.id)
    const out: Record<string, Json> = {}
    for (let j = 1; j <= count; j++) {
      out[`still.${j}`] = { prompt: "", shotType: "", cast: [], place: null }
      out[`motion.${j}`] = { camera: "push-in", motion: "" }
      out[`transition.${j}`] = "cut"
    }
    return out
  },
  run: (ctx) =>
    Effect.sync(() => {
      const n = ctx.node.id.split(":")[1]
      const count = countOf(ctx.value(ctx.node.deps[0]!.id, "count"), ctx.node.deps[0]!.id)
      const written = ctx.deps.find((d) => d.id === ids.prompts(Number(n)))
      const refined = new Map<number, Json>()
      for (const d of ctx.deps) if (d.id.endsWith(":refine")) refined.set(Number(d.id.split(":")[1]), ctx.value(d.id, "shot"))
      const refines = [...refined.entries()].sort((a, b) => a[0] - b[0])
      const castId = (name: string) => ctx.recipe.cast[name.trim().toLowerCase()]
      const placeId = (name: string | null) => (name === null ? null : (ctx.recipe.places[name.trim().toLowerCase()] ?? null))
      const out: Record<string, { value: Json }> = {}
      let r = 0
      for (let j = 1; j <= count; j++) {
        const pin = ctx.recipe.pinned[String(j)]
        let shot = baseShot(written ? ctx.value(written.id, String(j)) : undefined, pin)
        if (pin?.refine !== undefined) {
          // The refinements come in shot order: the r-th pending one is this shot's.
          const answer = refines[r++]?.[1]
          if (answer !== undefined) shot = complete({ ...shot, ...(answer as object) })
        }
        const planned: PlannedShot = {
          ...shot,
          cast: [...new Set(shot.cast.map(castId).filter((id): id is string => id !== undefined))],
          place: placeId(shot.place)
        }
        const value = planned as unknown as Json
        out[String(j)] = { value }
        out[`still.${j}`] = { value: { prompt: planned.prompt, shotType: planned.shotType, cast: [...planned.cast], place: planned.place } }
        out[`motion.${j}`] = { value: { camera: planned.camera, motion: planned.motion } }
        out[`transition.${j}`] = { value: planned.transition }
      }
      return out
    })
})

/** Shot j of a plan, whole. */
export const shotOf = (value: Json | undefined): PlannedShot | undefined =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as unknown as PlannedShot) : undefined

export const stillDep = (n: number, j: number): Dep => ({ id: ids.plan(n), output: `still.${j}` })
export const motionDep = (n: number, j: number): Dep => ({ id: ids.plan(n), output: `motion.${j}` })
export const transitionDep = (n: number, j: number): Dep => ({ id: ids.plan(n), output: `transition.${j}` })
export const shotDep = (n: number, j: number): Dep => ({ id: ids.plan(n), output: String(j) })

export interface Still {
  readonly prompt: string
  readonly shotType: string
  readonly cast: ReadonlyArray<string>
  readonly place: string | null
}
export interface Motion {
  readonly camera: CameraMove
  readonly motion: string
}

export const stillAt = (ctx: RunContext, dep: Dep): Still => ctx.value(dep.id, dep.output!) as unknown as Still
export const motionAt = (ctx: RunContext, dep: Dep): Motion => ctx.value(dep.id, dep.output!) as unknown as Motion

