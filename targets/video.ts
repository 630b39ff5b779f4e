/**
 * `shot:K:video`: motion for shot K.
 *
 * draft: Ken Burns over the card (zoompan), exactly the shot's length in frames; free, so it may read the
 *        timing. Over a draft card it moves the card's text-free plate and lays its lettering over it unmoved.
 * cloud: fal image-to-video at the provider's own clip length (Kling "5"), never the shot's length: the mux
 *        cuts the clip to the shot, so a timing change never re-buys a clip (DESIGN.md, the money rule). The
 *        recipe holds the model and the request's fixed settings; the image and the prompt enter through
 *        their output hashes.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import type { Config } from "../src/Config.ts"
import type { NodeSpec, Rule } from "../src/engine/Node.ts"
import { renderKenBurns, type CameraMove } from "../src/media/KenBurns.ts"
import { verifyMedia } from "../src/media/Verify.ts"
import * as FalVideo from "../src/providers/fal/Video.ts"
import * as Cloud from "./Cloud.ts"
import * as Prompts from "./prompts.ts"
import type { ShotRef } from "./image.ts"
import { ids, kinds, Settings } from "./Settings.ts"
import * as Resume from "./Resume.ts"

export const version = 1

type Env = { readonly [name: string]: string | undefined }

export const node = (shot: ShotRef, config: Config, env: Env): NodeSpec => {
  const image = { id: ids.image(shot.k), output: "image" }
  const prompt = { id: ids.prompts(shot.n), output: String(shot.j) }
  if (config.providers.video === "fal") {
    const model = Cloud.fal(env).videoModel
    return {
      id: ids.video(shot.k),
      kind: kinds.video,
      stage: "video",
      version,
      recipe: {
        provider: "fal",
        model,
        ...(FalVideo.models[model]?.family === "wan" ? { resolution: config.video.resolution } : {})
      },
      deps: [image, prompt]
    }
  }
  return {
    id: ids.video(shot.k),
    kind: kinds.video,
    stage: "video",
    version,
    recipe: { provider: "kenburns", width: config.width, height: config.height, fps: config.fps },
    // Over a card: the plate moves, the lettering stays; over another image (OpenAI's) the whole picture moves.
    deps: config.providers.image === "card"
      ? [{ ...image, output: "plate" }, prompt, { id: ids.timing(shot.n), output: String(shot.j) }, { ...image, output: "lettering" }]
      : [image, prompt, { id: ids.timing(shot.n), output: String(shot.j) }]
  }
}


export const rule: Rule<unknown, any> = {
  kind: kinds.video,
  pool: (node) => (node.recipe.provider === "fal" ? "fal" : "ffmpeg"),
  paid: (node) => node.recipe.provider === "fal",
  estimate: (node) =>
    node.recipe.provider === "fal"
      ? FalVideo.estimate(String(node.recipe.model), {
          prompt: "",
          ...(node.recipe.resolution ? { resolution: node.recipe.resolution as "480p" | "720p" } : {})
        })
      : { usd: 0, source: "free" },
  run: (ctx) =>
    Effect.gen(function* () {
      const recipe = ctx.node.recipe
      const imageDep = ctx.node.deps[0]!
      const imageFile = ctx.file(imageDep.id, imageDep.output ?? "image")
      const shot = Prompts.shotAt(ctx, ctx.node.deps[1]!)
      const file = path.join(ctx.scratch, "clip.mp4")
      if (recipe.provider === "fal") {
        const ws = yield* Settings
        const f = Cloud.fal(ws.env)
        const ext = path.extname(imageFile).slice(1) || "png"
        const clip = yield* FalVideo.animate({
          baseUrl: f.baseUrl,
          storageUrl: f.storageUrl,
          apiKey: f.apiKey,
          model: String(recipe.model),
          prompt: shot.prompt,
          ...(recipe.resolution ? { resolution: recipe.resolution as "480p" | "720p" } : {}),
          image: { bytes: fs.readFileSync(imageFile), contentType: `image/${ext === "jpg" ? "jpeg" : ext}`, fileName: `shot.${ext}` },
          allowedBases: Cloud.allowedBases(ws.env),
          ...(Cloud.falPollMs(ws.env) ? { pollMs: Cloud.falPollMs(ws.env)! } : {}),
          ...(yield* Resume.fal(ctx))
        })
        yield* ctx.request(clip.record)
        fs.writeFileSync(file, clip.bytes)
      } else {
        const framesDep = ctx.node.deps[2]!
        const letteringDep = ctx.node.deps[3]
        yield* renderKenBurns({
          image: imageFile,
          lettering: letteringDep ? ctx.file(letteringDep.id, letteringDep.output!) : undefined,
          out: file,
          frames: Number(ctx.value(framesDep.id, framesDep.output!)),
          fps: Number(recipe.fps),
          width: Number(recipe.width),
          height: Number(recipe.height),
          camera: shot.camera as CameraMove
        })
      }
      yield* verifyMedia(file, { video: true })
      return { video: { file, ext: "mp4" } }
    })
}
