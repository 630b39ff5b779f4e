/**
 * `image/openai`: OpenAI Images (GPT image models). Paid. The request holds only the prompt, model, size and
 * quality (the money rule), and, for a shot that shows characters, their sheets: then the image is made with
 * `POST /images/edits`, one `image[]` part per sheet and `input_fidelity: "high"`, so the same faces and clothes
 * come back in every shot (contract 6, references "edit"). Character sheets are made here too
 * (`character:ID:sheet`, `/images/generations`). The answer's bytes are kept in the node's journal as they arrive, before the
 * base64 is decoded: a build killed after it came back uses it and pays nothing again; a Ctrl-C while an
 * image is being made waits for it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { OpenAIClient } from "../../src/providers/openai/Client.ts"
import * as Images from "../../src/providers/openai/Images.ts"
import { checkedOn } from "../../src/providers/openai/prices.ts"
import * as Paid from "../Paid.ts"
import * as Prompts from "../prompts/Prompts.ts"
import { defineImpl, type PlanContext } from "../Rule.ts"
import * as Image from "./Image.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("openai"),
  model: Schema.String,
  size: Schema.Literal("1024x1024", "1536x1024", "1024x1536", "auto"),
  quality: Schema.Literal("low", "medium", "high", "auto"),
  format: Schema.Literal("png"),
  /** The film's style (the bible's, else the config's): every image's prompt ends with it. */
  style: Schema.String
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

const recipeOf = (plan: PlanContext): typeof Recipe.Type => ({
  provider: "openai",
  model: plan.providers.openai.imageModel,
  size: plan.config.image.size,
  quality: plan.config.image.quality,
  format: "png",
  style: Prompts.styleOf(plan.director, plan.config.style)
})

const contentTypeOf = (file: string) => {
  const ext = path.extname(file).toLowerCase()
  return ext === ".jpg" || ext === ".jpeg" ? ("image/jpeg" as const) : ext === ".webp" ? ("image/webp" as const) : ("image/png" as const)
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
  references: "edit",
  missing: (providers) => (providers.openai.apiKey === "" ? ["OPENAI_KEY (or OPENAI_API_KEY)"] : []),
  recipe: Recipe,
  pool: "openai",
  verifyPool: "local",
  node: ({ shot }, plan) => Image.shotNode(shot, recipeOf(plan), { references: true }),
  sheet: ({ id }, plan) => Image.sheetNode(id, recipeOf(plan)),
  estimate: (recipe) => estimate(recipe.model, recipe.size, recipe.quality),
  run: (ctx) =>
    Effect.gen(function*() {
      const client = yield* OpenAIClient
      const shown = Image.shown(ctx)
      const prompt = Image.isSheet(ctx) ? Image.sheetPrompt(Image.sheetEntry(ctx), ctx.recipe.style) : Image.shotPrompt(shown, ctx.recipe.style)
      const request = { model: ctx.recipe.model, prompt, size: ctx.recipe.size, quality: ctx.recipe.quality, outputFormat: ctx.recipe.format }
      const references = Image.isSheet(ctx) ? [] : shown.references
      const started = Date.now()
      const { image, repaid } = yield* Paid.paying(ctx, {
        provider: "openai",
        model: ctx.recipe.model,
        estimate: estimate(ctx.recipe.model, ctx.recipe.size, ctx.recipe.quality),
        kept: ["answer"],
        call: (paying) =>
          (references.length > 0
            ? client.edit(
              {
                ...request,
                images: references.map((r, i) => ({ bytes: fs.readFileSync(r.file), fileName: `sheet-${i + 1}${path.extname(r.file) || ".png"}`, contentType: contentTypeOf(r.file) })),
                inputFidelity: "high"
              },
              paying.follow
            )
            : client.generate(request, paying.follow))
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
  // Out of the provider's pool (contract 4): a PNG is checked in the process, anything else in an ffmpeg slot.
  verify: (produced, ctx) => Image.verifyStill(ctx, produced, ["answer"], "the image OpenAI returned did not decode")
})
