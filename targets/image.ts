/**
 * `shot:K:image`: one still per shot prompt. K numbers shots across the film, but nothing positional enters
 * the fingerprint (the shot's own prompt, the sentence's text, its index within the sentence): inserting a
 * sentence renumbers shots without invalidating any of them.
 *
 * draft: a storyboard card rendered by ffmpeg (the sentence, the shot's panel line, "shot 2 of 3 · 2.0 s ·
 *        ⊕ push in", a colour per sentence), as three files: the still (`image`), the text-free picture the
 *        Ken Burns clip moves (`plate`) and the lettering it lays over it unmoved (`lettering`). It shows the
 *        shot's length, so it reads the sentence's timing; it is free.
 * cloud: OpenAI Images; the request holds only the prompt, model, size and quality (the money rule).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import type { Config } from "../src/Config.ts"
import { sha256 } from "../src/engine/Hash.ts"
import type { NodeSpec, Produced, Rule } from "../src/engine/Node.ts"
import { cameraLabel, captionOf, renderCard } from "../src/media/Card.ts"
import { verifyMedia } from "../src/media/Verify.ts"
import * as Images from "../src/providers/openai/Images.ts"
import { normalize } from "../src/text/Sentences.ts"
import * as Cloud from "./Cloud.ts"
import * as Prompts from "./prompts.ts"
import { ids, kinds, Settings } from "./Settings.ts"

export const version = 1

type Env = { readonly [name: string]: string | undefined }

export interface ShotRef {
  /** Sentence number (1-based) and the shot's index within it (1-based). */
  readonly n: number
  readonly j: number
  /** Shot number across the film (1-based). */
  readonly k: number
}

/** A colour per sentence, from its text: stable when other sentences move. */
export const sentenceColour = (text: string): string => {
  const h = parseInt(sha256(normalize(text)).slice(0, 8), 16) % 360
  const s = 0.45
  const l = 0.42
  const f = (k: number) => {
    const a = s * Math.min(l, 1 - l)
    const x = (k + h / 30) % 12
    return Math.round(255 * (l - a * Math.max(-1, Math.min(x - 3, 9 - x, 1))))
  }
  return `#${[f(0), f(8), f(4)].map((c) => c.toString(16).padStart(2, "0")).join("")}`
}

export const node = (shot: ShotRef, sentence: string, config: Config, env: Env): NodeSpec => {
  const prompt = { id: ids.prompts(shot.n), output: String(shot.j) }
  if (config.providers.image === "openai") {
    const o = Cloud.openai(env)
    return {
      id: ids.image(shot.k),
      kind: kinds.image,
      stage: "image",
      version,
      recipe: { provider: "openai", model: o.imageModel, size: config.image.size, quality: config.image.quality, format: "png" },
      deps: [prompt]
    }
  }
  return {
    id: ids.image(shot.k),
    kind: kinds.image,
    stage: "image",
    version,
    recipe: {
      provider: "card",
      // The card's layers (plate, lettering, still): a card made before them has only the still.
      layers: 3,
      width: config.width,
      height: config.height,
      fps: config.fps,
      colour: sentenceColour(sentence),
      text: normalize(sentence),
      shot: shot.j
    },
    context: { sentence },
    deps: [prompt, { id: ids.timing(shot.n), output: String(shot.j) }, { id: ids.shots(shot.n), output: "count" }]
  }
}

/**
 * Image output tokens of GPT image models by size and quality (OpenAI's image pricing guide); the text input
 * is a few hundred tokens. Used for estimates only: the real cost comes from the answer's `usage`.
 */
const outputTokens: Record<string, Record<string, number>> = {
  low: { square: 272, wide: 408 },
  medium: { square: 1056, wide: 1584 },
  high: { square: 4160, wide: 6240 }
}

export const estimateOpenAI = (model: string, size: string, quality: string) => {
  const image = outputTokens[quality]?.[size === "1024x1024" ? "square" : "wide"] ?? 1584
  return Images.costOf(model, {
    inputTokens: 300,
    outputTokens: image,
    textInputTokens: 300,
    imageInputTokens: 0,
    textOutputTokens: 0,
    imageOutputTokens: image
  })
}

export const rule: Rule<unknown, any> = {
  kind: kinds.image,
  pool: (node) => (node.recipe.provider === "openai" ? "openai" : "ffmpeg"),
  paid: (node) => node.recipe.provider === "openai",
  estimate: (node) =>
    node.recipe.provider === "openai"
      ? estimateOpenAI(String(node.recipe.model), String(node.recipe.size), String(node.recipe.quality))
      : { usd: 0, source: "free" },
  run: (ctx) =>
    Effect.gen(function* () {
      const recipe = ctx.node.recipe
      const shot = Prompts.shotAt(ctx, ctx.node.deps[0]!)
      if (recipe.provider === "openai") {
        const ws = yield* Settings
        const o = Cloud.openai(ws.env)
        const started = Date.now()
        const image = yield* Images.generate({
          baseUrl: o.baseUrl,
          apiKey: o.apiKey,
          model: String(recipe.model),
          prompt: shot.prompt,
          size: recipe.size as Images.ImageSize,
          quality: recipe.quality as Images.ImageQuality,
          outputFormat: "png"
        })
        yield* ctx.request({
          provider: "openai",
          model: String(recipe.model),
          requestId: image.requestId,
          startedAt: started,
          endedAt: Date.now(),
          cost: image.cost
        })
        const file = path.join(ctx.scratch, `image.${image.ext}`)
        fs.writeFileSync(file, image.bytes)
        yield* verifyMedia(file, { image: true })
        return { image: { file, ext: image.ext } }
      }
      const [timingDep, countDep] = [ctx.node.deps[1]!, ctx.node.deps[2]!]
      const frames = Number(ctx.value(timingDep.id, timingDep.output!))
      const count = Number(ctx.value(countDep.id, countDep.output!))
      const fps = Number(recipe.fps)
      const card = yield* renderCard({
        out: { image: path.join(ctx.scratch, "card.png"), plate: path.join(ctx.scratch, "plate.png"), lettering: path.join(ctx.scratch, "lettering.png") },
        width: Number(recipe.width),
        height: Number(recipe.height),
        palette: { key: String(recipe.colour) },
        sentence: String(ctx.node.context?.sentence ?? recipe.text),
        caption: captionOf(shot.prompt),
        label: `shot ${recipe.shot} of ${count} · ${(frames / fps).toFixed(1)} s · ${cameraLabel(shot.camera)}`,
        shotType: shot.shotType,
        camera: shot.camera,
        index: Number(recipe.shot)
      })
      const layers: Produced = {
        image: { file: card.image, ext: "png" },
        plate: { file: card.plate, ext: "png" },
        lettering: { file: card.lettering, ext: "png" }
      }
      return layers
    })
}
