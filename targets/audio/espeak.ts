/**
 * `audio/espeak`: the offline voice (espeak-ng compiled to WASM, from npm). Free; the draft profile's narration.
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Produced } from "../../src/engine/Node.ts"
import { invalid } from "../../src/media/Errors.ts"
import { Espeak, wavSeconds } from "../../src/providers/espeak/Espeak.ts"
import { normalize } from "../../src/text/Sentences.ts"
import { defineImpl } from "../Rule.ts"
import * as Audio from "./Audio.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("espeak"),
  voice: Schema.String,
  wordsPerMinute: Schema.Number,
  text: Schema.String
})

export const impl = defineImpl({
  stage: "audio",
  name: "espeak",
  paid: false,
  about: {
    summary: "espeak-ng voice, offline (WASM)",
    needs: [],
    price: "free",
    afterCrash: "spoken again (free)",
    reattaches: false
  },
  recipe: Recipe,
  // A pool of its own (a worker thread per core): the small free nodes in "local" never queue behind it.
  pool: "espeak",
  node: ({ n, sentence }, { config }) =>
    Audio.node(n, sentence, {
      provider: "espeak",
      voice: config.voice.espeak,
      wordsPerMinute: config.voice.wordsPerMinute,
      text: normalize(sentence)
    } satisfies typeof Recipe.Type),
  guess: (recipe, node) => Audio.guess(Audio.spoken(node, recipe.text), recipe.wordsPerMinute),
  run: (ctx) =>
    Effect.gen(function*() {
      const espeak = yield* Espeak
      const file = Audio.fileIn(ctx, "wav")
      const spoken = yield* espeak.synthesize({
        text: Audio.spoken(ctx.node, ctx.recipe.text),
        voice: ctx.recipe.voice,
        wordsPerMinute: ctx.recipe.wordsPerMinute,
        out: file
      })
      // The length from the WAV's own header (what ffprobe reads from it, to the microsecond: at 22,050 Hz no
      // length falls on a half microsecond), so no ffprobe runs per sentence.
      return { audio: { file, ext: "wav" }, duration: { value: Math.round(spoken.durationSec * 1e6) / 1e6 } } satisfies Produced
    }),
  // A PCM WAV written here from espeak's bytes: whole (its data chunk all present) and long enough to be speech,
  // read in-process instead of ffprobe and a decode.
  verify: (produced) =>
    Effect.suspend(() => {
      const audio = produced.audio
      if (audio === undefined || !("file" in audio)) return Effect.void
      const file = path.resolve(audio.file)
      let bytes: Uint8Array
      try {
        bytes = fs.readFileSync(file)
      } catch {
        return Effect.fail(invalid(file, "the file does not exist"))
      }
      const seconds = wavSeconds(bytes, { whole: true })
      return seconds === undefined || !(seconds > 0) ? Effect.fail(invalid(file, "it is not a whole PCM WAV with sound")) : Effect.void
    })
})
