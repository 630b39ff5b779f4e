/**
 * `final`: the sentence muxes joined into the film (stream copy when the parts allow it). It is written to
 * the store like every output; `out/final.mp4` is a copy made from the store (see `src/Publish.ts`).
 * With `subtitles.burn`, the joined film is re-encoded once more with the subtitles drawn in (`subtitles.ts`).
 */
import * as path from "node:path"
import { Effect, Schema } from "effect"
import type { NodeSpec } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import { concatFinal } from "../src/media/Assemble.ts"
import { verifyMedia } from "../src/media/Verify.ts"
import { defineRule } from "./Rule.ts"
import * as Subtitles from "./subtitles.ts"

export const version = 1

// Without burning, the recipe stays empty so existing films keep their fingerprints.
const Recipe = Schema.Struct({ subtitles: Schema.optional(Schema.String) })

export const node = (sentenceCount: number, burnSubtitles = false): NodeSpec => ({
  id: ids.final,
  kind: kinds.final,
  stage: "final",
  version,
  recipe: (burnSubtitles ? { subtitles: Subtitles.burnStyle } : {}) satisfies typeof Recipe.Type,
  deps: [
    ...Array.from({ length: sentenceCount }, (_, i) => ({ id: ids.mux(i + 1), output: "video" })),
    ...(burnSubtitles ? [{ id: ids.subtitles, output: "srt" }] : [])
  ]
})

export const rule = defineRule({
  kind: kinds.final,
  recipe: Recipe,
  pool: "ffmpeg",
  run: (ctx) =>
    Effect.gen(function*() {
      const file = path.join(ctx.scratch, "final.mp4")
      const style = ctx.recipe.subtitles
      const parts = ctx.deps.filter((d) => d.id !== ids.subtitles).map((d) => ctx.file(d.id, "video"))
      const joined = style !== undefined ? path.join(ctx.scratch, "joined.mp4") : file
      yield* concatFinal({ parts, out: joined, listDir: ctx.scratch })
      if (style !== undefined) yield* Subtitles.burn({ input: joined, srt: ctx.file(ids.subtitles, "srt"), out: file, style })
      yield* verifyMedia(file, { video: true, audio: true })
      return { video: { file, ext: "mp4" } }
    })
})
