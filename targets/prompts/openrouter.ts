/**
 * `prompts/openrouter`: an LLM on OpenRouter writes the shot list (structured output, the count pinned by
 * the schema). Paid. Its answer is kept in the node's journal as it arrives: a build killed after it came
 * back uses it and pays nothing again.
 */
import { Effect, Schema } from "effect"
import type { NodeSpec, RunContext } from "../../src/engine/Node.ts"
import { OpenRouterClient } from "../../src/providers/openrouter/Client.ts"
import * as Models from "../../src/providers/openrouter/Models.ts"
import type { StructuredRequest } from "../../src/providers/openrouter/OpenRouter.ts"
import { normalize } from "../../src/text/Sentences.ts"
import * as Paid from "../Paid.ts"
import { defineImpl } from "../Rule.ts"
import * as Prompts from "./Prompts.ts"
import * as Writer from "./Writer.ts"

/** The messages and schemas are the shared writer's (`Writer.ts`, contract 7); its version is the template's. */
export const templateVersion = Writer.templateVersion

export const Recipe = Schema.Struct({
  provider: Schema.Literal("openrouter"),
  model: Schema.String,
  template: Schema.Number,
  style: Schema.String,
  text: Schema.String,
  /** The bible's characters (name, role) and places this sentence mentions: never a look. */
  cast: Schema.Array(Schema.Struct({ name: Schema.String, role: Schema.String })),
  places: Schema.Array(Schema.String)
})

export const system = Writer.system

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

/** One paid structured answer (a refined shot, the bible's first draft): kept as it arrives, recorded with its
 *  cost like any paid request. */
const structuredCall = <A>(ctx: RunContext, model: string, estimate: Parameters<typeof Paid.paying>[1]["estimate"], request: Omit<StructuredRequest<A>, "title">) =>
  Effect.gen(function*() {
    const client = yield* OpenRouterClient
    const started = Date.now()
    const { answer, repaid } = yield* Paid.paying(ctx, {
      provider: "openrouter",
      model,
      estimate,
      kept: ["answer", "repair"],
      call: (paying) =>
        client.structured({ ...request, title: "storyshot" }, paying.follow).pipe(Effect.map((answer) => ({ answer, repaid: paying.repaid })))
    })
    yield* ctx.request({
      provider: "openrouter",
      model,
      requestId: answer.requestId,
      startedAt: started,
      endedAt: Date.now(),
      cost: answer.cost,
      attempt: answer.attempts,
      ...(repaid === undefined ? {} : { repaid })
    })
    return answer.value
  })

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
  node: ({ n, sentences }, { config, providers, storeDir, director }) => {
    const model = providers.openrouter.model
    const price = Models.priceOf(storeDir, model)
    const sentence = sentences[n - 1]!
    const named = Prompts.mentioned(director, sentence)
    return Prompts.node(
      n,
      sentences,
      {
        provider: "openrouter",
        model,
        template: templateVersion,
        style: Prompts.styleOf(director, config.style),
        text: normalize(sentence),
        cast: named.cast.map((c) => ({ name: c.name, role: c.role })),
        places: [...named.places]
      } satisfies typeof Recipe.Type,
      price ? { price: { prompt: price.prompt, completion: price.completion } } : {},
      director
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
                system: Writer.system(ctx.recipe.style),
                user: Writer.user(brief),
                count: brief.count,
                names: { cast: brief.castList.map((c) => c.name), places: brief.placeList },
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
,
  refine: (ctx, { recipe, brief }) =>
    structuredCall(ctx, recipe.model, estimateOf(ctx.node), {
      model: recipe.model,
      system: Writer.system(recipe.style),
      user: Writer.refineUser(brief),
      schemaName: "shot_list",
      schema: Writer.refineSchema(brief),
      parse: Writer.parseRefined,
      repair: Writer.repairShots(1),
      what: "refined shot"
    }),
  direct: (ctx, { recipe, sentences, style }) =>
    structuredCall(ctx, recipe.model, { usd: 0.002, source: "table" }, {
      model: recipe.model,
      system: Writer.bibleSystem(style),
      user: Writer.bibleUser(sentences),
      schemaName: "story_bible",
      schema: Writer.bibleSchema,
      parse: Writer.parseBible,
      repair: Writer.repairBible,
      what: "story bible"
    })
})
