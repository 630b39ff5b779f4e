/**
 * `audio/espeak`: the offline voice (espeak-ng compiled to WASM, from npm). Free; the draft profile's narration.
 */
import { Effect, Schema } from "effect"
import { Espeak } from "../../src/providers/espeak/Espeak.ts"
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
  verifyPool: "ffmpeg",
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
      yield* espeak.synthesize({
        text: Audio.spoken(ctx.node, ctx.recipe.text),
        voice: ctx.recipe.voice,
        wordsPerMinute: ctx.recipe.wordsPerMinute,
        out: file
      })
      return yield* Audio.measured(ctx, file, "wav")
    }),
  verify: Audio.verify
})
