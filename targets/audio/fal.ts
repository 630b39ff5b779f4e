/**
 * `audio/fal`: narration by a fal TTS model over the queue. Paid. The request is kept in the node's journal
 * from its submit on: a build stopped or killed meanwhile re-attaches to it, or uses the audio it had already
 * received, and pays nothing again.
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"
import { FalClient } from "../../src/providers/fal/Client.ts"
import { checkedOn } from "../../src/providers/fal/prices.ts"
import * as FalTts from "../../src/providers/fal/Tts.ts"
import { normalize } from "../../src/text/Sentences.ts"
import * as Paid from "../Paid.ts"
import { defineImpl } from "../Rule.ts"
import * as Audio from "./Audio.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("fal"),
  model: Schema.String,
  /** The voice actually asked for (a model's default when none is configured), so it is in the fingerprint. */
  voice: Schema.NullOr(Schema.String),
  text: Schema.String
})

export const impl = defineImpl({
  stage: "audio",
  name: "fal",
  paid: true,
  about: {
    summary: "fal.ai text-to-speech (FALAI_TTS_MODEL)",
    needs: ["FAL_KEY"],
    price: { source: "src/providers/fal/prices.ts (fal.ai model pages, per 1,000 characters)", checkedOn },
    afterCrash: "re-attaches to the request fal is working on, or uses the audio already received",
    reattaches: true
  },
  missing: (providers) => (providers.fal.apiKey === "" ? ["FAL_KEY"] : []),
  recipe: Recipe,
  // The node holds a "transfer" slot (its upload and download); fal's own slot only while fal works on the
  // request (Paid.inProvider: submit → result), so a finished clip's download never keeps fal waiting.
  pool: "transfer",
  // Its checks are made while it is measured (in an ffmpeg slot); `verify` only asks for one when they were not.
  verifyPool: "local",
  node: ({ n, sentence }, { config, providers }) => {
    const model = providers.fal.ttsModel
    const family = FalTts.familyOf(model)
    return Audio.node(n, sentence, {
      provider: "fal",
      model,
      voice: config.voice.fal ?? (family ? FalTts.defaultVoice(family, model) : undefined) ?? null,
      text: normalize(sentence)
    } satisfies typeof Recipe.Type)
  },
  estimate: (recipe, node) => FalTts.estimate(recipe.model, Audio.spoken(node, recipe.text)),
  // About 2.6 words/s for cloud voices.
  guess: (recipe, node) => Audio.guess(Audio.spoken(node, recipe.text), 156),
  run: (ctx) =>
    Effect.gen(function*() {
      const fal = yield* FalClient
      const text = Audio.spoken(ctx.node, ctx.recipe.text)
      const { speech, repaid } = yield* Paid.paying(ctx, {
        provider: "fal",
        model: ctx.recipe.model,
        estimate: FalTts.estimate(ctx.recipe.model, text),
        kept: ["submit", "file"],
        call: (paying) =>
          fal
            .speak({ model: ctx.recipe.model, text, voice: ctx.recipe.voice ?? undefined }, Paid.inProvider(ctx, "fal", paying.follow))
            .pipe(Effect.map((speech) => ({ speech, repaid: paying.repaid })))
      })
      const again = speech.record.repaid ?? repaid
      yield* ctx.request({ ...speech.record, ...(again === undefined ? {} : { repaid: again }) })
      const file = Audio.fileIn(ctx, speech.ext)
      fs.writeFileSync(file, speech.bytes)
      return yield* Audio.measured(ctx, file, speech.ext).pipe(Paid.droppingOnFailure(ctx, ["file"]))
    }),
  verify: (produced, ctx) => Audio.verifyMeasured(produced, ctx).pipe(Paid.droppingOnFailure(ctx, ["file"]))
})
