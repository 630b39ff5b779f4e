/**
 * `image/fal`: stills through fal's queue (FALAI_IMAGE_MODEL). Paid, and re-attachable: the request is kept in
 * the node's journal from its submit on, so a build killed or stopped while fal makes the image collects it
 * next time instead of paying again (OpenAI's Images call cannot do that: `image/openai`).
 *
 * A shot that shows reference images (the cast's character sheets, contract 6) goes to the edit member of the
 * configured model's pair (e.g. `fal-ai/flux-pro/kontext/multi`), with the sheets uploaded through fal
 * storage; a shot without goes to the text member. The recipe names the model actually used, the size, the
 * quality, the references' names and hashes and, for models that take one, the pinned seed (or null: derived
 * from the fingerprint, see `../Seed.ts`); the prompt enters through its output hash.
 */
import { Effect, Schema } from "effect"
import type { NodeSpec } from "../../src/engine/Node.ts"
import { FalClient } from "../../src/providers/fal/Client.ts"
import * as FalImage from "../../src/providers/fal/Image.ts"
import * as Paid from "../Paid.ts"
import * as Prompts from "../prompts/Prompts.ts"
import { defineImpl } from "../Rule.ts"
import * as Seed from "../Seed.ts"
import * as Image from "./Image.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("fal"),
  model: Schema.String,
  size: Schema.Literal("1024x1024", "1536x1024", "1024x1536", "auto"),
  /** Only for models whose request carries one (OpenAI's on fal): Kontext, Seedream and Nano Banana take
   *  none, so a quality setting must not re-buy their stills (the money rule). */
  quality: Schema.optional(Schema.Literal("low", "medium", "high")),
  /** Only for models that take a seed: the pinned one, or null (derived from the fingerprint). */
  seed: Schema.optional(Schema.NullOr(Schema.Number)),
  references: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String, hash: Schema.optional(Schema.String) })))
})
type Recipe = typeof Recipe.Type

const estimateOf = (recipe: Recipe) => FalImage.estimate({ model: recipe.model, prompt: "x".repeat(400), size: recipe.size, quality: recipe.quality ?? "medium" })

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
  references: "edit",
  missing: (providers) => (providers.fal.apiKey === "" ? ["FAL_KEY"] : []),
  recipe: Recipe,
  pool: "fal",
  verifyPool: "ffmpeg",
  node: ({ shot, references = [] }, { config, providers }) => {
    const configured = providers.fal.imageModel
    // An unknown model is kept as written: the run says which ones exist.
    const model = FalImage.modelFor(configured, references.length > 0) ?? configured
    const spec = FalImage.models[model]
    const seeded = spec?.seeded === true
    const takesQuality = spec === undefined || spec.family === "gpt-image-1" || spec.family === "gpt-image-2"
    const recipe: Recipe = {
      provider: "fal",
      model,
      size: config.image.size,
      ...(takesQuality ? { quality: config.image.quality } : {}),
      ...(seeded ? { seed: config.image.seed ?? null } : {}),
      ...(references.length > 0 ? { references: Image.referenceParts(references).recipe } : {})
    }
    return Image.paidNode(shot, recipe as unknown as NodeSpec["recipe"], references, Prompts.promptDep(shot.n, shot.j))
  },
  estimate: (recipe) => estimateOf(recipe),
  run: (ctx) =>
    Effect.gen(function*() {
      const fal = yield* FalClient
      const shot = Prompts.shotAt(ctx, ctx.node.deps[0]!)
      const spec = FalImage.models[ctx.recipe.model]
      const seed = spec?.seeded === true ? yield* Seed.seedFor(ctx, ctx.recipe.seed ?? null) : 0
      const references = Image.referencesOf(ctx)
      const { still, repaid } = yield* Paid.paying(ctx, {
        provider: "fal",
        model: ctx.recipe.model,
        estimate: estimateOf(ctx.recipe),
        kept: ["submit", "file"],
        call: (paying) =>
          fal
            .image({ model: ctx.recipe.model, prompt: shot.prompt, size: ctx.recipe.size, quality: ctx.recipe.quality ?? "medium", seed }, references, paying.follow)
            .pipe(Effect.map((still) => ({ still, repaid: paying.repaid })))
      })
      const again = still.record.repaid ?? repaid
      yield* ctx.request({ ...still.record, ...(again === undefined ? {} : { repaid: again }) })
      const ext = /jpe?g/i.test(still.contentType) ? "jpg" : /webp/i.test(still.contentType) ? "webp" : "png"
      return Image.stillOutput(ctx, still.bytes, ext, still.seed)
    }),
  // Out of the provider's pool: the check takes an ffmpeg slot, not a fal one (contract 4).
  verify: (produced, ctx) => Image.verifyStill(ctx, produced, ["file"])
})

