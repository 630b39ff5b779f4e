/**
 * `sentence:N:prompts`: one still-image prompt per shot of sentence N, with a shot type and a camera move.
 *
 * It depends on the shot count alone (not on exact durations: the money rule), and its recipe holds the
 * sentence's normalized text, the style note and the model. The neighbouring sentences' text is given to the
 * writer for continuity but kept out of the fingerprint (`context`): an edit must stay local, so editing
 * sentence 5 never re-pays sentence 4's or 6's prompts. It never sees another sentence's *output*.
 */
import { Effect } from "effect"
import type { Config } from "../src/Config.ts"
import type { Dep, Json, NodeSpec, Rule, RunContext } from "../src/engine/Node.ts"
import { planShots } from "../src/providers/local/ShotPlanner.ts"
import * as OpenRouter from "../src/providers/openrouter/OpenRouter.ts"
import type { Shot } from "../src/Shot.ts"
import { normalize } from "../src/text/Sentences.ts"
import * as Cloud from "./Cloud.ts"
import * as Models from "./Models.ts"
import { ids, kinds, Settings } from "./Settings.ts"

export const version = 1
/** Bump when the LLM prompt below changes: it changes every answer. */
export const templateVersion = 1

type Env = { readonly [name: string]: string | undefined }

export const node = (
  n: number,
  sentences: ReadonlyArray<string>,
  config: Config,
  env: Env,
  /** The model's price from the saved model list (`Models.priceOf`), for estimates; never fingerprinted. */
  price?: Models.Price
): NodeSpec => {
  const sentence = sentences[n - 1]!
  const provider = config.providers.prompts
  return {
    id: ids.prompts(n),
    kind: kinds.prompts,
    stage: "prompts",
    version,
    recipe: {
      provider,
      ...(provider === "openrouter" ? { model: Cloud.openrouter(env).model, template: templateVersion } : {}),
      style: config.style,
      text: normalize(sentence)
    },
    context: {
      sentence,
      previous: sentences[n - 2] ?? null,
      next: sentences[n] ?? null,
      ...(provider === "openrouter" && price ? { price: { prompt: price.prompt, completion: price.completion } } : {})
    },
    deps: [{ id: ids.shots(n), output: "count" }]
  }
}

export const system = (style: string) =>
  [
    "You are a storyboard artist for a narrated short film.",
    "For one sentence of narration you write one still-image prompt per shot, in order, each a single vivid",
    "description of what the frame shows (subject, setting, framing, light), with no text or captions in the image.",
    "Shots of one sentence must look like one continuous scene: same characters, places and palette.",
    `Global style for every shot: ${style}.`,
    'Answer only with JSON: {"shots":[{"prompt": "...", "shotType": "...", "camera": "push-in|pull-out|pan-left|pan-right|tilt-up|tilt-down"}]}.'
  ].join(" ")

export const user = (sentence: string, count: number, previous: string | null, next: string | null) =>
  [
    previous ? `Previous sentence (context only): ${previous}` : "This is the first sentence.",
    `Sentence: ${sentence}`,
    next ? `Next sentence (context only): ${next}` : "This is the last sentence.",
    `Write exactly ${count} shot${count === 1 ? "" : "s"}.`
  ].join("\n")

/** Shot j of a prompts node, as a dependency `{ id: sentence:N:prompts, output: "j" }` reads it. This rule
 *  wrote it from a `Shot` (the planner's, or an LLM answer checked against the shot-list schema). */
export const shotAt = (ctx: RunContext, dep: Dep): Shot => ctx.value(dep.id, dep.output!) as unknown as Shot

const str = (v: Json | undefined) => (typeof v === "string" ? v : null)

const priceIn = (context: NodeSpec["context"]): Models.Price | undefined => {
  const p = context?.price as { prompt?: unknown; completion?: unknown } | undefined
  return typeof p?.prompt === "number" && typeof p.completion === "number" ? { prompt: p.prompt, completion: p.completion } : undefined
}

export const rule: Rule<unknown, any> = {
  kind: kinds.prompts,
  pool: (node) => (node.recipe.provider === "openrouter" ? "openrouter" : "local"),
  paid: (node) => node.recipe.provider === "openrouter",
  // About 450 prompt tokens (instructions, schema, neighbours) and 150 completion tokens (two shots), at the
  // saved model list's price; a rough $0.001 when no list was saved yet.
  estimate: (node) =>
    node.recipe.provider !== "openrouter"
      ? { usd: 0, source: "free" }
      : priceIn(node.context) !== undefined
      ? Models.costAt(priceIn(node.context)!, 450, 150)
      : { usd: 0.001, source: "table" },
  run: (ctx) =>
    Effect.gen(function* () {
      const count = Number(ctx.value(ctx.node.deps[0]!.id, "count"))
      const recipe = ctx.node.recipe
      const context = ctx.node.context ?? {}
      const sentence = str(context.sentence) ?? String(recipe.text)
      let shots: ReadonlyArray<Shot>
      if (recipe.provider === "openrouter") {
        const ws = yield* Settings
        const o = Cloud.openrouter(ws.env)
        const started = Date.now()
        const list = yield* OpenRouter.shotList({
          baseUrl: o.baseUrl,
          apiKey: o.apiKey,
          model: String(recipe.model),
          system: system(String(recipe.style)),
          user: user(sentence, count, str(context.previous), str(context.next)),
          count,
          title: "storyshot"
        })
        yield* ctx.request({
          provider: "openrouter",
          model: String(recipe.model),
          requestId: list.requestId,
          startedAt: started,
          endedAt: Date.now(),
          // OpenRouter reports what it charged; an answer without it is priced from the saved model list.
          cost:
            list.cost.usd === undefined && priceIn(context) !== undefined
              ? Models.costAt(priceIn(context)!, list.usage.promptTokens, list.usage.completionTokens)
              : list.cost,
          attempt: list.attempts
        })
        shots = list.shots
      } else {
        shots = planShots({
          text: sentence,
          previous: str(context.previous) ?? undefined,
          next: str(context.next) ?? undefined,
          style: String(recipe.style),
          count
        })
      }
      return Object.fromEntries(
        shots.map((s, i) => [String(i + 1), { value: { prompt: s.prompt, shotType: s.shotType, camera: s.camera } }])
      )
    })
}
