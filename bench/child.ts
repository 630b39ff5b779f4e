/**
 * One measurement in a process of its own, so its peak memory (max RSS) is its own:
 *   node bin/run-ts.js bench/child.ts build ROOT N      a cold build of the N-node graph into ROOT
 *   node bin/run-ts.js bench/child.ts noop ROOT N K     K no-op builds of it (ROOT already built)
 * Prints one JSON line: { ms: [...], built, cached, maxRssMb }.
 */
import { performance } from "node:perf_hooks"
import { createRequire } from "node:module"
import { Effect } from "effect"
import * as Graph from "./Graph.ts"

// The heap settings the installed command runs with (bin/heap.cjs), so the engine is measured as it runs.
createRequire(import.meta.url)("../bin/heap.cjs")

const [mode, root, nArg, kArg] = process.argv.slice(2)
if ((mode !== "build" && mode !== "noop") || !root || !nArg) {
  console.error("usage: bench/child.ts build|noop ROOT N [K]")
  process.exit(2)
}
const nodes = Graph.graph(Number(nArg))
const times: Array<number> = []
let built = 0
let cached = 0
for (let k = 0; k < (mode === "noop" ? Number(kArg ?? 5) : 1); k++) {
  const t = performance.now()
  const result = await Effect.runPromise(Graph.build(root, nodes))
  times.push(performance.now() - t)
  if (result.failed.length > 0) throw new Error(JSON.stringify(result.failed.slice(0, 3)))
  built = result.built.length
  cached = result.cached.length
}
console.log(JSON.stringify({ ms: times, built, cached, maxRssMb: process.resourceUsage().maxRSS / 1024 }))
