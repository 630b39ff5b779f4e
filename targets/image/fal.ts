/**
 * `image/fal`: stills through fal's queue (FALAI_IMAGE_MODEL). Paid, and re-attachable: the request is kept in
 * the node's journal from its submit on, so a build killed or stopped while fal makes the image collects it
 * next time instead of paying again (OpenAI's Images call cannot do that: `image/openai`).
 *
 * The prompt is the plan's still (`sentence:N:plan#still.J`) with the cast and place it shows (`Image.withCast`,
 * `Image.shotPrompt`). A shot that shows characters with sheets (contract 6, references "edit" when the
 * configured model has an edit member) goes to the edit member of the model's pair (e.g.
 * `fal-ai/flux-pro/kontext/multi`), the sheets uploaded through fal storage as `image_urls`; a shot without
 * goes to the text member. The sheets' output hashes enter the fingerprint as dependencies. The recipe names
 * the text member, the size, the quality, the style and, for models that take one, the pinned seed (or null:
 * derived from the fingerprint, see `../Seed.ts`). Character sheets are made here too (`character:ID:sheet`).
 */
import { Effect, Schema } from "effect"
import { FalClient } from "../../src/providers/fal/Client.ts"
import * as FalImage from "../../src/providers/fal/Image.ts"
import type { ProviderConfig } from "../../src/providers/ProviderConfig.ts"
import * as Paid from "../Paid.ts"
import * as Prompts from "../prompts/Prompts.ts"
import { defineImpl, type PlanContext } from "../Rule.ts"
import * as Seed from "../Seed.ts"
import * as Image from "./Image.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("fal"),
  /** The text member of the configured pair; a shot with references is sent to its edit member. */
  model: Schema.String,
  size: Schema.Literal("1024x1024", "1536x1024", "1024x1536", "auto"),
  /** Only for models whose request carries one (OpenAI's on fal): Kontext, Seedream and Nano Banana take
   *  none, so a quality setting must not re-buy their stills (the money rule). */
  quality: Schema.optional(Schema.Literal("low", "medium", "high")),
  /** Only for models that take a seed: the pinned one, or null (derived from the fingerprint). */
  seed: Schema.optional(Schema.NullOr(Schema.Number)),
  /** The film's style (the bible's, else the config's): every image's prompt ends with it. */
  style: Schema.String
})
type Recipe = typeof Recipe.Type

const estimateOf = (recipe: Recipe) => FalImage.estimate({ model: recipe.model, prompt: "x".repeat(400), size: recipe.size, quality: recipe.quality ?? "medium" })

/** "edit" when the configured model has an edit member (it can take the sheets), else "none". */
const referencesFor = (providers: ProviderConfig): "none" | "edit" => {
  const configured = providers.fal.imageModel
  return FalImage.models[configured] !== undefined && FalImage.modelFor(configured, true) !== undefined ? "edit" : "none"
}

const recipeOf = ({ config, providers, director }: PlanContext): Recipe => {
  const configured = providers.fal.imageModel
  // An unknown model is kept as written: the run says which ones exist.
  const model = FalImage.modelFor(configured, false) ?? configured
  const spec = FalImage.models[model]
  const seeded = spec?.seeded === true
  const takesQuality = spec === undefined || spec.family === "gpt-image-1" || spec.family === "gpt-image-2"
  return {
    provider: "fal",
    model,
    size: config.image.size,
    ...(takesQuality ? { quality: config.image.quality } : {}),
    ...(seeded ? { seed: config.image.seed ?? null } : {}),
    style: Prompts.styleOf(director, config.style)
  }
}

export const impl = defineImpl({
  stage: "image",
  name: "fal",
  paid: true,
  about: {
    summary: "fal.ai stills through the queue (FALAI_IMAGE_MODEL; recommended when FAL_KEY is set)",
    needs: ["FAL_KEY"],
    price: { source: "src/providers/fal/prices.ts (fal.ai model pages, per image; a source and date per model)", checkedOn: "2026-12-01" },
    afterCrash: "re-attaches to the request fal is working on, or uses the image already received",
    reattaches: true
  },
  references: referencesFor,
  missing: (providers) => (providers.fal.apiKey === "" ? ["FAL_KEY"] : []),
  recipe: Recipe,
  pool: "fal",
  verifyPool: "local",
  node: ({ shot }, plan) => Image.shotNode(shot, recipeOf(plan), { references: referencesFor(plan.providers) === "edit" }),
  sheet: ({ id }, plan) => Image.sheetNode(id, recipeOf(plan)),
  estimate: (recipe) => estimateOf(recipe),
  run: (ctx) =>
    Effect.gen(function*() {
      const fal = yield* FalClient
      const shown = Image.shown(ctx)
      const sheet = Image.isSheet(ctx)
      const prompt = sheet ? Image.sheetPrompt(Image.sheetEntry(ctx), ctx.recipe.style) : Image.shotPrompt(shown, ctx.recipe.style)
      const references = sheet ? [] : Image.referenceBytes(shown.references)
      const model = references.length > 0 ? FalImage.modelFor(ctx.recipe.model, true) ?? ctx.recipe.model : ctx.recipe.model
      const spec = FalImage.models[model]
      const seed = spec?.seeded === true ? yield* Seed.seedFor(ctx, ctx.recipe.seed ?? null) : 0
      const { still, repaid } = yield* Paid.paying(ctx, {
        provider: "fal",
        model,
        estimate: estimateOf({ ...ctx.recipe, model }),
        kept: ["submit", "file"],
        call: (paying) =>
          fal
            .image({ model, prompt, size: ctx.recipe.size, quality: ctx.recipe.quality ?? "medium", seed }, references, paying.follow)
            .pipe(Effect.map((still) => ({ still, repaid: paying.repaid })))
      })
      const again = still.record.repaid ?? repaid
      yield* ctx.request({ ...still.record, ...(again === undefined ? {} : { repaid: again }) })
      const ext = /jpe?g/i.test(still.contentType) ? "jpg" : /webp/i.test(still.contentType) ? "webp" : "png"
      return Image.stillOutput(ctx, still.bytes, ext, still.seed)
    }),
  // Out of the provider's pool (contract 4): a PNG is checked in the process, anything else in an ffmpeg slot.
  verify: (produced, ctx) => Image.verifyStill(ctx, produced, ["file"])
})
