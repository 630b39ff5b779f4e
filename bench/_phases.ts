import { performance } from "node:perf_hooks"
import { Effect } from "effect"
import * as Workspace from "../src/Workspace.ts"
import * as Session from "../src/cli/Session.ts"
import * as Scheduler from "../src/engine/Scheduler.ts"
import { Store } from "../src/engine/Store.ts"
import * as Targets from "../targets/index.ts"
import * as Pools from "../src/Pools.ts"
import { publish } from "../targets/publish.ts"
import * as RunLog from "../src/cli/RunLog.ts"
const cwd = process.argv[2]!
const dry = process.argv[3] === "dry"
const lap = (() => { let t = performance.now(); return (what: string) => { const n = performance.now(); console.log(what.padEnd(22), (n - t).toFixed(0), "ms"); t = n } })()
for (let round = 0; round < 2; round++) {
const ws = await Effect.runPromise(Workspace.load({ cwd }) as any) as Workspace.Workspace
lap("workspace")
const sentences = await Effect.runPromise(Session.readSentences(ws) as any) as ReadonlyArray<string>
lap("sentences " + sentences.length)
await Effect.runPromise(Session.checkFfmpeg as any)
lap("checkFfmpeg")
const nodes = Targets.plan(ws, sentences)
lap("plan " + nodes.length)
const result = await Effect.runPromise(Effect.gen(function* () {
  const r = yield* Scheduler.build({ nodes, rules: Targets.rules }, { targets: [...Targets.defaultTargets], dryRun: dry, keepGoing: dry, pools: Pools.defaultPools(), estimateMs: Pools.typicalMs, complete: true })
  lap("scheduler " + r.built.length + "/" + r.cached.length)
  if (!dry) { const store = yield* Store; yield* publish(ws, store, sentences, r.results); lap("publish") }
  return r
}).pipe(Effect.provide(Session.layers(ws, RunLog.runDir(ws.storeDir, "phases"), () => {}))) as any)
}
