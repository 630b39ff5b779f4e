/**
 * `prompts/planner`: the deterministic shot planner (templates and camera moves). Free; the draft profile's.
 */
import { Effect, Schema } from "effect"
import { planShots } from "../../src/providers/local/ShotPlanner.ts"
import { normalize } from "../../src/text/Sentences.ts"
import { defineImpl } from "../Rule.ts"
import * as Prompts from "./Prompts.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("planner"),
  style: Schema.String,
  text: Schema.String
})

export const impl = defineImpl({
  stage: "prompts",
  name: "planner",
  paid: false,
  about: {
    summary: "deterministic shot planner (templates, camera moves), offline",
    needs: [],
    price: "free",
    afterCrash: "planned again (free)",
    reattaches: false
  },
  recipe: Recipe,
  pool: "local",
  node: ({ n, sentences }, { config }) =>
    Prompts.node(n, sentences, { provider: "planner", style: config.style, text: normalize(sentences[n - 1]!) } satisfies typeof Recipe.Type),
  run: (ctx) =>
    Effect.sync(() => {
      const brief = Prompts.brief(ctx, ctx.recipe.text)
      return Prompts.produced(
        planShots({
          text: brief.sentence,
          previous: brief.previous ?? undefined,
          next: brief.next ?? undefined,
          style: ctx.recipe.style,
          count: brief.count
        })
      )
    })
})
