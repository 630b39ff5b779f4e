/**
 * `sentence:N:prompts`: one shot per shot of sentence N, as a writer plans it: a still-image prompt, a framing,
 * a camera move, a motion prompt, the transition into the shot, and the cast and place it shows (by the story
 * bible's names). What every prompt writer shares.
 *
 * It depends on the shot count alone (not on exact durations: the money rule), and its recipe holds the
 * sentence's normalized text, the style note, the writer's settings, and the bible's characters and places
 * *that this sentence mentions*, by name and role only: a look never reaches a prompt call (editing one
 * re-plans nothing), and adding a character re-plans only the sentences that mention it. The neighbouring
 * sentences' text and the whole cast list (names and roles) are given to the writer for continuity but kept out
 * of the fingerprint (`context`): an edit must stay local. It never sees another sentence's *output*.
 *
 * What the film uses is not this node but `sentence:N:plan` (targets/plan.ts): these shots with the person's
 * pinned edits, refinements and approvals applied.
 */
import type { Dep, Json, NodeSpec, Produced, RunContext } from "../../src/engine/Node.ts"
import * as Bible from "../../src/director/Bible.ts"
import type { Director } from "../../src/director/Inputs.ts"
import { ids, kinds } from "../../src/Film.ts"
import type { DirectedShot } from "../../src/Shot.ts"

/** 2: shots carry motion, transition, cast and place (issue 16). */
export const version = 2

/** What a prompts recipe holds of the bible: the characters and places the sentence mentions, by name (and role). */
export interface Mentioned {
  readonly cast: ReadonlyArray<{ readonly name: string; readonly role: string }>
  readonly places: ReadonlyArray<string>
}

export const mentioned = (director: Director, sentence: string): Mentioned => {
  const bible = director.bible
  if (bible === undefined) return { cast: [], places: [] }
  return {
    cast: Bible.castIn(bible, sentence).map((c) => ({ name: c.name, role: c.role })),
    places: Bible.placesIn(bible, sentence).map((p) => p.name)
  }
}

/** The whole cast list by name and role, and the places by name: context for continuity, never fingerprinted. */
export const roster = (director: Director): { readonly cast: Json; readonly places: Json } => ({
  cast: (director.bible?.cast ?? []).map((c) => ({ name: c.name, role: c.role })),
  places: (director.bible?.places ?? []).map((p) => p.name)
})

/** The style every shot carries: the bible's, when it has one, else the config's note. */
export const styleOf = (director: Director, configStyle: string): string => {
  const text = director.bible ? Bible.styleText(director.bible.style) : ""
  return text.length > 0 ? text : configStyle
}

export const node = (
  n: number,
  sentences: ReadonlyArray<string>,
  recipe: NodeSpec["recipe"],
  context: NodeSpec["context"] = {},
  director?: Director
): NodeSpec => {
  const sentence = sentences[n - 1]!
  return {
    id: ids.prompts(n),
    kind: kinds.prompts,
    stage: "prompts",
    version,
    recipe,
    context: { sentence, previous: sentences[n - 2] ?? null, next: sentences[n] ?? null, ...(director ? roster(director) : {}), ...context },
    deps: [{ id: ids.shots(n), output: "count" }]
  }
}

const str = (v: Json | undefined) => (typeof v === "string" ? v : null)

export interface Brief {
  readonly count: number
  readonly sentence: string
  readonly previous: string | null
  readonly next: string | null
  /** Mentioned in this sentence (the recipe's): what the writer must know. */
  readonly cast: Mentioned["cast"]
  readonly places: Mentioned["places"]
  /** Everyone and everywhere in the bible (context): names the shots may use. */
  readonly castList: ReadonlyArray<{ readonly name: string; readonly role: string }>
  readonly placeList: ReadonlyArray<string>
}

const castOf = (v: Json | undefined): ReadonlyArray<{ name: string; role: string }> =>
  Array.isArray(v)
    ? v.flatMap((c) => (c !== null && typeof c === "object" && !Array.isArray(c) && typeof (c as any).name === "string" ? [{ name: (c as any).name as string, role: typeof (c as any).role === "string" ? (c as any).role : "" }] : []))
    : []

const namesOf = (v: Json | undefined): ReadonlyArray<string> => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [])

/** What a writer is given: the sentence as written, its neighbours, the cast, and how many shots to write. */
export const brief = (ctx: RunContext, normalized: string): Brief => {
  const context = ctx.node.context ?? {}
  const count = ctx.value(ctx.node.deps[0]!.id, "count")
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1) throw new Error(`${ctx.node.id}: shot count ${String(count)} is not a whole number`)
  const cast = castOf(ctx.node.recipe.cast)
  const places = namesOf(ctx.node.recipe.places)
  const castList = castOf(context.cast)
  const placeList = namesOf(context.places)
  return {
    count,
    sentence: str(context.sentence) ?? normalized,
    previous: str(context.previous),
    next: str(context.next),
    cast,
    places,
    // The mentioned ones are always offered, even if the context lacks them.
    castList: [...cast, ...castList.filter((c) => !cast.some((m) => m.name === c.name))],
    placeList: [...places, ...placeList.filter((p) => !places.includes(p))]
  }
}

/** The outputs: shot j as output "j". */
export const produced = (shots: ReadonlyArray<DirectedShot>): Produced =>
  Object.fromEntries(
    shots.map((s, i) => [
      String(i + 1),
      { value: { prompt: s.prompt, shotType: s.shotType, camera: s.camera, motion: s.motion, transition: s.transition, cast: [...s.cast], place: s.place } }
    ])
  )

/** Shot j of a prompts node, as a dependency `{ id: sentence:N:prompts, output: "j" }` reads it. The prompts
 *  rule wrote it from a `DirectedShot` (the planner's, or an LLM answer checked against the shot-list schema). */
export const shotAt = (ctx: RunContext, dep: Dep): DirectedShot => ctx.value(dep.id, dep.output!) as unknown as DirectedShot

/** The dependency of shot j of sentence n on its prompt. */
export const promptDep = (n: number, j: number): Dep => ({ id: ids.prompts(n), output: String(j) })
