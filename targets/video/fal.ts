/**
 * `video/fal`: fal image-to-video at the provider's own clip length (Kling "5"), never the shot's length: the
 * mux cuts the clip to the shot, so a timing change never re-buys a clip (DESIGN.md, the money rule). Paid.
 * The recipe holds the model and the request's fixed settings; the image and the prompt enter through their
 * output hashes.
 *
 * What it sends (issue 16): the shot's motion prompt and camera move (the plan's `motion.j`), and, with
 * `continuity: "end-frames"` on a model that takes an end frame (its `tail` field in the model table,
 * src/providers/fal/Video.ts: Kling pro's `tail_image_url`, Kling 2.6/v3's and Hailuo-02's `end_image_url`),
 * the next shot's image as the clip's last frame: that image then enters the fingerprint, and `why` says so.
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
import { motionAt, motionDep } from "../plan.ts"
import { defineImpl, type PlanContext } from "../Rule.ts"
import * as Video from "./Video.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("fal"),
  model: Schema.String,
  /** Wan's only (Kling has none): absent from other models' recipes, so their fingerprints do not carry it. */
  resolution: Schema.optional(Schema.Literal("480p", "720p")),
  /** The clip ends on the next shot's image (its third input). */
  tail: Schema.optional(Schema.Literal(true))
})

/** Whether the configured model takes an end frame (contract 8). */
const takesTail = (plan: PlanContext) => FalVideo.takesTailImage(plan.providers.fal.videoModel)

/** What the clip model is asked to do: the shot's motion and its camera move. */
export const motionPrompt = (motion: { readonly camera: string; readonly motion: string }) =>
  `${motion.motion.trim().replace(/[.\s]+$/u, "")}. Camera: ${motion.camera.replace("-", " ")}.`

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
  tailImage: takesTail,
  recipe: Recipe,
  // The node holds a "transfer" slot (its upload and download); fal's own slot only while fal works on the
  // request (Paid.inProvider: submit → result), so a finished clip's download never keeps fal waiting.
  pool: "transfer",
  verifyPool: "ffmpeg",
  node: ({ shot, tail }, plan) => {
    const { config, providers } = plan
    const model = providers.fal.videoModel
    const withTail = tail !== undefined && config.continuity === "end-frames" && takesTail(plan)
    return {
      id: ids.video(shot.k),
      kind: kinds.video,
      stage: "video",
      version: Video.version,
      recipe: {
        provider: "fal",
        model,
        ...(FalVideo.models[model]?.family === "wan" || FalVideo.models[model]?.family === "wan25" ? { resolution: config.video.resolution } : {}),
        ...(withTail ? { tail: true as const } : {})
      } satisfies typeof Recipe.Type,
      deps: [
        { id: ids.image(shot.k), output: "image" },
        motionDep(shot.n, shot.j),
        ...(withTail ? [{ id: ids.image(tail!.k), output: "image" }] : [])
      ]
    }
  },
  estimate: (recipe) => estimateOf(recipe),
  run: (ctx) =>
    Effect.gen(function*() {
      const fal = yield* FalClient
      const [imageDep, motionOf, tailDep] = ctx.node.deps
      const imageFile = ctx.file(imageDep!.id, "image")
      const motion = motionAt(ctx, motionOf!)
      const source = (file: string, name: string) => {
        const ext = path.extname(file).slice(1) || "png"
        return { bytes: fs.readFileSync(file), contentType: `image/${ext === "jpg" ? "jpeg" : ext}`, fileName: `${name}.${ext}` }
      }
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
                prompt: motionPrompt(motion),
                ...(ctx.recipe.resolution ? { resolution: ctx.recipe.resolution } : {}),
                image: source(imageFile, "shot"),
                ...(ctx.recipe.tail && tailDep ? { tailImage: source(ctx.file(tailDep.id, "image"), "end") } : {})
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
