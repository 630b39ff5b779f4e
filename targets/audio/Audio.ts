/**
 * `sentence:N:audio`: the narration of sentence N, and its measured length (ffprobe), which decides the
 * shots. Keyed by the normalized text: the spoken text is the original (kept in `context`), and a change of
 * case or spacing alone re-pays nothing (the original spec's rule). What every narration provider shares.
 */
import * as path from "node:path"
import { Effect } from "effect"
import type { NodeSpec, Produced, RunContext } from "../../src/engine/Node.ts"
import { ids, kinds } from "../../src/Film.ts"
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

/** Outputs already decoded while they were measured: their `verify` has nothing left to do. */
const decoded = new WeakSet<Produced>()

/**
 * The narration file and its length, as the audio node's outputs: one ffprobe for the length and one decode
 * of its start, in one ffmpeg slot (the checks `verify` makes, made here once: the length needs the probe
 * anyway, and a narration waits for nothing else, since every shot of its sentence waits for its length).
 */
export const measured = (ctx: RunContext, file: string, ext: string) =>
  Effect.gen(function*() {
    const info = yield* inFfmpegPool(ctx, verifyMedia(file, { audio: true }))
    const audio = info.streams.find((s) => s.type === "audio")
    const durationSec = audio?.durationSec ?? info.durationSec
    const produced: Produced = { audio: { file, ext }, duration: { value: Math.round(durationSec * 1e6) / 1e6 } }
    decoded.add(produced)
    return produced
  })

export const fileIn = (ctx: RunContext, ext: string) => path.join(ctx.scratch, `narration.${ext}`)

/**
 * For a rule whose `verifyPool` is "local": nothing when `measured` made the outputs (they were decoded
 * then), else `verify` in an ffmpeg slot. A narration's outputs never wait for an ffmpeg slot to be told
 * what is already known.
 */
export const verifyMeasured = (produced: Produced, ctx: RunContext) =>
  decoded.has(produced) ? Effect.void : inFfmpegPool(ctx, verify(produced))

/** The narration decodes and has sound (already known when `measured` made these outputs). */
export const verify = (produced: Produced) => {
  const audio = produced.audio
  if (decoded.has(produced)) return Effect.void
  return audio !== undefined && "file" in audio ? verifyMedia(audio.file, { audio: true }).pipe(Effect.asVoid) : Effect.void
}
