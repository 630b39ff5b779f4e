/**
 * `storyshot clean`: drop stored results so the next build remakes them, and remove what nothing refers to.
 * Whatever it drops that cost money, it says how much.
 */
import * as fs from "node:fs"
import { Effect, Option } from "effect"
import * as Cost from "../engine/Cost.ts"
import * as Lock from "../engine/Lock.ts"
import { Store, type NodeRecord } from "../engine/Store.ts"
import { stages as filmStages } from "../Film.ts"
import { root } from "./Root.ts"
import * as Session from "./Session.ts"

const paidOf = (records: ReadonlyArray<NodeRecord>) =>
  Cost.sum(records.flatMap((r) => [r.cost, ...(r.takes ?? []).map((t) => t.cost)]).filter((c) => c.source !== "free"))

/** Every stage a record can belong to: the film's, the free helper nodes', and the whole-film pages. */
const stages = filmStages

export interface CleanFlags {
  readonly stage: Option.Option<string>
  readonly target: ReadonlyArray<string>
  readonly all: boolean
}

export const run = (g: Session.GlobalOptions, flags: CleanFlags, say: (line: string) => void) =>
  Effect.gen(function* () {
    const ws = yield* Session.openWorkspace(g)
    const stage = Option.getOrUndefined(flags.stage)
    if (stage !== undefined && !(stages as ReadonlyArray<string>).includes(stage))
      return yield* new Session.UsageError({ message: `unknown stage "${stage}": use one of ${stages.join(", ")}` })
    if (flags.target.length > 0) {
      // A target the last build recorded can always be dropped (the transcript may have lost it since);
      // others are checked against the film as the transcript makes it now (the id's form only when the
      // transcript cannot be read).
      const recorded = fs.existsSync(ws.storeDir)
        ? (yield* Effect.provide(Effect.flatMap(Store, (s) => s.readState), Store.layer(ws.storeDir))).nodes
        : {}
      const sentences = yield* Session.readSentences(ws).pipe(Effect.orElseSucceed(() => undefined))
      yield* Session.checkTargets(ws, flags.target.filter((t) => recorded[t] === undefined), sentences)
    }
    if (!fs.existsSync(ws.storeDir) && !fs.existsSync(ws.outDir)) return say("Nothing to clean: there is no store.")
    // A running build must not lose records or objects under its feet: clean waits for it.
    yield* Lock.acquire(ws.storeDir, {
      wait: true,
      command: "storyshot clean",
      onWait: (_, message) => Effect.sync(() => process.stderr.write(`storyshot: ${message}\n`))
    }).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))

    if (flags.all) {
      if (!fs.existsSync(ws.storeDir)) return say("Nothing to clean: there is no store.")
      const records = yield* Effect.provide(Effect.flatMap(Store, (s) => s.records), Store.layer(ws.storeDir))
      const paid = paidOf(records)
      fs.rmSync(ws.storeDir, { recursive: true, force: true })
      fs.rmSync(ws.outDir, { recursive: true, force: true })
      return say(
        `Removed the store (${records.length} results${paid.usd > 0 || !paid.known ? `, which cost ${Cost.format(paid)} to make` : ""}) and out/.`
      )
    }

    yield* Effect.gen(function* () {
      const store = yield* Store
      let dropped: Array<NodeRecord> = []
      if (stage !== undefined || flags.target.length > 0) {
        const state = yield* store.readState
        const wanted = new Set(flags.target)
        const currentFingerprints = new Set(
          Object.values(state.nodes)
            .filter((n) => wanted.has(n.id))
            .map((n) => n.fingerprint)
        )
        for (const id of wanted) if (!state.nodes[id]) say(`${id}: no stored result from the last build`)
        for (const r of yield* store.records) {
          if ((stage !== undefined && r.stage === stage) || currentFingerprints.has(r.fingerprint)) {
            yield* store.deleteRecord(r.fingerprint)
            dropped.push(r)
          }
        }
        const paid = paidOf(dropped)
        say(
          `Dropped ${dropped.length} stored result${dropped.length === 1 ? "" : "s"}${paid.usd > 0 || !paid.known ? ` that cost ${Cost.format(paid)} to make (the next build pays for them again)` : ""}.`
        )
      } else {
        fs.rmSync(ws.outDir, { recursive: true, force: true })
        say("Removed out/ (the next build remakes it from the store without paying).")
      }
      const gc = yield* store.collectGarbage
      if (gc.removed > 0) say(`Removed ${gc.removed} unreferenced file${gc.removed === 1 ? "" : "s"} (${(gc.bytes / 1e6).toFixed(1)} MB).`)
    }).pipe(
      Effect.provide(Store.layer(ws.storeDir)),
      Effect.mapError((e) => new Session.UsageError({ message: e.message }))
    )
  })

/** `storyshot clean` (its options are in Commands.ts). */
export const handler = (flags: CleanFlags) =>
    Effect.gen(function* () {
      const g = yield* root
      yield* Effect.scoped(run(g, flags, (line) => process.stdout.write(line + "\n")))
    })
