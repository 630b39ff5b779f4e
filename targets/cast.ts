/**
 * The story bible's entries as nodes, so that each shot depends on exactly the entries it shows:
 *   `character:ID`  a character's name, look and wardrobe (`entry`) and colour (`colour`);
 *   `place:ID`      a place's name and look (`entry`) and colour (`colour`).
 * Free; they only restate the bible. A shot image depends on the entries its plan says it shows (and, for an
 * image provider that sends references, on their sheets `character:ID:sheet`), so editing one character's look
 * changes that character's `entry` and nothing else: its sheet and the shots that show it are made again, and
 * no other. The role is not here: it reaches only the prompt writers (targets/prompts/Prompts.ts).
 */
import { Effect, Schema } from "effect"
import * as Bible from "../src/director/Bible.ts"
import type { NodeSpec } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import { defineRule } from "./Rule.ts"

export const version = 1

const CharacterRecipe = Schema.Struct({ name: Schema.String, look: Schema.String, wardrobe: Schema.String, colour: Schema.String })
const PlaceRecipe = Schema.Struct({ name: Schema.String, look: Schema.String, colour: Schema.String })

export interface CharacterEntry {
  readonly name: string
  readonly look: string
  readonly wardrobe: string
}
export interface PlaceEntry {
  readonly name: string
  readonly look: string
}

export const characterNode = (c: Bible.Character): NodeSpec => ({
  id: ids.character(Bible.idOf(c.name)),
  kind: kinds.character,
  stage: "transcript",
  version,
  recipe: { name: c.name, look: c.look, wardrobe: c.wardrobe, colour: Bible.characterColour(c) } satisfies typeof CharacterRecipe.Type,
  deps: []
})

export const placeNode = (p: Bible.Place): NodeSpec => ({
  id: ids.place(Bible.idOf(p.name)),
  kind: kinds.place,
  stage: "transcript",
  version,
  recipe: { name: p.name, look: p.look, colour: Bible.placeColour(p) } satisfies typeof PlaceRecipe.Type,
  deps: []
})

export const characterRule = defineRule({
  kind: kinds.character,
  recipe: CharacterRecipe,
  pool: "local",
  run: (ctx) =>
    Effect.succeed({
      entry: { value: { name: ctx.recipe.name, look: ctx.recipe.look, wardrobe: ctx.recipe.wardrobe } },
      colour: { value: ctx.recipe.colour }
    })
})

export const placeRule = defineRule({
  kind: kinds.place,
  recipe: PlaceRecipe,
  pool: "local",
  run: (ctx) => Effect.succeed({ entry: { value: { name: ctx.recipe.name, look: ctx.recipe.look } }, colour: { value: ctx.recipe.colour } })
})

/** A character's entry as a sheet or a shot reads it. */
export const entryDep = (id: string) => ({ id: ids.character(id), output: "entry" })
export const colourDep = (id: string) => ({ id: ids.character(id), output: "colour" })
export const placeEntryDep = (id: string) => ({ id: ids.place(id), output: "entry" })
export const placeColourDep = (id: string) => ({ id: ids.place(id), output: "colour" })
export const sheetDep = (id: string) => ({ id: ids.sheet(id), output: "image" })

/** "Mara — a tall woman of sixty; wearing a navy coat" */
export const describe = (e: CharacterEntry): string => {
  const parts = [e.look.trim(), e.wardrobe.trim() ? `wearing ${e.wardrobe.trim()}` : ""].filter((p) => p.length > 0)
  return parts.length > 0 ? `${e.name}: ${parts.join("; ")}` : e.name
}

export const describePlace = (e: PlaceEntry): string => (e.look.trim() ? `${e.name}: ${e.look.trim()}` : e.name)
