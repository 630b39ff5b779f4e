/**
 * OpenRouter's model list, saved in `.storyshot/models.json` when a build that writes prompts with OpenRouter
 * starts (the original spec's habit), and used to price the prompts stage: dry-run estimates, and the cost of
 * an answer that came without `usage.cost`. `storyshot models` shows it.
 *
 * The list is refreshed when it is missing or older than a day: prices change rarely, and a build with nothing
 * stale must make no request at all. Fetching it is optional: it waits a few seconds at most, and a failure is
 * a warning, never an error (the prompts are still written; only their estimate falls back to a rough figure).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { Store } from "../../engine/Store.ts"
import type { OpenRouterService } from "./Client.ts"
import type { ModelInfo } from "./OpenRouter.ts"

export const file = "models.json"
export const maxAgeMs = 24 * 60 * 60 * 1000

export interface Saved {
  readonly fetchedAt: number
  /** Where the list came from. */
  readonly baseUrl?: string | undefined
  readonly models: ReadonlyArray<ModelInfo>
}

/** USD per token of one model, as the saved list gives it. */
export interface Price {
  readonly prompt: number
  readonly completion: number
}

export const read = (storeDir: string): Saved | undefined => {
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

/** Fetches the list now and saves it (atomically, in the store). */
export const fetchAndSave = (client: OpenRouterService) =>
  Effect.gen(function*() {
    const store = yield* Store
    const models = yield* client.listModels
    const saved: Saved = { fetchedAt: Date.now(), baseUrl: client.config.baseUrl, models }
    yield* store.writeJson(file, saved)
    return saved
  })

/**
 * Fetches and saves the list when the saved one is missing or old. Returns a warning to show when that
 * failed (the build goes on), or undefined.
 */
export const refresh = (storeDir: string, client: OpenRouterService): Effect.Effect<string | undefined, never, Store> =>
  Effect.gen(function*() {
    if (client.config.apiKey === "") return undefined
    const saved = read(storeDir)
    if (saved !== undefined && Date.now() - saved.fetchedAt < maxAgeMs) return undefined
    return yield* fetchAndSave(client).pipe(
      Effect.as(undefined),
      Effect.catchAll((e) =>
        Effect.succeed(`could not fetch OpenRouter's model list (${e.message}); prompt costs are estimated roughly${saved ? " from the list saved earlier" : ""}`)
      )
    )
  })
