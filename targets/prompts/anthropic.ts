/**
 * `prompts/anthropic`: shot prompts from Claude through Anthropic's Messages API (ANTHROPIC_MODEL), the shot
 * list asked for as a forced tool call. Paid, priced from the answer's `usage` tokens and the table.
 *
 * The messages, the shot-list schema, the check and the repair turn are every writer's
 * (`src/providers/ShotList.ts`, contract 7). The answer is kept in the node's journal as it arrives.
 */
import { Effect, Schema } from "effect"
import * as Anthropic from "../../src/providers/anthropic/Anthropic.ts"
import { AnthropicClient } from "../../src/providers/anthropic/Client.ts"
import { checkedOn, costOf, source } from "../../src/providers/anthropic/prices.ts"
import * as ShotList from "../../src/providers/ShotList.ts"
import { normalize } from "../../src/text/Sentences.ts"
import * as Paid from "../Paid.ts"
import { defineImpl } from "../Rule.ts"
import * as Prompts from "./Prompts.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("anthropic"),
  model: Schema.String,
  template: Schema.Number,
  style: Schema.String,
  text: Schema.String,
  /** The bible's characters (name, role) and places this sentence mentions: never a look (as openrouter's). */
  cast: Schema.Array(Schema.Struct({ name: Schema.String, role: Schema.String })),
  places: Schema.Array(Schema.String)
})

/** A shot list is about 900 tokens in (the tool schema included) and 350 out. */
const estimateOf = (model: string) => costOf(model, 900, 350)

export const impl = defineImpl({
  stage: "prompts",
  name: "anthropic",
  paid: true,
  about: {
    summary: `Claude on Anthropic's Messages API (ANTHROPIC_MODEL, default ${Anthropic.defaults.model}), a forced shot_list tool call`,
    needs: ["ANTHROPIC_API_KEY"],
    price: { source, checkedOn },
    afterCrash: "uses the answer already received; a Ctrl-C waits for one on its way",
    reattaches: false
  },
  missing: (providers) => (providers.anthropic.apiKey === "" ? ["ANTHROPIC_API_KEY"] : []),
  recipe: Recipe,
  pool: "anthropic",
  node: ({ n, sentences }, { config, providers, director }) =>
    Prompts.node(n, sentences, {
      provider: "anthropic",
      model: providers.anthropic.model,
      template: ShotList.templateVersion,
      style: Prompts.styleOf(director, config.style),
      text: normalize(sentences[n - 1]!),
      cast: Prompts.mentioned(director, sentences[n - 1]!).cast.map((c) => ({ name: c.name, role: c.role })),
      places: [...Prompts.mentioned(director, sentences[n - 1]!).places]
    } satisfies typeof Recipe.Type, {}, director),
  estimate: (recipe) => estimateOf(recipe.model),
  run: (ctx) =>
    Effect.gen(function*() {
      const client = yield* AnthropicClient
      const brief = Prompts.brief(ctx, ctx.recipe.text)
      const started = Date.now()
      const { list, repaid } = yield* Paid.paying(ctx, {
        provider: "anthropic",
        model: ctx.recipe.model,
        estimate: estimateOf(ctx.recipe.model),
        kept: ["answer", "repair"],
        call: (paying) =>
          client
            .shotList({ model: ctx.recipe.model, system: ShotList.system(ctx.recipe.style), user: ShotList.user(brief), count: brief.count, names: ShotList.namesOf(brief) }, paying.follow)
            .pipe(Effect.map((list) => ({ list, repaid: paying.repaid })))
      })
      yield* ctx.request({
        provider: "anthropic",
        model: ctx.recipe.model,
        ...(list.requestId === undefined ? {} : { requestId: list.requestId }),
        startedAt: started,
        endedAt: Date.now(),
        cost: list.cost,
        attempt: list.attempts.length,
        ...(repaid === undefined ? {} : { repaid })
      })
      return Prompts.produced(list.shots)
    })
})
