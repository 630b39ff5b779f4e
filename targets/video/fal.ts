/**
 * `video/fal`: fal image-to-video at the provider's own clip length (Kling "5"), never the shot's length: the
 * mux cuts the clip to the shot, so a timing change never re-buys a clip (DESIGN.md, the money rule). Paid.
 * The recipe holds the model and the request's fixed settings; the image and the prompt enter through their
 * output hashes.
 *
 * The request is kept in the node's journal from its submit on. A Ctrl-C cancels it only while it waits in
 * fal's queue (not billed); once fal works on it, its handle stays and the next build collects the clip.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import type { NodeSpec } from "../../src/engine/Node.ts"
import { ids, kinds } from "../../src/Film.ts"
import { FalClient } from "../../src/providers/fal/Client.ts"
import { checkedOn } from "../../src/providers/fal/prices.ts"
import * as FalVideo from "../../src/providers/fal/Video.ts"
import * as Paid from "../Paid.ts"
import * as Prompts from "../prompts/Prompts.ts"
import { defineImpl } from "../Rule.ts"
import * as Video from "./Video.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("fal"),
  model: Schema.String,
  /** Wan's only (Kling has none): absent from other models' recipes, so their fingerprints do not carry it. */
  resolution: Schema.optional(Schema.Literal("480p", "720p")),
  /** The clip ends on a given image (contract 8), on the models that have the field: the image enters the
   *  fingerprint as its output hash (a dependency) or its stored hash. */
  tail: Schema.optional(Schema.Struct({ hash: Schema.optional(Schema.String) }))
})

const estimateOf = (recipe: typeof Recipe.Type) =>
  FalVideo.estimate(recipe.model, { prompt: "", ...(recipe.resolution ? { resolution: recipe.resolution } : {}) })

export const impl = defineImpl({
  stage: "video",
  name: "fal",
  paid: true,
  about: {
    summary: "fal.ai image-to-video (FALAI_VIDEO_MODEL), a 5 s clip cut to the shot",
    needs: ["FAL_KEY"],
    price: { source: "src/providers/fal/prices.ts (fal.ai model pages, per second or per clip)", checkedOn },
    afterCrash: "re-attaches to the request fal is working on, or uses the clip already received",
    reattaches: true
  },
  missing: (providers) => (providers.fal.apiKey === "" ? ["FAL_KEY"] : []),
  // Kling 1.6/2.1/2.5 pro (tail_image_url), 2.6 and v3 and Hailuo-02 (end_image_url).
  tailImage: (providers) => FalVideo.takesTailImage(providers.fal.videoModel),
  recipe: Recipe,
  // The node holds a "transfer" slot (its upload and download); fal's own slot only while fal works on the
  // request (Paid.inProvider: submit → result), so a finished clip's download never keeps fal waiting.
  pool: "transfer",
  verifyPool: "ffmpeg",
  node: ({ shot, tailImage }, { config, providers }) => {
    const model = providers.fal.videoModel
    // A model without the field ignores the end frame (`storyshot providers` says which models take one).
    const tail = tailImage !== undefined && FalVideo.takesTailImage(model) ? tailImage : undefined
    return {
      id: ids.video(shot.k),
      kind: kinds.video,
      stage: "video",
      version: Video.version,
      recipe: {
        provider: "fal",
        model,
        // Wan's request carries the resolution (both versions); Kling's and Hailuo's do not.
        ...(FalVideo.models[model]?.family === "wan" || FalVideo.models[model]?.family === "wan25" ? { resolution: config.video.resolution } : {}),
        ...(tail === undefined ? {} : { tail: "dep" in tail ? ({} as { hash?: string }) : { hash: tail.hash } })
      } as typeof Recipe.Type as NodeSpec["recipe"],
      ...(tail === undefined || "dep" in tail ? {} : { context: { tailFile: tail.file } }),
      deps: [{ id: ids.image(shot.k), output: "image" }, Prompts.promptDep(shot.n, shot.j), ...(tail !== undefined && "dep" in tail ? [tail.dep] : [])]
    }
  },
  estimate: (recipe) => estimateOf(recipe),
  run: (ctx) =>
    Effect.gen(function*() {
      const fal = yield* FalClient
      const [imageDep, promptDep, tailDep] = ctx.node.deps
      const imageFile = ctx.file(imageDep!.id, "image")
      const tailFile = ctx.recipe.tail === undefined
        ? undefined
        : tailDep !== undefined
        ? ctx.file(tailDep.id, tailDep.output ?? "image")
        : String(ctx.node.context?.tailFile ?? "")
      const asImage = (file: string) => {
        const e = path.extname(file).slice(1) || "png"
        return { bytes: new Uint8Array(fs.readFileSync(file)), contentType: `image/${e === "jpg" ? "jpeg" : e}`, fileName: `shot.${e}` }
      }
      const shot = Prompts.shotAt(ctx, promptDep!)
      const ext = path.extname(imageFile).slice(1) || "png"
      const { clip, repaid } = yield* Paid.paying(ctx, {
        provider: "fal",
        model: ctx.recipe.model,
        estimate: estimateOf(ctx.recipe),
        kept: ["submit", "file"],
        call: (paying) =>
          fal
            .animate(
              {
                model: ctx.recipe.model,
                prompt: shot.prompt,
                ...(ctx.recipe.resolution ? { resolution: ctx.recipe.resolution } : {}),
                image: { bytes: fs.readFileSync(imageFile), contentType: `image/${ext === "jpg" ? "jpeg" : ext}`, fileName: `shot.${ext}` },
                ...(tailFile === undefined ? {} : { tailImage: asImage(tailFile) })
              },
              Paid.inProvider(ctx, "fal", paying.follow)
            )
            .pipe(Effect.map((clip) => ({ clip, repaid: paying.repaid })))
      })
      const again = clip.record.repaid ?? repaid
      yield* ctx.request({ ...clip.record, ...(again === undefined ? {} : { repaid: again }) })
      const file = path.join(ctx.scratch, "clip.mp4")
      fs.writeFileSync(file, clip.bytes)
      return { video: { file, ext: "mp4" } }
    }),
  // Out of the provider's pool: the check takes an ffmpeg slot, not a fal one (contract 4).
  verify: (produced, ctx) => Video.verify(produced).pipe(Paid.droppingOnFailure(ctx, ["file"]))
})
