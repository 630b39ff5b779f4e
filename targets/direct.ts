/**
 * `bible`: the story bible's first draft, as `storyshot direct` asks for it (never a dependency of the film:
 * a build never makes it, so the user's file is never regenerated behind their back). The configured prompt
 * writer writes it: an LLM reading the whole transcript in the cloud profile (one paid call, kept as it
 * arrives like every paid answer), the names in the text in the draft profile (src/director/Draft.ts).
 *
 * Its recipe is the writer's settings, the config's style note and every sentence's normalized text; the bible
 * already in the workspace is not in it (a redo with `--force` starts from the transcript, not from the last
 * draft). A node, not a bare call, so that a crash after the answer loses nothing and `--force` is a new take.
 */
import { Effect } from "effect"
import * as Bible from "../src/director/Bible.ts"
import type { Json, NodeSpec, Rule } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import { normalize } from "../src/text/Sentences.ts"
import { implOfNode, recipeOf, type Impl, type PlanContext } from "./Rule.ts"

export const version = 1

const implOf = (node: NodeSpec): Impl => implOfNode("prompts", node)

/** The draft's node: the writer's recipe for a sentence that names nobody, with the whole transcript. */
export const node = (plan: PlanContext, prompts: Impl<"prompts">, sentences: ReadonlyArray<string>): NodeSpec => {
  const noBible: PlanContext = { ...plan, director: { bible: undefined, edits: plan.director.edits } }
  const written = prompts.node({ n: 1, sentences }, noBible)
  return {
    id: ids.direct,
    kind: kinds.direct,
    stage: "prompts",
    version,
    recipe: { ...written.recipe, text: "", style: plan.config.style, transcript: sentences.map(normalize) },
    context: { sentences: [...sentences], ...(written.context?.price !== undefined ? { price: written.context.price } : {}) },
    deps: []
  }
}

export const rule: Rule<unknown, any> = {
  kind: kinds.direct,
  pool: (node) => {
    const impl = implOf(node)
    return typeof impl.pool === "string" ? impl.pool : impl.pool(recipeOf(impl, node))
  },
  paid: (node) => implOf(node).paid,
  estimate: (node) => (implOf(node).paid ? { usd: 0.002, source: "table" } : { usd: 0, source: "free" }),
  run: (ctx) =>
    Effect.suspend(() => {
      const impl = implOf(ctx.node)
      if (impl.direct === undefined)
        return Effect.fail(new Error(`the prompts provider "${impl.name}" cannot draft a story bible: write ${Bible.fileName} by hand (the format is in the README)`))
      const sentences = Array.isArray(ctx.node.context?.sentences)
        ? (ctx.node.context.sentences as ReadonlyArray<Json>).filter((s): s is string => typeof s === "string")
        : (ctx.node.recipe.transcript as ReadonlyArray<string>)
      return impl.direct(ctx, { recipe: recipeOf(impl, ctx.node), sentences, style: String(ctx.node.recipe.style ?? "") }).pipe(
        // As the file will hold it (colours filled in), so what `direct` writes is exactly this value.
        Effect.map((bible) => ({ bible: { value: JSON.parse(Bible.format(bible)) as Json } }))
      )
    })
}
