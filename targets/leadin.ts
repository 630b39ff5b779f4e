/**
 * `sentence:N:leadin` (N ≥ 2): the picture sentence N's first shot is entered from, when that transition is not
 * a cut (issue 16: transitions between sentences): the previous sentence's last clip *continuing* past the
 * frame where its mux cut it, for as many frames as the transition lasts (its last frame held when the clip
 * ends sooner). Sentence N's mux blends or fades out of it over its own first frames, so
 *
 * - no frame is added or removed anywhere: the narration never moves and the film lasts exactly as long as it;
 * - the final cut stays a join of the muxes without re-encoding (the transition is inside mux N);
 * - it never needs the previous sentence's *mux*, only its last clip and where that clip was cut.
 *
 * Free (ffmpeg). Its fingerprint holds the clip, the cut point (the previous sentence's timing) and the length.
 */
import * as path from "node:path"
import { Effect, Schema } from "effect"
import type { NodeSpec } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import { renderLeadIn } from "../src/media/Assemble.ts"
import { verifyMedia } from "../src/media/Verify.ts"
import { defineRule } from "./Rule.ts"

export const version = 1

const Recipe = Schema.Struct({ width: Schema.Number, height: Schema.Number, fps: Schema.Number, frames: Schema.Number })

/** Sentence n's lead-in, from the previous sentence's last shot (film number `k`). */
export const node = (n: number, k: number, recipe: typeof Recipe.Type): NodeSpec => ({
  id: ids.leadin(n),
  kind: kinds.leadin,
  stage: "mux",
  version,
  recipe,
  deps: [
    { id: ids.video(k), output: "video" },
    { id: ids.timing(n - 1), output: "frames" }
  ]
})

export const rule = defineRule({
  kind: kinds.leadin,
  recipe: Recipe,
  pool: "ffmpeg",
  run: (ctx) =>
    Effect.gen(function* () {
      const [clip, timing] = ctx.node.deps
      const frames = ctx.value(timing!.id, "frames") as ReadonlyArray<number>
      const out = path.join(ctx.scratch, "leadin.mp4")
      yield* renderLeadIn({
        clip: ctx.file(clip!.id, "video"),
        from: frames[frames.length - 1]!,
        frames: ctx.recipe.frames,
        fps: ctx.recipe.fps,
        width: ctx.recipe.width,
        height: ctx.recipe.height,
        out
      })
      yield* verifyMedia(out, { video: true, audio: false })
      return { video: { file: out, ext: "mp4" } }
    })
})
