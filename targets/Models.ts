/**
 * OpenRouter's model list, saved in `.storyshot/models.json` when a build that writes prompts with
 * OpenRouter starts (the original spec's habit), and used to price the prompts stage: dry-run estimates,
 * and the cost of an answer that came without `usage.cost`.
 *
 * The list is refreshed when it is missing or older than a day: prices change rarely, and a build with
 * nothing stale must make no request at all. Failing to fetch it is a warning, never an error: the prompts
 * are still written, only their estimate falls back to a rough figure.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import * as Cost from "../src/engine/Cost.ts"
import { BuildEvents } from "../src/engine/Events.ts"
import { Store } from "../src/engine/Store.ts"
import * as OpenRouter from "../src/providers/openrouter/OpenRouter.ts"
import type { Workspace } from "../src/Workspace.ts"
import * as Cloud from "./Cloud.ts"

export const file = "models.json"
export const maxAgeMs = 24 * 60 * 60 * 1000

export interface Saved {
  readonly fetchedAt: number
  readonly models: ReadonlyArray<OpenRouter.ModelInfo>
}

/** USD per token of one model, as the saved list gives it. */
export interface Price {
  readonly prompt: number
  readonly completion: number
}

const read = (storeDir: string): Saved | undefined => {
  try {
    const saved = JSON.parse(fs.readFileSync(path.join(storeDir, file), "utf8")) as Saved
    return Array.isArray(saved?.models) && typeof saved.fetchedAt === "number" ? saved : undefined
  } catch {
    return undefined
  }
}

/** The saved price of `model`, when the list holds a real one (router pseudo-models price at -1). */
export const priceOf = (storeDir: string, model: string): Price | undefined => {
  const info = read(storeDir)?.models.find((m) => m.id === model)
  if (info === undefined) return undefined
  const { prompt, completion } = info.pricing
  return Number.isFinite(prompt) && Number.isFinite(completion) && prompt >= 0 && completion >= 0 ? { prompt, completion } : undefined
}

/** A price from the saved list as a cost (source "table"). */
export const costAt = (price: Price, promptTokens: number, completionTokens: number): Cost.Cost =>
  Cost.fromTable(price.prompt * promptTokens + price.completion * completionTokens)

/** Fetches and saves the list when the prompts stage uses OpenRouter and the saved one is missing or old. */
export const refresh = (ws: Workspace) =>
  Effect.gen(function* () {
    if (ws.config.providers.prompts !== "openrouter") return
    const o = Cloud.openrouter(ws.env)
    if (o.apiKey === "") return
    const saved = read(ws.storeDir)
    if (saved !== undefined && Date.now() - saved.fetchedAt < maxAgeMs) return
    const store = yield* Store
    const events = yield* BuildEvents
    yield* OpenRouter.listModels({ baseUrl: o.baseUrl, apiKey: o.apiKey }).pipe(
      Effect.flatMap((models) => store.writeJson(file, { fetchedAt: Date.now(), source: `${o.baseUrl}/models`, models })),
      Effect.catchAll((e) =>
        events.emit({
          _tag: "Warning",
          message: `could not fetch OpenRouter's model list (${e.message}); prompt costs are estimated roughly${saved ? " from the list saved earlier" : ""}`
        })
      )
    )
  })
