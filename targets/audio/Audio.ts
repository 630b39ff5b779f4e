/**
 * `sentence:N:audio`: the narration of sentence N, and its measured length (ffprobe), which decides the
 * shots. Keyed by the normalized text: the spoken text is the original (kept in `context`), and a change of
 * case or spacing alone re-pays nothing (the original spec's rule). What every narration provider shares.
 */
import * as path from "node:path"
import { Effect } from "effect"
import type { NodeSpec, Produced, RunContext } from "../../src/engine/Node.ts"
import { ids, kinds } from "../../src/Film.ts"
import { Ffmpeg } from "../../src/media/Ffmpeg.ts"
import { verifyMedia } from "../../src/media/Verify.ts"

export const version = 1

export const node = (n: number, sentence: string, recipe: NodeSpec["recipe"]): NodeSpec => ({
  id: ids.audio(n),
  kind: kinds.audio,
  stage: "audio",
  version,
  recipe,
  context: { spoken: sentence },
  deps: []
})

/** The text to speak: the sentence as written. */
export const spoken = (node: NodeSpec, normalized: string): string =>
  typeof node.context?.spoken === "string" ? node.context.spoken : normalized

/** A dry run's guess at the narration's length: words at the voice's pace. */
export const guess = (text: string, wordsPerMinute: number) => {
  const words = text.split(/\s+/).filter(Boolean).length
  return { duration: Math.max(0.5, (words * 60) / wordsPerMinute + 0.3) }
}

/** Media work takes the "ffmpeg" pool, not the provider's (contract 4). */
export const inFfmpegPool = <A, E, R>(ctx: RunContext, effect: Effect.Effect<A, E, R>) => ctx.withPool("ffmpeg", effect)

/** The narration file and its length, as the audio node's outputs. */
export const measured = (ctx: RunContext, file: string, ext: string) =>
  Effect.gen(function*() {
    const ff = yield* Ffmpeg
    const info = yield* inFfmpegPool(ctx, ff.probe(file))
    const audio = info.streams.find((s) => s.type === "audio")
    const durationSec = audio?.durationSec ?? info.durationSec
    return { audio: { file, ext }, duration: { value: Math.round(durationSec * 1e6) / 1e6 } } satisfies Produced
  })

export const fileIn = (ctx: RunContext, ext: string) => path.join(ctx.scratch, `narration.${ext}`)

/** The narration decodes and has sound. */
export const verify = (produced: Produced) => {
  const audio = produced.audio
  return audio !== undefined && "file" in audio ? verifyMedia(audio.file, { audio: true }).pipe(Effect.asVoid) : Effect.void
}
