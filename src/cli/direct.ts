/**
 * `storyshot direct`: the story bible's first draft (src/director/Direct.ts). Exit 2 when the file exists
 * (without --force) or a key is missing; 1 when the writer's call failed.
 */
import { Effect, Option } from "effect"
import * as Direct from "../director/Direct.ts"
import type { directOptions, Flags } from "./Commands.ts"
import { root } from "./Root.ts"
import * as Session from "./Session.ts"

export const handler = (o: Flags<typeof directOptions>) =>
  Effect.gen(function* () {
    const g = yield* root
    const ws = yield* Session.openWorkspace(g, Option.getOrUndefined(o.profile))
    const result = yield* Direct.run(ws, { force: o.force, dryRun: o.dryRun }, (e) => {
      if (e._tag === "Warning") process.stderr.write(`storyshot: ${e.message}\n`)
    })
    if (o.json) process.stdout.write(`${JSON.stringify({ file: result.file, bible: result.bible ?? null, cost: result.cost, estimate: result.estimate, by: result.by })}\n`)
    else for (const line of Direct.summary(result)) process.stdout.write(`${line}\n`)
  })
