/**
 * `audio/openai`: narration by OpenAI's `POST /audio/speech` (OPENAI_TTS_MODEL, OPENAI_TTS_VOICE). Paid; the
 * answer carries no usage, so its cost is computed from the table. A synchronous call: the audio's bytes are
 * kept in the node's journal as they arrive (a kill after the answer pays nothing again; a kill while it is
 * on its way loses it), and a Ctrl-C waits for an answer on its way.
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"
import { OpenAIClient } from "../../src/providers/openai/Client.ts"
import { checkedOn } from "../../src/providers/openai/prices.ts"
import * as Speech from "../../src/providers/openai/Speech.ts"
import { normalize } from "../../src/text/Sentences.ts"
import * as Paid from "../Paid.ts"
import { defineImpl } from "../Rule.ts"
import * as Audio from "./Audio.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("openai"),
  model: Schema.String,
  voice: Schema.String,
  text: Schema.String
})

export const impl = defineImpl({
  stage: "audio",
  name: "openai",
  paid: true,
  about: {
    summary: "OpenAI text-to-speech (OPENAI_TTS_MODEL, OPENAI_TTS_VOICE)",
    needs: ["OPENAI_KEY (or OPENAI_API_KEY)"],
    price: { source: "src/providers/openai/prices.ts (per character or per token; OpenAI reports no usage for speech)", checkedOn },
    afterCrash: "uses the audio already received; a Ctrl-C waits for one on its way (a kill meanwhile loses it)",
    reattaches: false
  },
  missing: (providers) => (providers.openai.apiKey === "" ? ["OPENAI_KEY (or OPENAI_API_KEY)"] : []),
  recipe: Recipe,
  pool: "openai",
  // Its checks are made while it is measured (in an ffmpeg slot); `verify` only asks for one when they were not.
  verifyPool: "local",
  node: ({ n, sentence }, { providers }) =>
    Audio.node(n, sentence, {
      provider: "openai",
      model: providers.openai.speech.model,
      voice: providers.openai.speech.voice,
      text: normalize(sentence)
    } satisfies typeof Recipe.Type),
  estimate: (recipe, node) => Speech.estimate(recipe.model, Audio.spoken(node, recipe.text)),
  guess: (recipe, node) => Audio.guess(Audio.spoken(node, recipe.text), 156),
  run: (ctx) =>
    Effect.gen(function*() {
      const client = yield* OpenAIClient
      const text = Audio.spoken(ctx.node, ctx.recipe.text)
      const started = Date.now()
      const { speech, repaid } = yield* Paid.paying(ctx, {
        provider: "openai",
        model: ctx.recipe.model,
        estimate: Speech.estimate(ctx.recipe.model, text),
        kept: ["answer"],
        call: (paying) =>
          client.speak({ model: ctx.recipe.model, voice: ctx.recipe.voice, text }, paying.follow).pipe(Effect.map((speech) => ({ speech, repaid: paying.repaid })))
      })
      yield* ctx.request({
        provider: "openai",
        model: ctx.recipe.model,
        ...(speech.requestId === undefined ? {} : { requestId: speech.requestId }),
        startedAt: started,
        endedAt: Date.now(),
        cost: speech.cost,
        ...(repaid === undefined ? {} : { repaid })
      })
      const file = Audio.fileIn(ctx, speech.ext)
      fs.writeFileSync(file, speech.bytes)
      return yield* Audio.measured(ctx, file, speech.ext).pipe(Paid.droppingOnFailure(ctx, ["answer"], "the audio OpenAI returned did not decode"))
    }),
  verify: (produced, ctx) => Audio.verifyMeasured(produced, ctx).pipe(Paid.droppingOnFailure(ctx, ["answer"], "the audio OpenAI returned did not decode"))
})
