/**
 * `transcript`: the sentences of the transcript. The split itself happens before the build (bad input must
 * stop it with exit 2 before anything runs); this node records the result, keyed by the normalized text,
 * so a change of case or spacing alone re-pays nothing.
 */
import { Effect, Schema } from "effect"
import type { NodeSpec } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import { normalize } from "../src/text/Sentences.ts"
import { defineRule } from "./Rule.ts"

export const version = 1

const Recipe = Schema.Struct({ sentences: Schema.Array(Schema.String) })

export const node = (sentences: ReadonlyArray<string>): NodeSpec => ({
  id: ids.transcript,
  kind: kinds.transcript,
  stage: "transcript",
  version,
  recipe: { sentences: sentences.map(normalize) } satisfies typeof Recipe.Type,
  context: { original: [...sentences] },
  deps: []
})

export const rule = defineRule({
  kind: kinds.transcript,
  recipe: Recipe,
  pool: "local",
  run: (ctx) => Effect.succeed({ sentences: { value: ctx.recipe.sentences } })
})
