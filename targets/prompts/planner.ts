/**
 * `prompts/planner`: the deterministic shot planner (templates and camera moves). Free; the draft profile's.
 *
 * Besides the planner's prompts and moves it directs as the draft can: each shot shows the characters and the
 * first place its sentence names (the story bible's, by name or alias), moves slowly the way its camera goes,
 * and is entered by a crossfade from the shot before within its sentence, by a cut from the previous sentence
 * (a cut keeps each sentence's mux apart from its neighbours'). A refinement appends the feedback to the prompt;
 * the bible's first draft comes from the names in the text (src/director/Draft.ts).
 */
import { Effect, Schema } from "effect"
import * as Draft from "../../src/director/Draft.ts"
import { planShots } from "../../src/providers/local/ShotPlanner.ts"
import { cameraWords, type DirectedShot } from "../../src/Shot.ts"
import { normalize } from "../../src/text/Sentences.ts"
import { defineImpl } from "../Rule.ts"
import * as Prompts from "./Prompts.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("planner"),
  style: Schema.String,
  text: Schema.String,
  /** The bible's characters (name, role) and places this sentence mentions. */
  cast: Schema.Array(Schema.Struct({ name: Schema.String, role: Schema.String })),
  places: Schema.Array(Schema.String)
})

/** "Wide: the keeper climbed the stairs. Style: ..." → "the keeper climbed the stairs". */
const panelOf = (prompt: string) => (/^[^:.]{1,40}:\s*([^.]*)/.exec(prompt)?.[1] ?? prompt).trim()

export const impl = defineImpl({
  stage: "prompts",
  name: "planner",
  paid: false,
  about: {
    summary: "deterministic shot planner (templates, camera moves, the bible's names), offline",
    needs: [],
    price: "free",
    afterCrash: "planned again (free)",
    reattaches: false
  },
  recipe: Recipe,
  pool: "local",
  node: ({ n, sentences }, { config, director }) => {
    const sentence = sentences[n - 1]!
    const named = Prompts.mentioned(director, sentence)
    return Prompts.node(
      n,
      sentences,
      {
        provider: "planner",
        style: Prompts.styleOf(director, config.style),
        text: normalize(sentence),
        cast: named.cast.map((c) => ({ name: c.name, role: c.role })),
        places: [...named.places]
      } satisfies typeof Recipe.Type,
      {},
      director
    )
  },
  run: (ctx) =>
    Effect.sync(() => {
      const brief = Prompts.brief(ctx, ctx.recipe.text)
      const shots = planShots({
        text: brief.sentence,
        previous: brief.previous ?? undefined,
        next: brief.next ?? undefined,
        style: ctx.recipe.style,
        count: brief.count
      })
      const cast = ctx.recipe.cast.map((c) => c.name)
      const place = ctx.recipe.places[0] ?? null
      return Prompts.produced(
        shots.map((s, i): DirectedShot => ({
          ...s,
          motion: `slow ${cameraWords(s.camera)} over ${panelOf(s.prompt)}`,
          transition: i === 0 ? "cut" : "crossfade",
          cast,
          place
        }))
      )
    }),
  refine: (_ctx, { brief }) =>
    Effect.sync((): DirectedShot => ({
      ...brief.shot,
      prompt: `${brief.shot.prompt.trim().replace(/[.\s]+$/u, "")}; ${brief.feedback.trim()}.`
    })),
  direct: (_ctx, { sentences, style }) => Effect.sync(() => Draft.fromText(sentences, style))
})
