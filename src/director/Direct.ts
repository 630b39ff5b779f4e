/**
 * `storyshot direct`: writes the story bible's first draft into the workspace, once. The configured prompt
 * writer drafts it (targets/direct.ts): an LLM reading the whole transcript in the cloud profile, the names in
 * the text in the draft profile. After that the file is the user's: nothing regenerates it, and `direct`
 * refuses to write over it without `--force` (exit 2). With `--force` the draft is a new take (paid again in the
 * cloud profile) and the old file is kept beside the store (`.storyshot/bible.previous.json`).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import * as Atomic from "../engine/Atomic.ts"
import * as Cost from "../engine/Cost.ts"
import * as Lock from "../engine/Lock.ts"
import * as Scheduler from "../engine/Scheduler.ts"
import { ids } from "../Film.ts"
import * as Pools from "../Pools.ts"
import * as ProviderConfig from "../providers/ProviderConfig.ts"
import { retryable } from "../providers/Retryable.ts"
import type { Workspace } from "../Workspace.ts"
import * as Session from "../cli/Session.ts"
import * as RunLog from "../cli/RunLog.ts"
import * as Direct from "../../targets/direct.ts"
import * as Registry from "../../targets/registry.ts"
import type { BuildEvent } from "../engine/Events.ts"
import * as Bible from "./Bible.ts"
import * as Inputs from "./Inputs.ts"
import * as ShotEdits from "../ShotEdits.ts"

export interface DirectFlags {
  readonly force: boolean
  readonly dryRun: boolean
}

export interface DirectResult {
  readonly file: string
  /** Undefined for a dry run. */
  readonly bible: Bible.Bible | undefined
  readonly cost: Cost.Total
  readonly estimate: Cost.Total
  readonly by: string
  readonly replaced: boolean
}

/** The bible as read back from the node's value (the writer's answer, already checked). */
const bibleOf = (value: unknown, where: string): Bible.Bible => {
  const decoded = Bible.decode(value, where)
  if (decoded._tag === "Left") throw new Error(decoded.left)
  return decoded.right
}

export const run = (ws: Workspace, flags: DirectFlags, onEvent: (e: BuildEvent) => void = () => {}) =>
  Effect.gen(function* () {
    const file = Bible.filePath(ws.dir)
    const exists = fs.existsSync(file)
    if (exists && !flags.force)
      return yield* new Session.UsageError({
        message: `${file} exists and is yours to edit: the build reads it as it is. \`storyshot direct --force\` writes a new draft over it`
      })
    const sentences = yield* Session.readSentences(ws, { director: false })
    yield* Session.checkProviders(ws)
    const prompts = Registry.pick("prompts", ws.config)
    const providers = ProviderConfig.fromEnv(ws.env)
    const missing = prompts.missing?.(providers) ?? []
    if (!flags.dryRun && missing.length > 0)
      return yield* new Session.UsageError({
        message: `missing ${missing.join(", ")}: set it in .env or the environment (see .env.example), or run \`storyshot direct --profile draft\` for a draft from the names in the text`
      })
    // Neither the bible nor the shot edits reach the draft (either may be broken: --force replaces the bible).
    const context = { config: ws.config, providers, storeDir: ws.storeDir, director: { bible: undefined, edits: ShotEdits.empty } }
    const node = Direct.node(context, prompts, sentences)
    const graph = { nodes: [node], rules: { [node.kind]: Direct.rule } }
    const runDir = RunLog.runDir(ws.storeDir, RunLog.newRunId())
    const by = prompts.paid ? `${prompts.name} · ${String(node.recipe.model ?? "")}` : prompts.name
    const program = Effect.gen(function* () {
      const result = yield* Scheduler.build(graph, {
        targets: [ids.direct],
        force: flags.force && !flags.dryRun ? new Set([ids.direct]) : undefined,
        dryRun: flags.dryRun,
        retryable,
        retryBaseMs: providers.retryBaseMs,
        pools: { ...Pools.defaultPools(), ...ws.config.pools },
        timeoutMs: ws.config.timeoutSeconds * 1000
      }).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))
      const estimate = Cost.sum(result.wouldBuild.map((w) => w.estimate))
      if (flags.dryRun) return { file, bible: undefined, cost: result.cost, estimate, by, replaced: exists } satisfies DirectResult
      const failed = result.failed[0]
      if (failed !== undefined) {
        onEvent({ _tag: "Warning", message: `the story bible could not be drafted: ${failed.error}` })
        return yield* new Session.BuildFailed({ message: failed.error })
      }
      const built = result.results.get(ids.direct)
      const bible = bibleOf(built?.outputs.bible?.value, `the ${prompts.name} writer's draft`)
      if (exists) yield* Effect.sync(() => fs.copyFileSync(file, path.join(ws.storeDir, "bible.previous.json")))
      yield* Atomic.writeAtomic(file, Bible.format(bible), Atomic.tempName(ws.storeDir)).pipe(
        Effect.mapError((e) => new Session.BuildFailed({ message: `cannot write ${file}: ${e.message}` }))
      )
      Inputs.forget(ws.dir)
      return { file, bible, cost: result.cost, estimate, by, replaced: exists } satisfies DirectResult
    })
    const locked = flags.dryRun
      ? program
      : Effect.scoped(
          Lock.acquire(ws.storeDir, {
            wait: true,
            command: "storyshot direct",
            onWait: (_, message) => Effect.sync(() => onEvent({ _tag: "Warning", message }))
          }).pipe(
            Effect.mapError((e) => new Session.UsageError({ message: e.message })),
            Effect.zipRight(program)
          )
        )
    return yield* locked.pipe(Effect.provide(Session.layers(ws, runDir, onEvent)))
  })

/** What `direct` prints: where the bible went, who is in it, and what it cost. */
export const summary = (r: DirectResult): ReadonlyArray<string> => {
  if (r.bible === undefined)
    return [`would draft ${path.basename(r.file)} with ${r.by}: estimated ${Cost.format(r.estimate)} (nothing paid)${r.replaced ? "; --force writes over the existing file" : ""}`]
  const names = (xs: ReadonlyArray<{ readonly name: string }>) => (xs.length === 0 ? "none" : xs.map((x) => x.name).join(", "))
  return [
    `${r.replaced ? "rewrote" : "wrote"} ${r.file} (${r.by}, ${Cost.format(r.cost)})`,
    `  cast (${r.bible.cast.length}): ${names(r.bible.cast)}`,
    `  places (${r.bible.places.length}): ${names(r.bible.places)}`,
    `  style: ${Bible.styleText(r.bible.style) || "(none)"}`,
    "It is yours now: edit looks, wardrobe, roles and style there; builds read it as it is and never rewrite it."
  ]
}
