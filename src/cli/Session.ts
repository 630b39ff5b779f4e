/**
 * What every subcommand shares: opening the workspace, reading the transcript, checking target ids, and
 * the layers a build runs with. Everything that is the user's to fix becomes a `UsageError` (exit 2).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer, Option, Schema } from "effect"
import * as RemoteStore from "../cache/RemoteStore.ts"
import { BuildEvents, type BuildEvent } from "../engine/Events.ts"
import * as Fingerprint from "../engine/Fingerprint.ts"
import * as Scheduler from "../engine/Scheduler.ts"
import { Store } from "../engine/Store.ts"
import { checkWorks } from "../media/Binary.ts"
import { Ffmpeg } from "../media/Ffmpeg.ts"
import * as Espeak from "../providers/espeak/Espeak.ts"
import * as Clients from "../providers/Clients.ts"
import { Http } from "../providers/http/Client.ts"
import * as ProviderConfig from "../providers/ProviderConfig.ts"
import { parseTranscript } from "../text/Sentences.ts"
import * as Workspace from "../Workspace.ts"
import * as DirectorInputs from "../director/Inputs.ts"
import { idPatterns, ids } from "../Film.ts"
import * as Targets from "../../targets/index.ts"
import * as Registry from "../../targets/registry.ts"
import { Settings } from "../../targets/Settings.ts"
import * as RunLog from "./RunLog.ts"
import type { Profile } from "../Config.ts"

/** Bad usage, config or input: exit 2, one line, no stack trace. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

/**
 * Exit 1: the command could not finish its work for a reason that is not the user's input — a target failed,
 * the store has problems, a service could not be reached. What went wrong was already printed.
 */
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

/** The workspace folder: --cwd as given, else the nearest one upward from here (see `Workspace.findUp`). */
export const workspaceDir = (global: GlobalOptions): string =>
  Option.isSome(global.cwd) ? path.resolve(global.cwd.value) : (Workspace.findUp(process.cwd()) ?? process.cwd())

/** --config as an absolute path: relative to where it was typed, or to --cwd when given. */
export const configPath = (global: GlobalOptions): string | undefined =>
  Option.isSome(global.config)
    ? path.resolve(Option.isSome(global.cwd) ? workspaceDir(global) : process.cwd(), global.config.value)
    : undefined

/** `director: false`: the transcript alone (`storyshot direct --force` may replace a broken bible). */
export const readSentences = (ws: Workspace.Workspace, options: { readonly director?: boolean } = {}) =>
  Effect.gen(function* () {
    let bytes: Uint8Array
    try {
      bytes = fs.readFileSync(ws.transcriptPath)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      return yield* new UsageError({
        message:
          code === "ENOENT"
            ? `no transcript at ${ws.transcriptPath}: write your text there, set \`transcript\` in storyshot.config.ts, or run \`storyshot init\`${ws.foundFrom ? ` (the workspace ${ws.dir} was found upward from ${ws.foundFrom}; --cwd . uses this folder instead)` : ""}`
            : `cannot read the transcript ${ws.transcriptPath}: ${(e as Error).message}`
      })
    }
    const sentences = yield* parseTranscript(bytes, ws.transcriptPath).pipe(
      Effect.mapError((e) => new UsageError({ message: e.message }))
    )
    // The story bible and the shot edits are inputs like the transcript: a broken one stops every command that
    // plans the film here, with one line, before anything is built (src/director/Inputs.ts).
    if (options.director !== false) yield* DirectorInputs.load(ws.dir).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    return sentences
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

const targetList = "transcript, sentence:N:audio|shots|timing|prompts|mux, shot:K:image|video, final, subtitles, storyboard"

/** The shots the film has as far as can be known without building: recorded, or planned from the text. */
export interface FilmShots {
  readonly total: number
  /** Sentences whose narration is not built (their shot counts are planned from their word counts). */
  readonly planned: number
}

/** A dry walk of the film (builds and pays nothing): each sentence's shot count, recorded or planned. */
export const filmShots = (ws: Workspace.Workspace, sentences: ReadonlyArray<string>) =>
  Scheduler.build(
    { nodes: Targets.plan(ws, sentences), rules: Targets.rules },
    { targets: sentences.map((_, i) => ids.mux(i + 1)), dryRun: true, keepGoing: true }
  ).pipe(
    Effect.map((result): FilmShots => ({
      total: [...result.nodes.keys()].filter((id) => /^shot:\d+:image$/.test(id)).length,
      planned: sentences.filter((_, i) => {
        const audio = result.results.get(ids.audio(i + 1))
        return audio === undefined || Fingerprint.isGuess(audio)
      }).length
    })),
    Effect.mapError((e) => new UsageError({ message: e.message })),
    Effect.provide(layers(ws, RunLog.runDir(ws.storeDir, "targets"), () => {}))
  )

const range = (from: string, to: string) => (from === to ? from : `${from} … ${to}`)

/**
 * Checks target ids before anything runs or is paid for: the form (an unknown one gets the nearest valid
 * one as a suggestion), the sentence numbers against the transcript, and the shot numbers against the film
 * (a dry walk: the recorded shot counts, or those planned from the text where a narration is not built yet).
 */
export const checkTargets = (
  ws: Workspace.Workspace,
  targets: ReadonlyArray<string>,
  /** undefined: the transcript could not be read, so only the ids' form is checked. */
  sentences: ReadonlyArray<string> | undefined
) =>
  Effect.gen(function* () {
    const count = sentences?.length ?? Number.MAX_SAFE_INTEGER
    let shots: Array<{ id: string; k: number }> = []
    for (const id of targets) {
      const known = idPatterns.find((p) => p.pattern.test(id))
      if (!known) {
        // A known form with a number out of its range (0, 007): say how things are numbered.
        const numbered = idPatterns.find((p) => p.pattern.test(id.replace(/\d+/g, "1")))
        const number = id.match(/\d+/)?.[0]
        if (numbered && number !== undefined && Number(number) >= 1)
          return yield* new UsageError({ message: `unknown target "${id}": did you mean "${numbered.example.replace("1", String(Number(number)))}"?` })
        if (numbered && id.startsWith("sentence:"))
          return yield* new UsageError({
            message: `unknown target "${id}": sentences are numbered from 1${sentences ? `: the transcript has ${count} (${range(numbered.example, numbered.example.replace("1", String(count)))})` : ""}`
          })
        if (numbered) return yield* new UsageError({ message: `unknown target "${id}": shots are numbered from 1 (${numbered.example} is the first)` })
        // Suggest the pattern whose example is nearest, with the user's numbers put back in.
        const nearest = idPatterns
          .map((p) => ({ p, d: levenshtein(id.replace(/\d+/g, "1"), p.example) }))
          .sort((a, b) => a.d - b.d)[0]!
        const suggestion = number ? nearest.p.example.replace("1", number) : nearest.p.example
        return yield* new UsageError({ message: `unknown target "${id}": did you mean "${suggestion}"? (targets: ${targetList})` })
      }
      const n = /^sentence:(\d+):/.exec(id)?.[1]
      if (n && Number(n) > count) {
        const form = id.replace(/\d+/, "1")
        return yield* new UsageError({
          message: `unknown target "${id}": the transcript has ${count} sentence${count === 1 ? "" : "s"} (${range(form, form.replace("1", String(count)))})`
        })
      }
      const k = /^shot:(\d+):/.exec(id)?.[1]
      if (k) shots.push({ id, k: Number(k) })
    }
    if (shots.length === 0 || sentences === undefined) return
    const film = yield* filmShots(ws, sentences)
    const past = shots.sort((a, b) => b.k - a.k)[0]!
    if (past.k <= film.total) return
    const form = past.id.replace(/\d+/, "1")
    const list = film.total === 0 ? "" : ` (${range(form, form.replace("1", String(film.total)))})`
    return yield* new UsageError({
      message:
        film.planned === 0
          ? `unknown target "${past.id}": this film has ${film.total} shot${film.total === 1 ? "" : "s"}${list}`
          : `unknown target "${past.id}": this film has about ${film.total} shot${film.total === 1 ? "" : "s"}${list}, planned from the text: ${film.planned === count ? (count === 1 ? "its sentence is" : `its ${count} sentences are`) : `${film.planned} of its ${count} sentences are`} not narrated yet; the count is exact once their narration is built`
    })
  })

/**
 * The number-valued variables (`STORYSHOT_*_MS`): a value that is not a positive number is refused, not
 * silently replaced by the default (a typo in a time-out would otherwise go unnoticed).
 */
export const checkEnv = (ws: Workspace.Workspace) => {
  for (const [name, value] of Object.entries(ws.env)) {
    if (!/^STORYSHOT_[A-Z0-9_]+_MS$/.test(name) || value === undefined || value.trim() === "") continue
    const n = Number(value)
    if (!Number.isFinite(n) || n <= 0)
      return Effect.fail(new UsageError({ message: `${name} is "${value}": give a number of milliseconds above 0 (e.g. ${name}=1000), or unset it` }))
  }
  return Effect.void
}

/** espeak-ng's voice list changes only with the package: kept beside the store after the first look. */
const voicesFile = (ws: Workspace.Workspace) => path.join(ws.storeDir, "espeak-voices.json")

/** The voice list, read from the saved file or from espeak-ng; `fresh` when it was not saved yet. */
const espeakVoices = (ws: Workspace.Workspace) =>
  Effect.gen(function* () {
    try {
      const saved = JSON.parse(fs.readFileSync(voicesFile(ws), "utf8")) as { voices?: ReadonlyArray<Espeak.Voice> }
      if (Array.isArray(saved.voices) && saved.voices.length > 0) return { voices: saved.voices, fresh: false }
    } catch {}
    return { voices: yield* Espeak.listVoices(), fresh: true }
  })

const saveVoices = (ws: Workspace.Workspace, voices: ReadonlyArray<Espeak.Voice>) =>
  Effect.sync(() => {
    try {
      fs.mkdirSync(ws.storeDir, { recursive: true })
      const tmp = `${voicesFile(ws)}.${process.pid}.tmp`
      fs.writeFileSync(tmp, JSON.stringify({ voices }))
      fs.renameSync(tmp, voicesFile(ws))
    } catch {}
  })

/**
 * espeak-ng speaks an unknown voice such as "en-xx" as another one without a word (it falls back by language
 * prefix): a voice that is not in its list is refused here, naming the ones there are.
 */
export const checkVoice = (ws: Workspace.Workspace) =>
  Effect.gen(function* () {
    /** Saves the list beside the store; the build runs it once it holds the workspace (a refused build writes nothing). */
    const done = { save: Effect.void as Effect.Effect<void> }
    if (ws.config.providers.audio !== "espeak") return done
    const wanted = ws.config.voice.espeak
    const base = wanted.split("+")[0]!.toLowerCase()
    const { voices, fresh } = yield* espeakVoices(ws).pipe(
      Effect.orElseSucceed(() => ({ voices: [] as ReadonlyArray<Espeak.Voice>, fresh: false }))
    )
    if (voices.length === 0) return done // the list could not be read: synthesis itself will say what is wrong
    if (voices.some((v) => v.language.toLowerCase() === base || v.name.toLowerCase() === base))
      return fresh ? { save: saveVoices(ws, voices) } : done
    const prefix = base.split("-")[0]!
    const near = voices.filter((v) => v.language.toLowerCase() === prefix || v.language.toLowerCase().startsWith(`${prefix}-`))
    const offer = (near.length > 0 ? near : voices).map((v) => v.language)
    return yield* new UsageError({
      message: `voice.espeak "${wanted}" is not an espeak-ng voice: use one of ${offer.slice(0, 24).join(", ")}${offer.length > 24 ? `, ... (${offer.length})` : ""}${near.length > 0 ? ` (all ${voices.length}: ${voices.slice(0, 6).map((v) => v.language).join(", ")}, ...)` : ""}; a variant may follow, e.g. "en-us+f3"`
    })
  })

/** The configured providers exist (`storyshot providers` lists them). */
export const checkProviders = (ws: Workspace.Workspace) => {
  const unknown = Registry.unknownProviders(ws.config)
  if (unknown.length > 0) return Effect.fail(new UsageError({ message: `${unknown[0]} (see \`storyshot providers\`)` }))
  // Continuity by end frame needs a clip model that takes one (issue 16, contract 8): never a silent ignore.
  if (ws.config.continuity === "end-frames") {
    const video = Registry.pick("video", ws.config)
    const takes = typeof video.tailImage === "function" ? video.tailImage({ config: ws.config, providers: ProviderConfig.fromEnv(ws.env), storeDir: ws.storeDir, director: { bible: undefined, edits: { version: 1, shots: [] } } }) : video.tailImage === true
    if (!takes)
      return Effect.fail(
        new UsageError({
          message: `continuity: "end-frames" needs a clip model that takes an end frame, and the video provider "${video.name}"${video.name === "fal" ? ` with ${ProviderConfig.fromEnv(ws.env).fal.videoModel}` : ""} does not: use fal with FALAI_VIDEO_MODEL=fal-ai/kling-video/v1.6/pro/image-to-video, or continuity: "none"`
        })
      )
  }
  return Effect.void
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
        message: `missing ${missing.join(", ")}: set ${missing.length === 1 ? "it" : "them"} in .env or the environment (see .env.example), or build with --profile draft (${Registry.missingKeyUsers(ws.config, ProviderConfig.fromEnv(ws.env)).join("; ")})`
      })
  })

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

/** The services a build runs with; `remoteCache`: with the remote cache behind the store, when one is configured. */
export const layers = (ws: Workspace.Workspace, runDir: string, onEvent: (e: BuildEvent) => void, options: { readonly remoteCache?: boolean } = {}) => {
  const config = ProviderConfig.fromEnv(ws.env)
  const store = options.remoteCache
    ? RemoteStore.forWorkspace(ws, { secrets: config.secrets, warn: (message) => onEvent({ _tag: "Warning", message }) }).pipe(
        Layer.mapError((e) => new UsageError({ message: e.message }))
      )
    : Store.layer(ws.storeDir)
  const providers = Layer.succeed(ProviderConfig.Providers, config)
  const io = Layer.unwrapEffect(Effect.map(Store, (s) => RunLog.layerFile(s, runDir))).pipe(Layer.provide(store))
  const http = Http.layerWith({ secrets: config.secrets, timeoutMs: config.http.timeoutMs, connectTimeoutMs: config.http.connectTimeoutMs }).pipe(
    Layer.provide(io)
  )
  const clients = Clients.layer.pipe(Layer.provide(Layer.merge(http, providers)))
  return Layer.mergeAll(
    store,
    Ffmpeg.layer,
    Espeak.Espeak.layer,
    http,
    providers,
    clients,
    Layer.succeed(Settings, ws),
    BuildEvents.layerFanout(onEvent)
  )
}

export { ids }
