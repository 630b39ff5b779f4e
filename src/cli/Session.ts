/**
 * What every subcommand shares: opening the workspace, reading the transcript, checking target ids, and
 * the layers a build runs with. Everything that is the user's to fix becomes a `UsageError` (exit 2).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer, Option, Schema } from "effect"
import { BuildEvents, type BuildEvent } from "../engine/Events.ts"
import { Store } from "../engine/Store.ts"
import { checkWorks, Ffmpeg } from "../media/Ffmpeg.ts"
import { Espeak } from "../providers/espeak/Espeak.ts"
import { Http } from "../providers/Http.ts"
import { parseTranscript } from "../text/Sentences.ts"
import * as Workspace from "../Workspace.ts"
import * as Cloud from "../../targets/Cloud.ts"
import { idPatterns, ids, Settings } from "../../targets/Settings.ts"
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

/** A build of the cloud profile must not start without its keys: no paid call happens before this check. */
export const checkKeys = (ws: Workspace.Workspace) => {
  const missing = Cloud.missingKeys(ws.config, ws.env)
  return missing.length === 0
    ? Effect.void
    : Effect.fail(
        new UsageError({
          message: `missing ${missing.join(", ")}: set ${missing.length === 1 ? "it" : "them"} in .env or the environment (see .env.example), or build with --profile draft`
        })
      )
}

// A probe that passed is remembered across runs (in the user's cache folder: a fact about this machine, not
// about a workspace) with the binary it found and that file's size and mtime, so a no-op build spawns nothing and
// does not even load the installer packages: two `-version` runs cost more than the rest of its start-up.
interface Probed {
  readonly binary: string
  readonly from: string
  readonly file: string
  readonly key: string
}
const probedFile = path.join(Workspace.userCacheDir(), "probed.json")
const readProbed = (): ReadonlyArray<Probed> => {
  try {
    return JSON.parse(fs.readFileSync(probedFile, "utf8")) as Array<Probed>
  } catch {
    return []
  }
}
const identity = (file: string) => {
  try {
    const stat = fs.statSync(file)
    return `${stat.size}:${stat.mtimeMs}`
  } catch {
    return undefined
  }
}
const checkOnce = (binary: "ffmpeg" | "ffprobe") =>
  Effect.suspend(() => {
    const from = process.env[binary === "ffmpeg" ? "FFMPEG_PATH" : "FFPROBE_PATH"] || "installer"
    const known = readProbed().find((p) => p.binary === binary && p.from === from)
    if (known && identity(known.file) === known.key) return Effect.succeed(known.file)
    return Effect.tap(checkWorks(binary), (file) =>
      Effect.sync(() => {
        const key = identity(file)
        if (key === undefined) return
        try {
          fs.mkdirSync(path.dirname(probedFile), { recursive: true })
          const tmp = `${probedFile}.${process.pid}.tmp`
          const others = readProbed().filter((p) => !(p.binary === binary && p.from === from))
          fs.writeFileSync(tmp, JSON.stringify([...others.slice(-50), { binary, from, file, key }]))
          fs.renameSync(tmp, probedFile)
        } catch {}
      })
    )
  })

// Both at once: they sit on every build's start-up path, including a no-op's.
export const checkFfmpeg = Effect.all([checkOnce("ffmpeg"), checkOnce("ffprobe")], { concurrency: 2 }).pipe(
  Effect.mapError((e) => new UsageError({ message: e.message }))
)

/** The services a build runs with. */
export const layers = (ws: Workspace.Workspace, runDir: string, onEvent: (e: BuildEvent) => void) => {
  const store = Store.layer(ws.storeDir)
  const io = Layer.unwrapEffect(Effect.map(Store, (s) => RunLog.layerFile(s, runDir))).pipe(Layer.provide(store))
  const http = Http.layerWith({ secrets: Cloud.secrets(ws.env), timeoutMs: Cloud.httpTimeoutMs(ws.env) }).pipe(Layer.provide(io))
  return Layer.mergeAll(
    store,
    Ffmpeg.layer,
    Espeak.layer,
    http,
    Layer.succeed(Settings, ws),
    BuildEvents.layerFanout(onEvent)
  )
}

export { ids }
