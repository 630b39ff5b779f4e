/**
 * `final`: the sentence muxes joined into the film (stream copy when the parts allow it). It is written to
 * the store like every output; `out/final.mp4` is a copy made from the store (see `publish.ts`).
 */
import * as path from "node:path"
import { Effect } from "effect"
import type { NodeSpec, Rule } from "../src/engine/Node.ts"
import { concatFinal } from "../src/media/Draft.ts"
import { verifyMedia } from "../src/media/Ffmpeg.ts"
import { ids, kinds } from "./Settings.ts"

export const version = 1

export const node = (sentenceCount: number): NodeSpec => ({
  id: ids.final,
  kind: kinds.final,
  stage: "final",
  version,
  recipe: {},
  deps: Array.from({ length: sentenceCount }, (_, i) => ({ id: ids.mux(i + 1), output: "video" }))
})

export const rule: Rule<unknown, any> = {
  kind: kinds.final,
  pool: () => "ffmpeg",
  paid: () => false,
  run: (ctx) =>
    Effect.gen(function* () {
      const file = path.join(ctx.scratch, "final.mp4")
      yield* concatFinal({ parts: ctx.deps.map((d) => ctx.file(d.id, "video")), out: file, listDir: ctx.scratch })
      yield* verifyMedia(file, { video: true, audio: true })
      return { video: { file, ext: "mp4" } }
    })
}
