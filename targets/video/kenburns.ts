/**
 * `video/kenburns`: Ken Burns motion over the still (ffmpeg zoompan), exactly the shot's length in frames.
 * Free, so it may read the timing; the draft profile's clips.
 */
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { ids, kinds } from "../../src/Film.ts"
import { renderKenBurns, type CameraMove } from "../../src/media/Draft.ts"
import * as Prompts from "../prompts/Prompts.ts"
import { defineImpl } from "../Rule.ts"
import * as Video from "./Video.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("kenburns"),
  width: Schema.Number,
  height: Schema.Number,
  fps: Schema.Number
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
  node: ({ shot }, { config }) => ({
    id: ids.video(shot.k),
    kind: kinds.video,
    stage: "video",
    version: Video.version,
    recipe: { provider: "kenburns", width: config.width, height: config.height, fps: config.fps } satisfies typeof Recipe.Type,
    deps: [{ id: ids.image(shot.k), output: "image" }, Prompts.promptDep(shot.n, shot.j), { id: ids.timing(shot.n), output: String(shot.j) }]
  }),
  run: (ctx) =>
    Effect.gen(function*() {
      const [imageDep, promptDep, framesDep] = ctx.node.deps
      const shot = Prompts.shotAt(ctx, promptDep!)
      const file = path.join(ctx.scratch, "clip.mp4")
      yield* renderKenBurns({
        image: ctx.file(imageDep!.id, "image"),
        out: file,
        frames: ctx.value(framesDep!.id, framesDep!.output!) as number,
        fps: ctx.recipe.fps,
        width: ctx.recipe.width,
        height: ctx.recipe.height,
        camera: shot.camera as CameraMove
      })
      return { video: { file, ext: "mp4" } }
    }),
  verify: Video.verify
})
