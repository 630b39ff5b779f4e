/**
 * `image/a1111`: stills from the user's own GPU, an AUTOMATIC1111 or Forge server (`A1111_BASE_URL`, started
 * with `--api`). Free. The seed is part of the recipe: the pinned `image.seed`, or null (then derived from the
 * node's fingerprint, `../Seed.ts`), so the same prompt and seed find the same picture, and `build --force`
 * draws a new seed (a new take). The seed the server used is kept in the record (`seed` output).
 *
 * It runs in the "gpu" pool (one at a time by default: `pools: { gpu: N }` for a server with several).
 */
import { Effect, Schema } from "effect"
import { A1111Client } from "../../src/providers/a1111/Client.ts"
import * as Journal from "../Journal.ts"
import * as Prompts from "../prompts/Prompts.ts"
import { defineImpl } from "../Rule.ts"
import * as Seed from "../Seed.ts"
import * as Image from "./Image.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("a1111"),
  width: Schema.Number,
  height: Schema.Number,
  sampler: Schema.String,
  steps: Schema.Number,
  cfgScale: Schema.Number,
  checkpoint: Schema.String,
  negativePrompt: Schema.String,
  seed: Schema.NullOr(Schema.Number),
  /** The film's style (the bible's, else the config's): every image's prompt ends with it. */
  style: Schema.String
})

const negative = "text, caption, watermark, logo, blurry, deformed"

const sizeOf = (size: string): readonly [number, number] => (size === "1024x1536" ? [1024, 1536] : size === "1024x1024" ? [1024, 1024] : [1536, 1024])

export const impl = defineImpl({
  stage: "image",
  name: "a1111",
  paid: false,
  about: {
    summary: "a self-hosted AUTOMATIC1111 / Forge server (A1111_BASE_URL), seeded takes",
    needs: [],
    price: "free",
    afterCrash: "uses the image already received; otherwise asks the server again (free, same seed)",
    reattaches: false
  },
  recipe: Recipe,
  pool: "gpu",
  verifyPool: "local",
  // No references (txt2img): the cast reaches it as text only (contract 6).
  references: "none",
  node: ({ shot }, { config, providers, director }) => {
    const [width, height] = sizeOf(config.image.size)
    return Image.shotNode(shot, {
      provider: "a1111",
      width,
      height,
      sampler: providers.a1111.sampler,
      steps: providers.a1111.steps,
      cfgScale: providers.a1111.cfgScale,
      checkpoint: providers.a1111.checkpoint,
      negativePrompt: negative,
      seed: config.image.seed ?? null,
      style: Prompts.styleOf(director, config.style)
    } satisfies typeof Recipe.Type, { references: false })
  },
  run: (ctx) =>
    Effect.gen(function*() {
      const server = yield* A1111Client
      const prompt = Image.shotPrompt(Image.shown(ctx), ctx.recipe.style)
      const seed = yield* Seed.seedFor(ctx, ctx.recipe.seed)
      const started = Date.now()
      const journal = yield* Journal.of(ctx)
      const { style: _style, ...settings } = ctx.recipe
      const still = yield* server.txt2img({ ...settings, prompt, seed }, { journal })
      yield* ctx.request({ provider: "a1111", model: still.model ?? (ctx.recipe.checkpoint || "the server's model"), startedAt: started, endedAt: Date.now(), cost: { usd: 0, source: "free" } })
      return Image.stillOutput(ctx, still.bytes, still.ext === "jpeg" ? "jpg" : still.ext, still.seed)
    }),
  verify: (produced, ctx) => Image.verifyStill(ctx, produced, ["answer"])
})

