/**
 * `image/openai-background`: OpenAI images through the Responses API in background mode (opt-in). Paid and
 * re-attachable: the `resp_…` id is kept in the node's journal with the create answer's bytes before anything
 * else, so a build killed while OpenAI makes the image polls the same response next time (OpenAI keeps it,
 * `store: true`), and Ctrl-C leaves a response OpenAI is working on to finish (one still queued is cancelled).
 *
 * Why opt-in, not the default: OpenAI's background guide shows text examples only and neither lists nor
 * excludes the image tool; the route adds a mainline model's tokens to each image; and its usage reports only
 * those tokens, so the image part is computed. `image/openai` (the synchronous Images call) stays the default.
 *
 * NOT REGISTERED (targets/registry.ts): written, never run against a fake, untested. No build can select it
 * (`providers: { image: "openai-background" }` is refused as an unknown provider) until it has a fake of the
 * Responses API with its failures and the tests every provider has.
 */
import { Effect, Schema } from "effect"
import * as Background from "../../src/providers/openai/Background.ts"
import { OpenAIClient } from "../../src/providers/openai/Client.ts"
import * as Paid from "../Paid.ts"
import * as Prompts from "../prompts/Prompts.ts"
import { defineImpl } from "../Rule.ts"
import * as Image from "./Image.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("openai-background"),
  /** The mainline model that calls the image tool. */
  model: Schema.String,
  imageModel: Schema.String,
  size: Schema.Literal("1024x1024", "1536x1024", "1024x1536", "auto"),
  quality: Schema.Literal("low", "medium", "high"),
  /** The film's style (the bible's, else the config's): every image's prompt ends with it. */
  style: Schema.String
})
type Recipe = typeof Recipe.Type

const request = (recipe: Recipe, prompt: string): Background.BackgroundRequest => ({
  model: recipe.model,
  imageModel: recipe.imageModel,
  prompt,
  size: recipe.size,
  quality: recipe.quality
})

export const impl = defineImpl({
  stage: "image",
  name: "openai-background",
  paid: true,
  about: {
    summary: "OpenAI images through a background response (OPENAI_IMAGE_MODEL via OPENAI_RESPONSES_MODEL), opt-in",
    needs: ["OPENAI_KEY (or OPENAI_API_KEY)"],
    price: { source: "src/providers/openai/prices.ts (the mainline model's reported tokens + the image's output tokens by size and quality)", checkedOn: "2026-12-01" },
    afterCrash: "re-attaches to the response OpenAI is making (kept with store: true), or uses the image already received",
    reattaches: true
  },
  missing: (providers) => (providers.openai.apiKey === "" ? ["OPENAI_KEY (or OPENAI_API_KEY)"] : []),
  recipe: Recipe,
  pool: "openai",
  verifyPool: "local",
  // The cast reaches it as text only (contract 6).
  references: "none",
  node: ({ shot }, { config, providers, director }) => Image.shotNode(shot, {
    provider: "openai-background",
    model: providers.openai.background.model,
    imageModel: providers.openai.imageModel,
    size: config.image.size,
    quality: config.image.quality,
    style: Prompts.styleOf(director, config.style)
  } satisfies Recipe, { references: false }),
  estimate: (recipe) => Background.estimate(request(recipe, "")),
  run: (ctx) =>
    Effect.gen(function*() {
      const client = yield* OpenAIClient
      const shot = { prompt: Image.shotPrompt(Image.shown(ctx), ctx.recipe.style) }
      const started = Date.now()
      const { image, repaid } = yield* Paid.paying(ctx, {
        provider: "openai",
        model: ctx.recipe.imageModel,
        estimate: Background.estimate(request(ctx.recipe, shot.prompt)),
        kept: ["submit", "answer"],
        call: (paying) => client.background(request(ctx.recipe, shot.prompt), paying.follow).pipe(Effect.map((image) => ({ image, repaid: paying.repaid })))
      })
      const again = image.repaid ?? repaid
      yield* ctx.request({
        provider: "openai",
        model: `${ctx.recipe.model} + ${ctx.recipe.imageModel}`,
        requestId: image.responseId,
        startedAt: started,
        endedAt: Date.now(),
        queueMs: image.queueMs,
        cost: image.cost,
        ...(again === undefined ? {} : { repaid: again })
      })
      return Image.stillOutput(ctx, image.bytes, image.ext, undefined)
    }),
  verify: (produced, ctx) => Image.verifyStill(ctx, produced, ["answer"], "the image OpenAI returned did not decode")
})
