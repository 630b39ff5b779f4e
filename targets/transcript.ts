/**
 * `transcript`: the sentences of the transcript. The split itself happens before the build (bad input must
 * stop it with exit 2 before anything runs); this node records the result, keyed by the normalized text,
 * so a change of case or spacing alone re-pays nothing.
 */
import { Effect } from "effect"
import type { NodeSpec, Rule } from "../src/engine/Node.ts"
import { normalize } from "../src/text/Sentences.ts"
import { ids, kinds } from "./Settings.ts"

export const version = 1

export const node = (sentences: ReadonlyArray<string>): NodeSpec => ({
  id: ids.transcript,
  kind: kinds.transcript,
  stage: "transcript",
  version,
  recipe: { sentences: sentences.map(normalize) },
  context: { original: [...sentences] },
  deps: []
})

export const rule: Rule = {
  kind: kinds.transcript,
  pool: () => "local",
  paid: () => false,
  run: (ctx) => Effect.succeed({ sentences: { value: ctx.node.recipe.sentences! } })
}
