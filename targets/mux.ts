/**
 * `sentence:N:mux`: the sentence's clips, each cut to its shot's frames, joined, with the narration laid
 * over and the whole cut to the shorter of the two. Exact durations live here and nowhere upstream.
 *
 * The shots of sentence N are known only once its narration is measured, and their film-wide numbers K once
 * every earlier sentence's shot count is: the mux expands after `sentence:1..N:shots` (dynamic dependencies).
 * Those counts only place the shots; the mux's fingerprint holds its own clips, narration and timing.
 */
import * as path from "node:path"
import { Effect } from "effect"
import type { Config } from "../src/Config.ts"
import type { NodeSpec, Rule } from "../src/engine/Node.ts"
import { muxSentence } from "../src/media/Assemble.ts"
import { verifyMedia } from "../src/media/Verify.ts"
import * as Image from "./image.ts"
import { ids, kinds } from "./Settings.ts"
import * as Video from "./video.ts"

export const version = 1

type Env = { readonly [name: string]: string | undefined }

export const node = (n: number, sentences: ReadonlyArray<string>, config: Config, env: Env): NodeSpec => ({
  id: ids.mux(n),
  kind: kinds.mux,
  stage: "mux",
  version,
  recipe: { width: config.width, height: config.height, fps: config.fps },
  deps: [
    { id: ids.audio(n), output: "audio" },
    { id: ids.timing(n), output: "frames" }
  ],
  after: Array.from({ length: n }, (_, i) => ids.shots(i + 1)),
  expand: (built) => {
    let first = 1
    for (let i = 1; i < n; i++) first += Number(built.value(ids.shots(i), "count"))
    const count = Number(built.value(ids.shots(n), "count"))
    const nodes: Array<NodeSpec> = []
    const deps = []
    for (let j = 1; j <= count; j++) {
      const shot = { n, j, k: first + j - 1 }
      nodes.push(Image.node(shot, sentences[n - 1]!, config, env), Video.node(shot, config, env))
      deps.push({ id: ids.video(shot.k), output: "video" })
    }
    return { nodes, deps }
  }
})

export const rule: Rule<unknown, any> = {
  kind: kinds.mux,
  pool: () => "ffmpeg",
  paid: () => false,
  run: (ctx) =>
    Effect.gen(function* () {
      const recipe = ctx.node.recipe
      const [audio, timing, ...clips] = ctx.deps
      const frames = ctx.value(timing!.id, "frames") as ReadonlyArray<number>
      const file = path.join(ctx.scratch, "sentence.mp4")
      yield* muxSentence({
        clips: clips.map((c, i) => ({ path: ctx.file(c.id, "video"), frames: frames[i]! })),
        audio: ctx.file(audio!.id, "audio"),
        out: file,
        fps: Number(recipe.fps),
        width: Number(recipe.width),
        height: Number(recipe.height)
      })
      yield* verifyMedia(file, { video: true, audio: true })
      return { video: { file, ext: "mp4" } }
    })
}
