/**
 * `sentence:N:prompts`: one still-image prompt per shot of sentence N, with a shot type and a camera move.
 * What every prompt writer shares.
 *
 * It depends on the shot count alone (not on exact durations: the money rule), and its recipe holds the
 * sentence's normalized text, the style note and the writer's settings. The neighbouring sentences' text is
 * given to the writer for continuity but kept out of the fingerprint (`context`): an edit must stay local, so
 * editing sentence 5 never re-pays sentence 4's or 6's prompts. It never sees another sentence's *output*.
 */
import type { Dep, Json, NodeSpec, Produced, RunContext } from "../../src/engine/Node.ts"
import { ids, kinds } from "../../src/Film.ts"
import type { Shot } from "../../src/Shot.ts"

export const version = 1

export const node = (
  n: number,
  sentences: ReadonlyArray<string>,
  recipe: NodeSpec["recipe"],
  context: NodeSpec["context"] = {}
): NodeSpec => {
  const sentence = sentences[n - 1]!
  return {
    id: ids.prompts(n),
    kind: kinds.prompts,
    stage: "prompts",
    version,
    recipe,
    context: { sentence, previous: sentences[n - 2] ?? null, next: sentences[n] ?? null, ...context },
    deps: [{ id: ids.shots(n), output: "count" }]
  }
}

const str = (v: Json | undefined) => (typeof v === "string" ? v : null)

/** What a writer is given: the sentence as written, its neighbours, and how many shots to write. */
export const brief = (ctx: RunContext, normalized: string) => {
  const context = ctx.node.context ?? {}
  const count = ctx.value(ctx.node.deps[0]!.id, "count")
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1) throw new Error(`${ctx.node.id}: shot count ${String(count)} is not a whole number`)
  return {
    count,
    sentence: str(context.sentence) ?? normalized,
    previous: str(context.previous),
    next: str(context.next)
  }
}

/** The outputs: shot j as output "j". */
export const produced = (shots: ReadonlyArray<Shot>): Produced =>
  Object.fromEntries(shots.map((s, i) => [String(i + 1), { value: { prompt: s.prompt, shotType: s.shotType, camera: s.camera } }]))

/** Shot j of a prompts node, as a dependency `{ id: sentence:N:prompts, output: "j" }` reads it. The prompts
 *  rule wrote it from a `Shot` (the planner's, or an LLM answer checked against the shot-list schema). */
export const shotAt = (ctx: RunContext, dep: Dep): Shot => ctx.value(dep.id, dep.output!) as unknown as Shot

/** The dependency of shot j of sentence n on its prompt. */
export const promptDep = (n: number, j: number): Dep => ({ id: ids.prompts(n), output: String(j) })
