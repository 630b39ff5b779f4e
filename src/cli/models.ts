/**
 * `storyshot models [--refresh]`: the OpenRouter model list with prices, saved in `.storyshot/models.json` so
 * estimates and this listing work offline. The list is fetched when there is no saved one or with --refresh
 * (`GET {OPENROUTER_BASE_URL}/models`; prices there are strings, USD per token; router pseudo-models say -1,
 * which is shown as "varies", never as free).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import * as OpenRouter from "../providers/openrouter/OpenRouter.ts"
import * as ProviderConfig from "../providers/ProviderConfig.ts"
import type { Workspace } from "../Workspace.ts"
import { root } from "./Root.ts"
import type { Flags, modelsOptions } from "./Commands.ts"
import * as RunLog from "./RunLog.ts"
import * as Session from "./Session.ts"

export interface SavedModels {
  readonly fetchedAt: number
  /** Absent in lists saved by a build (src/providers/openrouter/Models.ts writes the same file). */
  readonly baseUrl?: string | undefined
  readonly models: ReadonlyArray<OpenRouter.ModelInfo>
}

export const savedPath = (ws: Workspace) => path.join(ws.storeDir, "models.json")

export const readSaved = (ws: Workspace): SavedModels | undefined => {
  try {
    const saved = JSON.parse(fs.readFileSync(savedPath(ws), "utf8")) as SavedModels
    return Array.isArray(saved.models) ? saved : undefined
  } catch {
    return undefined
  }
}

/** The list could not be fetched and none is saved: exit 1 (the message is printed first). */
export class ModelsUnavailable extends Schema.TaggedError<ModelsUnavailable>()("ModelsUnavailable", { message: Schema.String }) {}

/**
 * The saved list, fetched (and saved) first when there is none or `refresh` is asked. A failure to fetch is
 * the network's, not the user's: with a saved list it is a warning (`warn`) and the saved list is shown.
 */
export const load = (ws: Workspace, refresh: boolean, warn: (message: string) => void = () => {}) =>
  Effect.gen(function* () {
    const saved = readSaved(ws)
    if (saved && !refresh) return { ...saved, fetched: false }
    const o = ProviderConfig.fromEnv(ws.env).openrouter
    // Asked for by name: a longer wait for the answer than a build's optional refresh, and a few more tries.
    const fetched = yield* OpenRouter.listModels({ ...o, modelsTimeoutMs: 20_000 }, { firstDelayMs: 500, maxDelayMs: 2_000, budgetMs: 5_000 }).pipe(
      Effect.provide(Session.layers(ws, RunLog.runDir(ws.storeDir, "models"), () => {})),
      Effect.map((models) => ({ models })),
      Effect.catchAll((e) => {
        const why = `could not fetch the model list from ${o.baseUrl}: ${e.message}`
        if (!saved) return Effect.fail(new ModelsUnavailable({ message: `${why}; no list is saved yet (check the network or OPENROUTER_BASE_URL, then run \`storyshot models\` again)` }))
        warn(`${why}; showing the list saved ${when(saved.fetchedAt)}`)
        return Effect.succeed(undefined)
      })
    )
    if (fetched === undefined) return { ...saved!, fetched: false }
    const next: SavedModels = { fetchedAt: Date.now(), baseUrl: o.baseUrl, models: fetched.models }
    fs.mkdirSync(ws.storeDir, { recursive: true })
    const tmp = `${savedPath(ws)}.${process.pid}.tmp`
    fs.writeFileSync(tmp, JSON.stringify(next))
    fs.renameSync(tmp, savedPath(ws))
    return { ...next, fetched: true }
  })

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC")

const perMillion = (perToken: number) =>
  !Number.isFinite(perToken) || perToken < 0 ? "varies" : perToken === 0 ? "free" : `$${(perToken * 1e6).toFixed(perToken * 1e6 < 1 ? 3 : 2)}`

/** A shot list for one sentence: about 400 prompt tokens and 120 completion tokens per shot (2 shots). */
const perSentence = (m: OpenRouter.ModelInfo) => {
  const c = OpenRouter.estimateCost(m.id, [m], 400, 240)
  return c.usd === undefined ? "unknown" : c.usd === 0 ? "$0" : `$${c.usd.toFixed(5)}`
}

export const toText = (list: SavedModels & { fetched: boolean }, current: string, match?: string) => {
  const models = list.models.filter((m) => !match || m.id.toLowerCase().includes(match.toLowerCase()))
  const rows = [...models]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((m) => [
      `${m.id === current ? "*" : " "} ${m.id}`,
      perMillion(m.pricing.prompt),
      perMillion(m.pricing.completion),
      perSentence(m),
      m.supportedParameters.includes("structured_outputs") || m.supportedParameters.includes("response_format") ? "yes" : "no"
    ])
  const header = ["  MODEL", "PROMPT/1M", "COMPLETION/1M", "PER SENTENCE", "JSON SCHEMA"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
  return [
    `${models.length} model${models.length === 1 ? "" : "s"} from ${list.baseUrl ?? "OpenRouter"}, ${list.fetched ? "fetched now" : `saved ${when(list.fetchedAt)} (--refresh to fetch again)`}; * = OPENROUTER_MODEL (${current})`,
    line(header),
    ...rows.map(line),
    ...(list.models.some((m) => m.id === current) ? [] : [`OPENROUTER_MODEL ${current} is not in the list: its cost will be unknown in estimates.`])
  ].join("\n")
}

/** `storyshot models` (its options are in Commands.ts). */
export const handler = (flags: Flags<typeof modelsOptions>) =>
    Effect.gen(function* () {
      const g = yield* root
      const ws = yield* Session.openWorkspace(g)
      yield* Session.checkEnv(ws)
      const list = yield* load(ws, flags.refresh, (m) => process.stderr.write(`storyshot: warning: ${m}\n`)).pipe(
        Effect.catchTag("ModelsUnavailable", (e) =>
          Effect.sync(() => process.stderr.write(`storyshot: ${e.message}\n`)).pipe(
            Effect.zipRight(Effect.fail(new Session.BuildFailed({ message: e.message })))
          )
        )
      )
      const match = flags.match._tag === "Some" ? flags.match.value : undefined
      if (flags.json) {
        const { fetched: _fetched, ...saved } = list
        process.stdout.write(JSON.stringify({ ...saved, models: saved.models.filter((m) => !match || m.id.includes(match)) }, null, 2) + "\n")
      } else process.stdout.write(toText(list, ProviderConfig.fromEnv(ws.env).openrouter.model, match) + "\n")
    })
