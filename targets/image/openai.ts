/**
 * `image/openai`: OpenAI Images (GPT image models). Paid. The request holds only the prompt, model, size and
 * quality (the money rule). The answer's bytes are kept in the node's journal as they arrive, before the
 * base64 is decoded: a build killed after it came back uses it and pays nothing again; a Ctrl-C while an
 * image is being made waits for it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { ids, kinds } from "../../src/Film.ts"
import { verifyMedia } from "../../src/media/Verify.ts"
import { OpenAIClient } from "../../src/providers/openai/Client.ts"
import * as Images from "../../src/providers/openai/Images.ts"
import { checkedOn } from "../../src/providers/openai/prices.ts"
import * as Paid from "../Paid.ts"
import * as Prompts from "../prompts/Prompts.ts"
import { defineImpl } from "../Rule.ts"
import * as Image from "./Image.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("openai"),
  model: Schema.String,
  size: Schema.Literal("1024x1024", "1536x1024", "1024x1536", "auto"),
  quality: Schema.Literal("low", "medium", "high", "auto"),
  format: Schema.Literal("png")
})

/**
 * Image output tokens of GPT image models by size and quality (OpenAI's image pricing guide); the text input
 * is a few hundred tokens. Used for estimates only: the real cost comes from the answer's `usage`.
 */
const outputTokens: Record<string, Record<string, number>> = {
  low: { square: 272, wide: 408 },
  medium: { square: 1056, wide: 1584 },
  high: { square: 4160, wide: 6240 }
}

export const estimate = (model: string, size: string, quality: string) => {
  const image = outputTokens[quality]?.[size === "1024x1024" ? "square" : "wide"] ?? 1584
  return Images.costOf(model, {
    inputTokens: 300,
    outputTokens: image,
    textInputTokens: 300,
    imageInputTokens: 0,
    textOutputTokens: 0,
    imageOutputTokens: image
  })
}

export const impl = defineImpl({
  stage: "image",
  name: "openai",
  paid: true,
  about: {
    summary: "OpenAI Images (OPENAI_IMAGE_MODEL)",
    needs: ["OPENAI_KEY (or OPENAI_API_KEY)"],
    price: { source: "src/providers/openai/prices.ts (OpenAI pricing page, per token of the answer's usage)", checkedOn },
    afterCrash: "uses the image already received; a Ctrl-C waits for one on its way",
    reattaches: true
  },
  missing: (providers) => (providers.openai.apiKey === "" ? ["OPENAI_KEY (or OPENAI_API_KEY)"] : []),
  recipe: Recipe,
  pool: "openai",
  verifyPool: "ffmpeg",
  node: ({ shot }, { config, providers }) => ({
    id: ids.image(shot.k),
    kind: kinds.image,
    stage: "image",
    version: Image.version,
    recipe: { provider: "openai", model: providers.openai.imageModel, size: config.image.size, quality: config.image.quality, format: "png" } satisfies typeof Recipe.Type,
    deps: [Prompts.promptDep(shot.n, shot.j)]
  }),
  estimate: (recipe) => estimate(recipe.model, recipe.size, recipe.quality),
  run: (ctx) =>
    Effect.gen(function*() {
      const client = yield* OpenAIClient
      const shot = Prompts.shotAt(ctx, ctx.node.deps[0]!)
      const started = Date.now()
      const { image, repaid } = yield* Paid.paying(ctx, {
        provider: "openai",
        model: ctx.recipe.model,
        estimate: estimate(ctx.recipe.model, ctx.recipe.size, ctx.recipe.quality),
        kept: ["answer"],
        call: (paying) =>
          client
            .generate({ model: ctx.recipe.model, prompt: shot.prompt, size: ctx.recipe.size, quality: ctx.recipe.quality, outputFormat: ctx.recipe.format }, paying.follow)
            .pipe(Effect.map((image) => ({ image, repaid: paying.repaid })))
      })
      yield* ctx.request({
        provider: "openai",
        model: ctx.recipe.model,
        requestId: image.requestId,
        startedAt: started,
        endedAt: Date.now(),
        cost: image.cost,
        ...(repaid === undefined ? {} : { repaid })
      })
      const file = path.join(ctx.scratch, `image.${image.ext}`)
      fs.writeFileSync(file, image.bytes)
      return { image: { file, ext: image.ext } }
    }),
  // Out of the provider's pool: the check takes an ffmpeg slot, not an OpenAI one (contract 4).
  verify: (produced, ctx) => {
    const image = produced.image
    return image !== undefined && "file" in image
      ? verifyMedia(image.file, { image: true }).pipe(Effect.asVoid, Paid.droppingOnFailure(ctx, ["answer"], "the image OpenAI returned did not decode"))
      : Effect.void
  }
})
