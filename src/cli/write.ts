/**
 * `storyshot write`: a transcript from a topic, web pages or files (src/write/Write.ts). Exit codes as for
 * build: 2 for what the person must fix (an option, a file, a page, a missing key), 1 when the paid call
 * failed or would pass the spend cap. Its options and description are in Commands.ts.
 */
import { Effect, Option } from "effect"
import * as Write from "../write/Write.ts"
import type { WriteError } from "../write/Errors.ts"
import type { Flags, writeOptions } from "./Commands.ts"
import { root } from "./Root.ts"
import * as Session from "./Session.ts"

/** The flags as `Write.run` takes them. */
export const flagsOf = (o: Flags<typeof writeOptions>): Write.WriteFlags => ({
  topic: Option.getOrUndefined(o.topic),
  urls: o.url,
  from: o.from,
  length: Option.getOrUndefined(o.length),
  style: Option.getOrUndefined(o.style),
  audience: Option.getOrUndefined(o.audience),
  force: o.force,
  dryRun: o.dryRun,
  verbatim: o.verbatim,
  model: Option.getOrUndefined(o.model),
  maxCost: Option.getOrUndefined(o.maxCost)
})

const failedRun: ReadonlyArray<WriteError["reason"]> = ["writer", "over-budget", "output"]

export const handler = (o: Flags<typeof writeOptions>) =>
  Effect.gen(function* () {
    const g = yield* root
    const ws = yield* Session.openWorkspace(g)
    const say: Write.Say = {
      line: (text) => void process.stdout.write(`${text}\n`),
      note: (text) => void process.stderr.write(`storyshot: ${text}\n`)
    }
    yield* Write.run(ws, flagsOf(o), say).pipe(
      Effect.catchTag("WriteError", (e): Effect.Effect<never, Session.UsageError | Session.BuildFailed> => {
        if (!failedRun.includes(e.reason)) return Effect.fail(new Session.UsageError({ message: e.message }))
        process.stderr.write(`storyshot: ${e.message}\n`)
        return Effect.fail(new Session.BuildFailed({ message: e.message }))
      })
    )
  })
