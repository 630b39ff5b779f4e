/**
 * `video/kenburns`: Ken Burns motion over the still (ffmpeg zoompan), exactly the shot's length in frames.
 * Free, so it may read the timing; the draft profile's clips. Over an image that comes in layers (the draft
 * card's) it moves the text-free plate and lays the lettering over it unmoved; over another image (OpenAI's)
 * the whole picture moves.
 */
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { ids, kinds } from "../../src/Film.ts"
import * as Clip from "../../src/media/Clip.ts"
import { invalid } from "../../src/media/Errors.ts"
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
  // The clip was just encoded here (ffmpeg exited 0, the file renamed into place whole): its MP4 index is read
  // in-process instead of running ffprobe and a decode (two processes per shot, ~1,800 in a 160-sentence film).
  // It must be one H.264 picture track of the shot's frames at the frame size, every byte present.
  verify: (produced, ctx) =>
    Effect.suspend(() => {
      const video = produced.video
      if (video === undefined || !("file" in video)) return Effect.void
      const file = path.resolve(video.file)
      const index = Clip.readVideoIndex(file)
      const frames = ctx.value(ctx.node.deps[2]!.id, ctx.node.deps[2]!.output!) as number
      const reason =
        index === undefined ? "it is not an MP4 with one H.264 picture track"
        : !index.whole ? "it is cut short"
        : index.samples !== frames ? `it has ${index.samples} frames, not ${frames}`
        : !index.config.startsWith(`avc1 ${ctx.recipe.width}x${ctx.recipe.height} `) ? `it is not ${ctx.recipe.width}x${ctx.recipe.height}`
        : undefined
      return reason === undefined ? Effect.void : Effect.fail(invalid(file, reason))
    })
})
