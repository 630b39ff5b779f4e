/**
 * A provider added in one file: `image/solid`, a flat-colour still drawn without ffmpeg (the test's own PNG
 * encoder), coloured by the shot's prompt. It declares its recipe, its node and its run, and nothing else in
 * storyshot is edited for it: a test registers it and selects it with `providers: { image: "solid" }`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { ids, kinds } from "../../src/Film.ts"
import * as Prompts from "../../targets/prompts/Prompts.ts"
import { defineImpl } from "../../targets/Rule.ts"
import { seededPng } from "../fakes/png.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("solid"),
  width: Schema.Number,
  height: Schema.Number
})

export const impl = defineImpl({
  stage: "image",
  name: "solid",
  paid: false,
  about: { summary: "a flat colour per prompt (a test's provider)", needs: [], price: "free", afterCrash: "drawn again (free)", reattaches: false },
  recipe: Recipe,
  pool: "local",
  node: ({ shot }, { config }) => ({
    id: ids.image(shot.k),
    kind: kinds.image,
    stage: "image",
    version: 1,
    recipe: { provider: "solid", width: config.width, height: config.height } satisfies typeof Recipe.Type,
    deps: [Prompts.promptDep(shot.n, shot.j)]
  }),
  run: (ctx) =>
    Effect.sync(() => {
      const shot = Prompts.shotAt(ctx, ctx.node.deps[0]!)
      const file = path.join(ctx.scratch, "solid.png")
      fs.writeFileSync(file, seededPng(shot.prompt, ctx.recipe.width, ctx.recipe.height))
      return { image: { file, ext: "png" } }
    })
})
