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
 *
 * The cast (issue 16, contract 6 for an implementation without references): the card names the characters the
 * shot shows, each in its colour from the story bible, draws the figure in the first one's colour, and takes
 * the sky and ground from the place's colour, so consistency is visible offline. A character's sheet is a card
 * too: its name, look and wardrobe, the figure in its colour.
 */
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { sha256 } from "../../src/engine/Hash.ts"
import { ids } from "../../src/Film.ts"
import { cameraLabel, captionOf, renderCard } from "../../src/media/Card.ts"
import { normalize } from "../../src/text/Sentences.ts"
import * as Cast from "../cast.ts"
import { motionAt, motionDep, stillAt } from "../plan.ts"
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
  references: "none",
  node: ({ shot, sentence }, { config }) =>
    Image.shotNode(
      shot,
      {
        provider: "card",
        layers: 3,
        width: config.width,
        height: config.height,
        fps: config.fps,
        colour: sentenceColour(sentence),
        text: displayText(sentence),
        shot: shot.j
      } satisfies typeof Recipe.Type,
      { references: false, colours: true },
      [{ id: ids.timing(shot.n), output: String(shot.j) }, { id: ids.shots(shot.n), output: "count" }, motionDep(shot.n, shot.j)]
    ),
  sheet: ({ id }, { config }) =>
    Image.sheetNode(
      id,
      { provider: "card", layers: 3, width: config.width, height: config.height, fps: config.fps, colour: "", text: "", shot: 1 } satisfies typeof Recipe.Type,
      [Cast.colourDep(id)]
    ),
  run: (ctx) =>
    Effect.gen(function*() {
      const recipe = ctx.recipe
      const out = { image: path.join(ctx.scratch, "card.png"), plate: path.join(ctx.scratch, "plate.png"), lettering: path.join(ctx.scratch, "lettering.png") }
      const base = { out, width: recipe.width, height: recipe.height }
      const card = Image.isSheet(ctx)
        ? yield* (() => {
          const entry = Image.sheetEntry(ctx)
          const colour = String(ctx.value(ctx.node.deps[1]!.id, "colour"))
          return renderCard({
            ...base,
            palette: { key: "#3a4654", figure: colour },
            sentence: entry.name,
            caption: Cast.describe(entry).slice(entry.name.length).replace(/^:\s*/, "") || "character sheet",
            label: "character sheet",
            cast: [{ name: entry.name, colour }],
            shotType: "medium",
            camera: "push-in",
            index: 1
          })
        })()
        : yield* (() => {
          const [still, timingDep, countDep, motion] = ctx.node.deps
          const shot = stillAt(ctx, still!)
          const { camera } = motionAt(ctx, motion!)
          const frames = ctx.value(timingDep!.id, timingDep!.output!) as number
          const count = ctx.value(countDep!.id, countDep!.output!) as number
          const shown = Image.shown(ctx)
          const colours = shown.cast.flatMap((c) => (c.colour === undefined ? [] : [{ name: c.name, colour: c.colour }]))
          return renderCard({
            ...base,
            palette: { key: shown.place?.colour ?? recipe.colour, ...(colours[0] ? { figure: colours[0].colour } : {}) },
            sentence: recipe.text,
            caption: captionOf(shot.prompt),
            label: `shot ${recipe.shot} of ${count} · ${(frames / recipe.fps).toFixed(1)} s · ${cameraLabel(camera)}`,
            cast: colours,
            shotType: shot.shotType,
            camera,
            index: recipe.shot
          })
        })()
      return {
        image: { file: card.image, ext: "png" },
        plate: { file: card.plate, ext: "png" },
        lettering: { file: card.lettering, ext: "png" }
      }
    })
})
