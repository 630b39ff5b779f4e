/**
 * `video/replicate`: image-to-video through Replicate's predictions API (REPLICATE_VIDEO_MODEL, Stable Video
 * Diffusion by default: 25 frames at 6 fps, a 4.17 s clip the mux cuts to the shot). Paid, and re-attachable:
 * the prediction's id is kept in the node's journal with the create answer's bytes before anything reads
 * them, so a build killed while Replicate works collects the same prediction next time instead of paying for
 * another. A Ctrl-C cancels a prediction still `starting` (nothing billed) and leaves a `processing` one.
 *
 * The seed is derived from the node's fingerprint (`../Seed.ts`): the same inputs ask for the same take, and
 * `--force` draws a new one; the seed used is the node's `seed` output, kept in the record.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { ids, kinds } from "../../src/Film.ts"
import { ReplicateClient } from "../../src/providers/replicate/Client.ts"
import * as Predictions from "../../src/providers/replicate/Predictions.ts"
import { checkedOn, source } from "../../src/providers/replicate/prices.ts"
import * as Paid from "../Paid.ts"
import { defineImpl } from "../Rule.ts"
import * as Seed from "../Seed.ts"
import * as Video from "./Video.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("replicate"),
  /** `owner/name:version` (a community model) or `owner/name` (an official one). */
  model: Schema.String
})

export const impl = defineImpl({
  stage: "video",
  name: "replicate",
  paid: true,
  about: {
    summary: "Replicate predictions (REPLICATE_VIDEO_MODEL, Stable Video Diffusion), a 4.17 s clip cut to the shot",
    needs: ["REPLICATE_API_TOKEN"],
    price: { source, checkedOn },
    afterCrash: "re-attaches to the prediction Replicate is working on (outputs are kept about an hour), or uses the clip already received",
    reattaches: true
  },
  missing: (providers) => (providers.replicate.apiToken === "" ? ["REPLICATE_API_TOKEN"] : []),
  recipe: Recipe,
  pool: "replicate",
  verifyPool: "ffmpeg",
  node: ({ shot }, { providers }) => ({
    id: ids.video(shot.k),
    kind: kinds.video,
    stage: "video",
    version: Video.version,
    recipe: { provider: "replicate", model: providers.replicate.model } satisfies typeof Recipe.Type,
    // SVD takes no prompt: only the still enters the fingerprint.
    deps: [{ id: ids.image(shot.k), output: "image" }]
  }),
  estimate: (recipe) => Predictions.estimate(recipe.model),
  run: (ctx) =>
    Effect.gen(function*() {
      const replicate = yield* ReplicateClient
      const imageFile = ctx.file(ctx.node.deps[0]!.id, "image")
      const ext = path.extname(imageFile).slice(1) || "png"
      const seed = yield* Seed.seedFor(ctx, null)
      const started = Date.now()
      const { clip, repaid } = yield* Paid.paying(ctx, {
        provider: "replicate",
        model: ctx.recipe.model,
        estimate: Predictions.estimate(ctx.recipe.model),
        kept: ["submit", "answer", "file"],
        call: (paying) =>
          replicate
            .animate(
              {
                model: ctx.recipe.model,
                seed,
                image: { bytes: new Uint8Array(fs.readFileSync(imageFile)), contentType: `image/${ext === "jpg" ? "jpeg" : ext}`, fileName: `shot.${ext}` }
              },
              paying.follow
            )
            .pipe(Effect.map((clip) => ({ clip, repaid: paying.repaid })))
      })
      const again = clip.repaid ?? repaid
      yield* ctx.request({
        provider: "replicate",
        model: ctx.recipe.model,
        requestId: clip.predictionId,
        startedAt: clip.resumed ? started : clip.submittedAt,
        endedAt: Date.now(),
        queueMs: clip.queueMs,
        cost: clip.cost,
        ...(again === undefined ? {} : { repaid: again })
      })
      const file = path.join(ctx.scratch, "clip.mp4")
      fs.writeFileSync(file, clip.bytes)
      return { video: { file, ext: "mp4" }, seed: { value: clip.seed } }
    }),
  // Out of the provider's pool: the check takes an ffmpeg slot, not a Replicate one (contract 4).
  verify: (produced, ctx) => Video.verify(produced).pipe(Paid.droppingOnFailure(ctx, ["answer", "file"]))
})
