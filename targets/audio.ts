/**
 * `sentence:N:audio`: the narration of sentence N, and its measured length (ffprobe), which decides the
 * shots. Keyed by the normalized text: the spoken text is the original, and a change of case or spacing
 * alone re-pays nothing (the original spec's rule).
 */
import * as path from "node:path"
import * as fs from "node:fs"
import { Effect } from "effect"
import type { Config } from "../src/Config.ts"
import type { NodeSpec, Rule } from "../src/engine/Node.ts"
import { Ffmpeg } from "../src/media/Ffmpeg.ts"
import { verifyMedia } from "../src/media/Verify.ts"
import { Espeak } from "../src/providers/espeak/Espeak.ts"
import * as FalTts from "../src/providers/fal/Tts.ts"
import { normalize } from "../src/text/Sentences.ts"
import * as Cloud from "./Cloud.ts"
import { ids, kinds, Settings } from "./Settings.ts"
import * as Resume from "./Resume.ts"

export const version = 1

type Env = { readonly [name: string]: string | undefined }

export const node = (n: number, sentence: string, config: Config, env: Env): NodeSpec => {
  const text = normalize(sentence)
  const recipe =
    config.providers.audio === "fal"
      ? (() => {
          const model = Cloud.fal(env).ttsModel
          const family = FalTts.familyOf(model)
          return {
            provider: "fal",
            model,
            voice: config.voice.fal ?? (family ? FalTts.defaultVoice(family, model) : undefined) ?? null,
            text
          }
        })()
      : { provider: "espeak", voice: config.voice.espeak, wordsPerMinute: config.voice.wordsPerMinute, text }
  return {
    id: ids.audio(n),
    kind: kinds.audio,
    stage: "audio",
    version,
    recipe,
    context: { spoken: sentence },
    deps: []
  }
}

const spoken = (node: NodeSpec) => String(node.context?.spoken ?? node.recipe.text)

export const rule: Rule<unknown, any> = {
  kind: kinds.audio,
  // espeak has a pool of its own (a worker per core): the small free nodes in "local" never queue behind it.
  pool: (node) => (node.recipe.provider === "fal" ? "fal" : "espeak"),
  paid: (node) => node.recipe.provider === "fal",
  estimate: (node) =>
    node.recipe.provider === "fal"
      ? FalTts.estimate(String(node.recipe.model), spoken(node))
      : { usd: 0, source: "free" },
  // A dry run's guess at the narration's length: words at the voice's pace (about 2.6 words/s for cloud voices).
  guess: (node) => {
    const words = spoken(node).split(/\s+/).filter(Boolean).length
    const wpm = node.recipe.provider === "espeak" ? Number(node.recipe.wordsPerMinute) : 156
    return { duration: Math.max(0.5, (words * 60) / wpm + 0.3) }
  },
  run: (ctx) =>
    Effect.gen(function* () {
      const recipe = ctx.node.recipe
      const ff = yield* Ffmpeg
      let file: string
      let ext: string
      if (recipe.provider === "fal") {
        const ws = yield* Settings
        const f = Cloud.fal(ws.env)
        const speech = yield* FalTts.speak({
          baseUrl: f.baseUrl,
          apiKey: f.apiKey,
          model: String(recipe.model),
          text: spoken(ctx.node),
          voice: recipe.voice === null ? undefined : String(recipe.voice),
          allowedBases: Cloud.allowedBases(ws.env),
          ...(Cloud.falPollMs(ws.env) ? { pollMs: Cloud.falPollMs(ws.env)! } : {}),
          ...(yield* Resume.fal(ctx))
        })
        yield* ctx.request(speech.record)
        ext = speech.ext
        file = path.join(ctx.scratch, `narration.${ext}`)
        fs.writeFileSync(file, speech.bytes)
      } else {
        const espeak = yield* Espeak
        file = path.join(ctx.scratch, "narration.wav")
        ext = "wav"
        yield* espeak.synthesize({
          text: spoken(ctx.node),
          voice: String(recipe.voice),
          wordsPerMinute: Number(recipe.wordsPerMinute),
          out: file
        })
      }
      yield* verifyMedia(file, { audio: true })
      const info = yield* ff.probe(file)
      const audio = info.streams.find((s) => s.type === "audio")
      const durationSec = audio?.durationSec ?? info.durationSec
      return { audio: { file, ext }, duration: { value: Math.round(durationSec * 1e6) / 1e6 } }
    })
}
