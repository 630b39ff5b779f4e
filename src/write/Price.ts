/**
 * The writer model's price, for the estimate `write` shows before it pays. It comes from OpenRouter's model
 * list, saved in `.storyshot/models.json` (the file builds and `storyshot models` keep: `openrouter/Models.ts`):
 * used as it is when it is under a day old, fetched again otherwise. Fetching the list is free and optional: it
 * waits a few seconds at most, and without it the estimate says "unknown" (never $0).
 */
import * as path from "node:path"
import { Effect } from "effect"
import * as Atomic from "../engine/Atomic.ts"
import * as Cost from "../engine/Cost.ts"
import type { Http } from "../providers/http/Client.ts"
import * as Models from "../providers/openrouter/Models.ts"
import * as OpenRouter from "../providers/openrouter/OpenRouter.ts"

export type Price = Models.Price

const priceIn = (models: ReadonlyArray<OpenRouter.ModelInfo>, model: string): Price | undefined => {
  const info = models.find((m) => m.id === model)
  if (info === undefined) return undefined
  const { prompt, completion } = info.pricing
  // Router pseudo-models ("openrouter/auto") list -1: the price depends on where they route.
  return Number.isFinite(prompt) && Number.isFinite(completion) && prompt >= 0 && completion >= 0 ? { prompt, completion } : undefined
}

export interface Lookup {
  readonly price: Price | undefined
  /** Why there is no price, or where it came from, for the estimate line. */
  readonly note: string
}

/** The model's price: the saved list when fresh, else the list fetched (and saved unless `save` is false:
 *  a dry run writes nothing), else the stale one. The fetch waits the adapter's few seconds at most. */
export const lookup = (storeDir: string, settings: OpenRouter.OpenRouterSettings, model: string, save = true): Effect.Effect<Lookup, never, Http> =>
  Effect.gen(function* () {
    const saved = Models.read(storeDir)
    if (saved !== undefined && Date.now() - saved.fetchedAt < Models.maxAgeMs) {
      const price = priceIn(saved.models, model)
      return { price, note: price ? "OpenRouter's list" : `${model} has no price in OpenRouter's list` }
    }
    const fetched = yield* OpenRouter.listModels(settings).pipe(Effect.either)
    if (fetched._tag === "Right") {
      if (save) {
        const list: Models.Saved = { fetchedAt: Date.now(), baseUrl: settings.baseUrl, models: fetched.right }
        yield* Effect.sync(() =>
          Atomic.writeAtomicSync(path.join(storeDir, Models.file), JSON.stringify(list), Atomic.tempName(storeDir))
        ).pipe(Effect.ignore)
      }
      const price = priceIn(fetched.right, model)
      return { price, note: price ? "OpenRouter's list" : `${model} has no price in the model list of ${settings.baseUrl}` }
    }
    const stale = saved === undefined ? undefined : priceIn(saved.models, model)
    if (stale !== undefined) return { price: stale, note: "OpenRouter's list saved earlier" }
    return { price: undefined, note: `the model list could not be fetched (${fetched.left.message})` }
  })

export interface Estimate {
  /** For the tokens we expect the answer to take. */
  readonly expected: Cost.Cost
  /** If the answer runs to its token limit. */
  readonly most: Cost.Cost
  readonly promptTokens: number
}

export const estimate = (price: Price | undefined, promptTokens: number, expectedTokens: number, maxTokens: number): Estimate =>
  price === undefined
    ? { expected: Cost.unknown, most: Cost.unknown, promptTokens }
    : {
        expected: Cost.fromTable(price.prompt * promptTokens + price.completion * expectedTokens),
        most: Cost.fromTable(price.prompt * promptTokens + price.completion * maxTokens),
        promptTokens
      }

/** What a call cost: what the endpoint reported, else its usage at the listed price, else unknown. */
export const paid = (reportedUsd: number | undefined, price: Price | undefined, promptTokens: number, completionTokens: number): Cost.Cost =>
  reportedUsd !== undefined
    ? Cost.reported(reportedUsd)
    : price !== undefined && promptTokens + completionTokens > 0
    ? Cost.fromTable(price.prompt * promptTokens + price.completion * completionTokens)
    : Cost.unknown
