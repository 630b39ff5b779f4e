/**
 * `prompts/openrouter`: an LLM on OpenRouter writes the shot list (structured output, the count pinned by
 * the schema). Paid. Its answer is kept in the node's journal as it arrives: a build killed after it came
 * back uses it and pays nothing again.
 */
import { Effect, Schema } from "effect"
import type { NodeSpec } from "../../src/engine/Node.ts"
import { OpenRouterClient } from "../../src/providers/openrouter/Client.ts"
import * as Models from "../../src/providers/openrouter/Models.ts"
import * as ShotList from "../../src/providers/ShotList.ts"
import { normalize } from "../../src/text/Sentences.ts"
import * as Paid from "../Paid.ts"
import { defineImpl } from "../Rule.ts"
import * as Prompts from "./Prompts.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("openrouter"),
  model: Schema.String,
  template: Schema.Number,
  style: Schema.String,
  text: Schema.String
})

// The messages and the schema are every writer's (src/providers/ShotList.ts, contract 7).
export const { templateVersion, system, user } = ShotList

/** The model's price from the saved model list, for estimates; in `context`, never fingerprinted. */
const priceIn = (context: NodeSpec["context"]): Models.Price | undefined => {
  const p = context?.price as { prompt?: unknown; completion?: unknown } | undefined
  return typeof p?.prompt === "number" && typeof p.completion === "number" ? { prompt: p.prompt, completion: p.completion } : undefined
}

// About 450 prompt tokens (instructions, schema, neighbours) and 150 completion tokens (two shots), at the
// saved model list's price; a rough $0.001 when no list was saved yet.
const estimateOf = (node: NodeSpec) => {
  const price = priceIn(node.context)
  return price !== undefined ? Models.costAt(price, 450, 150) : ({ usd: 0.001, source: "table" } as const)
}

export const impl = defineImpl({
  stage: "prompts",
  name: "openrouter",
  paid: true,
  about: {
    summary: "an LLM on OpenRouter (OPENROUTER_MODEL), structured output",
    needs: ["OPENROUTER_KEY"],
    price: { source: "reported by OpenRouter in each answer (usage.cost); estimates from the saved model list (storyshot models)", checkedOn: "each build (the list is refreshed daily)" },
    afterCrash: "uses the answer already received; otherwise asks again (nothing was billed)",
    reattaches: true
  },
  missing: (providers) => (providers.openrouter.apiKey === "" ? ["OPENROUTER_KEY"] : []),
  before: (plan) => Effect.flatMap(OpenRouterClient, (client) => Models.refresh(plan.storeDir, client)),
  recipe: Recipe,
  pool: "openrouter",
  node: ({ n, sentences }, { config, providers, storeDir }) => {
    const model = providers.openrouter.model
    const price = Models.priceOf(storeDir, model)
    return Prompts.node(
      n,
      sentences,
      { provider: "openrouter", model, template: templateVersion, style: config.style, text: normalize(sentences[n - 1]!) } satisfies typeof Recipe.Type,
      price ? { price: { prompt: price.prompt, completion: price.completion } } : {}
    )
  },
  estimate: (_recipe, node) => estimateOf(node),
  run: (ctx) =>
    Effect.gen(function*() {
      const client = yield* OpenRouterClient
      const brief = Prompts.brief(ctx, ctx.recipe.text)
      const started = Date.now()
      const { list, repaid } = yield* Paid.paying(ctx, {
        provider: "openrouter",
        model: ctx.recipe.model,
        estimate: estimateOf(ctx.node),
        kept: ["answer", "repair"],
        call: (paying) =>
          client
            .shotList(
              {
                model: ctx.recipe.model,
                system: system(ctx.recipe.style),
                user: user(brief),
                count: brief.count,
                title: "storyshot"
              },
              paying.follow
            )
            .pipe(Effect.map((list) => ({ list, repaid: paying.repaid })))
      })
      const price = priceIn(ctx.node.context)
      yield* ctx.request({
        provider: "openrouter",
        model: ctx.recipe.model,
        requestId: list.requestId,
        startedAt: started,
        endedAt: Date.now(),
        // OpenRouter reports what it charged; an answer without it is priced from the saved model list.
        cost: list.cost.usd === undefined && price !== undefined ? Models.costAt(price, list.usage.promptTokens, list.usage.completionTokens) : list.cost,
        attempt: list.attempts,
        ...(repaid === undefined ? {} : { repaid })
      })
      return Prompts.produced(list.shots)
    })
})
