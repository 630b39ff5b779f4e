/**
 * `shot:K:refine`: the prompt writer rewrites one shot with a person's feedback ("closer, dusk light"). One
 * call to the configured writer (paid for an LLM; the draft planner appends the feedback), made through the
 * same pay-once machinery as a shot list: its answer is kept as it arrives and recorded with its cost.
 *
 * Declared by `sentence:N:plan` for a shot whose entry in `storyshot.shots.json` asks `refine`. Its recipe is
 * the writer's recipe for the sentence, the feedback and the shot's pinned fields: nothing positional, so
 * inserting a sentence before it finds the same answer again. `storyshot refine` writes the answer back into
 * the file as pinned fields, after which the plan reads those and this node is no longer part of the film.
 */
import { Effect } from "effect"
import type { Json, NodeSpec, Rule } from "../../src/engine/Node.ts"
import { ids, kinds } from "../../src/Film.ts"
import { baseShot } from "../plan.ts"
import { implOfNode, recipeOf, type PlanContext } from "../Rule.ts"
import type { Impl } from "../Rule.ts"
import * as Prompts from "./Prompts.ts"

export const version = 1

const implOf = (node: NodeSpec): Impl => implOfNode("prompts", node)

/** The refine node of shot j of sentence n (K = k), as the plan's expansion declares it. */
export const node = (
  plan: PlanContext,
  prompts: Impl<"prompts">,
  sentences: ReadonlyArray<string>,
  args: { readonly n: number; readonly j: number; readonly k: number; readonly feedback: string; readonly base: { readonly frozen?: unknown } & Record<string, unknown> }
): NodeSpec => {
  const written = prompts.node({ n: args.n, sentences }, plan)
  return {
    id: ids.refine(args.k),
    kind: kinds.refine,
    stage: "prompts",
    version,
    recipe: { ...written.recipe, feedback: args.feedback, base: args.base as Json },
    context: written.context,
    deps: args.base.frozen !== undefined ? [] : [Prompts.promptDep(args.n, args.j)]
  }
}

export const rule: Rule<unknown, any> = {
  kind: kinds.refine,
  pool: (node) => {
    const impl = implOf(node)
    return typeof impl.pool === "string" ? impl.pool : impl.pool(recipeOf(impl, node))
  },
  paid: (node) => implOf(node).paid,
  estimate: (node) => {
    const impl = implOf(node)
    return impl.estimate?.(recipeOf(impl, node), node) ?? (impl.paid ? { usd: undefined, source: "unknown" } : { usd: 0, source: "free" })
  },
  run: (ctx) =>
    Effect.suspend(() => {
      const impl = implOf(ctx.node)
      if (impl.refine === undefined)
        return Effect.fail(new Error(`the prompts provider "${impl.name}" cannot refine a shot: edit its prompt by hand (storyshot refine shot:K --prompt "...")`))
      const recipe = recipeOf(impl, ctx.node)
      const dep = ctx.node.deps[0]
      const written = dep ? ctx.value(dep.id, dep.output!) : undefined
      const base = baseShot(written, ctx.node.recipe.base as never)
      const context = ctx.node.context ?? {}
      const names = (v: Json | undefined) => (Array.isArray(v) ? v : [])
      const brief = {
        sentence: typeof context.sentence === "string" ? context.sentence : String(ctx.node.recipe.text ?? ""),
        shot: base,
        feedback: String(ctx.node.recipe.feedback),
        castList: names(context.cast).flatMap((c) =>
          c !== null && typeof c === "object" && !Array.isArray(c) && typeof c.name === "string" ? [{ name: c.name, role: typeof c.role === "string" ? c.role : "" }] : []
        ),
        placeList: names(context.places).filter((p): p is string => typeof p === "string")
      }
      return impl.refine(ctx, { recipe, brief }).pipe(
        Effect.map((shot) => ({ shot: { value: { ...shot, cast: [...shot.cast] } as unknown as Json } }))
      )
    })
}
