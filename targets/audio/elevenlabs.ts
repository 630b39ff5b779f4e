/**
 * `audio/elevenlabs`: narration by ElevenLabs directly (ELEVENLABS_MODEL, ELEVENLABS_VOICE_ID). Paid, priced
 * from the characters ElevenLabs says it billed (`x-character-count`). A synchronous call: the audio's bytes
 * are kept in the node's journal as they arrive, so a kill after the answer came back pays nothing again, and
 * a Ctrl-C waits for an answer on its way; a kill while it is on its way loses it (it was billed).
 *
 * The seed (best-effort determinism on ElevenLabs' side) is derived from the node's fingerprint
 * (`../Seed.ts`) and kept as the node's `seed` output.
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"
import { ElevenLabsClient } from "../../src/providers/elevenlabs/Client.ts"
import * as ElevenLabs from "../../src/providers/elevenlabs/ElevenLabs.ts"
import { checkedOn, source } from "../../src/providers/elevenlabs/prices.ts"
import { normalize } from "../../src/text/Sentences.ts"
import * as Paid from "../Paid.ts"
import { defineImpl } from "../Rule.ts"
import * as Seed from "../Seed.ts"
import * as Audio from "./Audio.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("elevenlabs"),
  model: Schema.String,
  voice: Schema.String,
  text: Schema.String
})

export const impl = defineImpl({
  stage: "audio",
  name: "elevenlabs",
  paid: true,
  about: {
    summary: "ElevenLabs text-to-speech (ELEVENLABS_MODEL, ELEVENLABS_VOICE_ID), billed per character",
    needs: ["ELEVENLABS_API_KEY"],
    price: { source, checkedOn },
    afterCrash: "uses the audio already received; a Ctrl-C waits for one on its way (a kill meanwhile loses it)",
    reattaches: false
  },
  missing: (providers) => (providers.elevenlabs.apiKey === "" ? ["ELEVENLABS_API_KEY"] : []),
  recipe: Recipe,
  pool: "elevenlabs",
  // Its checks are made while it is measured (in an ffmpeg slot); `verify` only asks for one when they were not.
  verifyPool: "local",
  node: ({ n, sentence }, { providers }) =>
    Audio.node(n, sentence, {
      provider: "elevenlabs",
      model: providers.elevenlabs.model,
      voice: providers.elevenlabs.voiceId,
      text: normalize(sentence)
    } satisfies typeof Recipe.Type),
  estimate: (recipe, node) => ElevenLabs.estimate(recipe.model, Audio.spoken(node, recipe.text)),
  guess: (recipe, node) => Audio.guess(Audio.spoken(node, recipe.text), 156),
  run: (ctx) =>
    Effect.gen(function*() {
      const client = yield* ElevenLabsClient
      const text = Audio.spoken(ctx.node, ctx.recipe.text)
      const seed = yield* Seed.seedFor(ctx, null)
      const started = Date.now()
      const { speech, repaid } = yield* Paid.paying(ctx, {
        provider: "elevenlabs",
        model: ctx.recipe.model,
        estimate: ElevenLabs.estimate(ctx.recipe.model, text),
        kept: ["answer"],
        call: (paying) =>
          client
            .speak({ text, model: ctx.recipe.model, voiceId: ctx.recipe.voice, seed }, paying.follow)
            .pipe(Effect.map((speech) => ({ speech, repaid: paying.repaid })))
      })
      yield* ctx.request({
        provider: "elevenlabs",
        model: ctx.recipe.model,
        ...(speech.requestId === undefined ? {} : { requestId: speech.requestId }),
        startedAt: started,
        endedAt: Date.now(),
        cost: speech.cost,
        ...(repaid === undefined ? {} : { repaid })
      })
      const file = Audio.fileIn(ctx, speech.ext)
      fs.writeFileSync(file, speech.bytes)
      const out = yield* Audio.measured(ctx, file, speech.ext).pipe(Paid.droppingOnFailure(ctx, ["answer"], "the audio ElevenLabs returned did not decode"))
      return { ...out, seed: { value: seed } }
    }),
  verify: (produced, ctx) => Audio.verifyMeasured(produced, ctx).pipe(Paid.droppingOnFailure(ctx, ["answer"], "the audio ElevenLabs returned did not decode"))
})
