/**
 * A synthetic graph of `n` nodes for the no-op and memory benchmarks: layers of width ~√n, each node
 * reading two nodes of the layer before (so fingerprints chain through the whole depth), and one `top`
 * node reading the last layer (like `final`). Rules are instant and return a small JSON value, so what is
 * measured is the engine and the real file store, nothing else.
 */
import { Effect, Layer } from "effect"
import { BuildEvents } from "../src/engine/Events.ts"
import type { NodeSpec, Rule } from "../src/engine/Node.ts"
import * as Scheduler from "../src/engine/Scheduler.ts"
import { Store } from "../src/engine/Store.ts"

export const graph = (n: number): ReadonlyArray<NodeSpec> => {
  const inner = n - 1
  const width = Math.max(2, Math.round(Math.sqrt(inner)))
  const nodes: Array<NodeSpec> = []
  for (let i = 0; i < inner; i++) {
    const layer = Math.floor(i / width)
    const deps =
      layer === 0
        ? []
        : [i - width, layer * width + ((i + 1) % width) - width].filter((d, k, a) => d >= 0 && a.indexOf(d) === k)
    nodes.push({
      id: `node:${i}`,
      kind: "step",
      stage: "step",
      version: 1,
      recipe: { i, note: "a recipe of a realistic size: provider, model, a sentence of text" },
      deps: deps.map((d) => ({ id: `node:${d}`, output: "value" }))
    })
  }
  // `top` reads every node nothing else reads, so all n nodes are part of the build.
  const read = new Set(nodes.flatMap((x) => x.deps.map((d) => d.id)))
  nodes.push({
    id: "top",
    kind: "step",
    stage: "step",
    version: 1,
    recipe: {},
    deps: nodes.filter((x) => !read.has(x.id)).map((x) => ({ id: x.id, output: "value" }))
  })
  return nodes
}

const rule: Rule = {
  kind: "step",
  pool: () => "local",
  paid: () => false,
  run: (ctx) => Effect.succeed({ value: { value: `${ctx.node.id} of ${ctx.deps.length}` } })
}

/** One build of the graph against the store at `root`; resolves with the engine's result. */
export const build = (root: string, nodes: ReadonlyArray<NodeSpec>) =>
  Scheduler.build({ nodes, rules: { step: rule } }, { targets: ["top"], pools: { local: 8 }, complete: true }).pipe(
    Effect.provide(Layer.mergeAll(Store.layer(root), BuildEvents.layerNoop))
  )
