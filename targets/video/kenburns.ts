/**
 * `video/kenburns`: Ken Burns motion over the still (ffmpeg zoompan), exactly the shot's length in frames.
 * Free, so it may read the timing; the draft profile's clips. Over an image that comes in layers (the draft
 * card's) it moves the text-free plate and lays the lettering over it unmoved; over another image (OpenAI's)
 * the whole picture moves.
 */
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { ids, kinds } from "../../src/Film.ts"
import { renderKenBurns, type CameraMove } from "../../src/media/KenBurns.ts"
import { motionAt, motionDep } from "../plan.ts"
import { defineImpl, pick } from "../Rule.ts"
import * as Video from "./Video.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("kenburns"),
  width: Schema.Number,
  height: Schema.Number,
  fps: Schema.Number,
  /** A keyframe at this frame: the length of a transition into the shot, after which the mux copies the clip. */
  keyframe: Schema.optional(Schema.Number)
})

export const impl = defineImpl({
  stage: "video",
  name: "kenburns",
  paid: false,
  about: {
    summary: "Ken Burns motion over the still (ffmpeg zoompan), offline",
    needs: [],
    price: "free",
    afterCrash: "rendered again (free)",
    reattaches: false
  },
  recipe: Recipe,
  pool: "ffmpeg",
  node: ({ shot }, { config }) => {
    const layers = pick("image", config).layers
    const image = ids.image(shot.k)
    const timing = { id: ids.timing(shot.n), output: String(shot.j) }
    return {
      id: ids.video(shot.k),
      kind: kinds.video,
      stage: "video",
      version: Video.version,
      recipe: {
        provider: "kenburns",
        width: config.width,
        height: config.height,
        fps: config.fps,
        keyframe: Math.max(1, Math.round(config.transitions.seconds * config.fps))
      } satisfies typeof Recipe.Type,
      deps: layers
        ? [{ id: image, output: layers.plate }, motionDep(shot.n, shot.j), timing, { id: image, output: layers.lettering }]
        : [{ id: image, output: "image" }, motionDep(shot.n, shot.j), timing]
    }
  },
  run: (ctx) =>
    Effect.gen(function*() {
      const [imageDep, promptDep, framesDep, letteringDep] = ctx.node.deps
      const shot = motionAt(ctx, promptDep!)
      const file = path.join(ctx.scratch, "clip.mp4")
      yield* renderKenBurns({
        image: ctx.file(imageDep!.id, imageDep!.output ?? "image"),
        lettering: letteringDep ? ctx.file(letteringDep.id, letteringDep.output!) : undefined,
        out: file,
        frames: ctx.value(framesDep!.id, framesDep!.output!) as number,
        fps: ctx.recipe.fps,
        width: ctx.recipe.width,
        height: ctx.recipe.height,
        camera: shot.camera as CameraMove,
        keyframe: ctx.recipe.keyframe
      })
      return { video: { file, ext: "mp4" } }
    }),
  verify: Video.verify
})
