/**
 * `image/card`: a storyboard card rendered by ffmpeg (the sentence, the shot's panel line, "shot 2 of 3 · 2.0 s ·
 * ⊕ push in", a colour per sentence), as three files: the still (`image`), the text-free picture the Ken Burns
 * clip moves (`plate`) and the lettering it lays over it unmoved (`lettering`). Free; the draft profile's stills.
 *
 * It draws the sentence, so it keys on the exact text (spacing collapsed), not the normalized one: a change of
 * case alone redraws the card (free) while the paid nodes keyed on the normalized text pay nothing again
 * (DESIGN.md: free nodes key on what they show). It shows the shot's length, so it reads the sentence's timing.
 * Nothing positional enters it (the shot's own prompt, its index within the sentence): inserting a sentence
 * renumbers shots without redrawing any.
 */
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { sha256 } from "../../src/engine/Hash.ts"
import { ids, kinds } from "../../src/Film.ts"
import { cameraLabel, captionOf, renderCard } from "../../src/media/Card.ts"
import { normalize } from "../../src/text/Sentences.ts"
import * as Prompts from "../prompts/Prompts.ts"
import { defineImpl } from "../Rule.ts"
import { displayText } from "../subtitles.ts"
import * as Image from "./Image.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("card"),
  /** The card's layers (plate, lettering, still): a card made before them has only the still. */
  layers: Schema.Literal(3),
  width: Schema.Number,
  height: Schema.Number,
  fps: Schema.Number,
  colour: Schema.String,
  /** The sentence as the card shows it. */
  text: Schema.String,
  shot: Schema.Number
})

/** A colour per sentence, from its normalized text: stable when other sentences move, or when only case changes. */
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

export const impl = defineImpl({
  stage: "image",
  name: "card",
  paid: false,
  about: {
    summary: "storyboard card rendered by ffmpeg, offline",
    needs: [],
    price: "free",
    afterCrash: "drawn again (free)",
    reattaches: false
  },
  recipe: Recipe,
  pool: "ffmpeg",
  layers: { plate: "plate", lettering: "lettering" },
  node: ({ shot, sentence }, { config }) => ({
    id: ids.image(shot.k),
    kind: kinds.image,
    stage: "image",
    version: Image.version,
    recipe: {
      provider: "card",
      layers: 3,
      width: config.width,
      height: config.height,
      fps: config.fps,
      colour: sentenceColour(sentence),
      text: displayText(sentence),
      shot: shot.j
    } satisfies typeof Recipe.Type,
    deps: [Prompts.promptDep(shot.n, shot.j), { id: ids.timing(shot.n), output: String(shot.j) }, { id: ids.shots(shot.n), output: "count" }]
  }),
  run: (ctx) =>
    Effect.gen(function*() {
      const recipe = ctx.recipe
      const [promptDep, timingDep, countDep] = ctx.node.deps
      const shot = Prompts.shotAt(ctx, promptDep!)
      const frames = ctx.value(timingDep!.id, timingDep!.output!) as number
      const count = ctx.value(countDep!.id, countDep!.output!) as number
      const card = yield* renderCard({
        out: { image: path.join(ctx.scratch, "card.png"), plate: path.join(ctx.scratch, "plate.png"), lettering: path.join(ctx.scratch, "lettering.png") },
        width: recipe.width,
        height: recipe.height,
        palette: { key: recipe.colour },
        sentence: recipe.text,
        caption: captionOf(shot.prompt),
        label: `shot ${recipe.shot} of ${count} · ${(frames / recipe.fps).toFixed(1)} s · ${cameraLabel(shot.camera)}`,
        shotType: shot.shotType,
        camera: shot.camera,
        index: recipe.shot
      })
      return {
        image: { file: card.image, ext: "png" },
        plate: { file: card.plate, ext: "png" },
        lettering: { file: card.lettering, ext: "png" }
      }
    })
})
