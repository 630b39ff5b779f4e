/**
 * What every subcommand shares: opening the workspace, reading the transcript, checking target ids, and
 * the layers a build runs with. Everything that is the user's to fix becomes a `UsageError` (exit 2).
 */
import * as fs from "node:fs"
import { Effect, Layer, Option, Schema } from "effect"
import { BuildEvents, type BuildEvent } from "../engine/Events.ts"
import { Store } from "../engine/Store.ts"
import { checkWorks, Ffmpeg } from "../media/Ffmpeg.ts"
import { Espeak } from "../providers/espeak/Espeak.ts"
import { FalClient } from "../providers/fal/Client.ts"
import { Http } from "../providers/http/Client.ts"
import { OpenAIClient } from "../providers/openai/Client.ts"
import { OpenRouterClient } from "../providers/openrouter/Client.ts"
import * as ProviderConfig from "../providers/ProviderConfig.ts"
import { parseTranscript } from "../text/Sentences.ts"
import * as Workspace from "../Workspace.ts"
import { idPatterns, ids } from "../Film.ts"
import * as Registry from "../../targets/registry.ts"
import { Settings } from "../../targets/Settings.ts"
import * as RunLog from "./RunLog.ts"
import type { Profile } from "../Config.ts"

/** Bad usage, config or input: exit 2, one line, no stack trace. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

/** A target failed: exit 1 (details were already reported). */
export class BuildFailed extends Schema.TaggedError<BuildFailed>()("BuildFailed", { message: Schema.String }) {}

export interface GlobalOptions {
  readonly cwd: Option.Option<string>
  readonly config: Option.Option<string>
}

export const openWorkspace = (global: GlobalOptions, profile?: Profile) =>
  Workspace.load({
    cwd: Option.getOrUndefined(global.cwd),
    config: Option.getOrUndefined(global.config),
    profile
  }).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))

export const readSentences = (ws: Workspace.Workspace) =>
  Effect.gen(function* () {
    let bytes: Uint8Array
    try {
      bytes = fs.readFileSync(ws.transcriptPath)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      return yield* new UsageError({
        message:
          code === "ENOENT"
            ? `no transcript at ${ws.transcriptPath}: write your text there, set \`transcript\` in storyshot.config.ts, or run \`storyshot init\``
            : `cannot read the transcript ${ws.transcriptPath}: ${(e as Error).message}`
      })
    }
    return yield* parseTranscript(bytes, ws.transcriptPath).pipe(
      Effect.mapError((e) => new UsageError({ message: e.message }))
    )
  })

const levenshtein = (a: string, b: string) => {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!
    dp[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return dp[b.length]!
}

/** Checks target ids before anything runs; an unknown one gets the nearest valid form as a suggestion. */
export const checkTargets = (targets: ReadonlyArray<string>, sentenceCount: number) =>
  Effect.forEach(targets, (id) => {
    const known = idPatterns.find((p) => p.pattern.test(id))
    if (!known) {
      // Suggest the pattern whose example is nearest, with the user's numbers put back in.
      const numbers = id.match(/\d+/)?.[0]
      const nearest = idPatterns
        .map((p) => ({ p, d: levenshtein(id.replace(/\d+/g, "1"), p.example) }))
        .sort((a, b) => a.d - b.d)[0]!
      const suggestion = numbers ? nearest.p.example.replace("1", numbers) : nearest.p.example
      return Effect.fail(
        new UsageError({
          message: `unknown target "${id}": did you mean "${suggestion}"? (targets: transcript, sentence:N:audio|prompts|mux, shot:K:image|video, final)`
        })
      )
    }
    const n = /^sentence:(\d+):/.exec(id)?.[1]
    if (n && Number(n) > sentenceCount)
      return Effect.fail(
        new UsageError({ message: `unknown target "${id}": the transcript has ${sentenceCount} sentence${sentenceCount === 1 ? "" : "s"}` })
      )
    return Effect.void
  })

/** The configured providers exist (`storyshot providers` lists them). */
export const checkProviders = (ws: Workspace.Workspace) => {
  const unknown = Registry.unknownProviders(ws.config)
  return unknown.length === 0 ? Effect.void : Effect.fail(new UsageError({ message: `${unknown[0]} (see \`storyshot providers\`)` }))
}

/** A build of the cloud profile must not start without its keys, nor with a base URL that is no URL: no paid
 *  call happens before this check. */
export const checkKeys = (ws: Workspace.Workspace) =>
  Effect.gen(function* () {
    const wrong = ProviderConfig.problems(ws.env)
    if (wrong.length > 0) return yield* new UsageError({ message: `${wrong[0]}: fix it in .env or the environment` })
    const missing = Registry.missingKeys(ws.config, ProviderConfig.fromEnv(ws.env))
    if (missing.length > 0)
      return yield* new UsageError({
        message: `missing ${missing.join(", ")}: set ${missing.length === 1 ? "it" : "them"} in .env or the environment (see .env.example), or build with --profile draft`
      })
  })

// Both at once: they sit on every build's start-up path, including a no-op's.
export const checkFfmpeg = Effect.all([checkWorks("ffmpeg"), checkWorks("ffprobe")], { concurrency: 2 }).pipe(
  Effect.mapError((e) => new UsageError({ message: e.message }))
)

/** The services a build runs with. */
export const layers = (ws: Workspace.Workspace, runDir: string, onEvent: (e: BuildEvent) => void) => {
  const store = Store.layer(ws.storeDir)
  const config = ProviderConfig.fromEnv(ws.env)
  const providers = Layer.succeed(ProviderConfig.Providers, config)
  const io = Layer.unwrapEffect(Effect.map(Store, (s) => RunLog.layerFile(s, runDir))).pipe(Layer.provide(store))
  const http = Http.layerWith({ secrets: config.secrets, timeoutMs: config.http.timeoutMs, connectTimeoutMs: config.http.connectTimeoutMs }).pipe(
    Layer.provide(io)
  )
  const clients = Layer.mergeAll(FalClient.layer, OpenAIClient.layer, OpenRouterClient.layer).pipe(Layer.provide(Layer.merge(http, providers)))
  return Layer.mergeAll(
    store,
    Ffmpeg.layer,
    Espeak.layer,
    http,
    providers,
    clients,
    Layer.succeed(Settings, ws),
    BuildEvents.layerFanout(onEvent)
  )
}

export { ids }
