/**
 * `prompts/chat`: shot prompts from any OpenAI-compatible chat server (CHAT_BASE_URL: OpenAI, or a local
 * llama.cpp / Ollama / LM Studio). Free when the server is on this machine or a private network; OpenAI is
 * priced from its `usage` and the table; any other server is unknown, never $0.
 *
 * The messages, the shot-list schema, the check and the repair turn are every writer's
 * (`src/providers/ShotList.ts`, contract 7): a new shot field reaches this writer with no edit here.
 * The answer is kept in the node's journal as it arrives: a kill after it came back pays nothing again.
 */
import { Effect, Schema } from "effect"
import * as Cost from "../../src/engine/Cost.ts"
import * as Chat from "../../src/providers/chat/Chat.ts"
import { ChatClient } from "../../src/providers/chat/Client.ts"
import { checkedOn } from "../../src/providers/openai/prices.ts"
import * as ShotList from "../../src/providers/ShotList.ts"
import { normalize } from "../../src/text/Sentences.ts"
import * as Paid from "../Paid.ts"
import { defineImpl } from "../Rule.ts"
import * as Prompts from "./Prompts.ts"

export const Recipe = Schema.Struct({
  provider: Schema.Literal("chat"),
  model: Schema.String,
  template: Schema.Number,
  /** How JSON is asked for (`CHAT_STRUCTURED`): it changes the request, and so the answer. */
  structured: Schema.Literal("json_schema", "json_object", "prompt"),
  style: Schema.String,
  text: Schema.String,
  /** The bible's characters (name, role) and places this sentence mentions: never a look (as openrouter's). */
  cast: Schema.Array(Schema.Struct({ name: Schema.String, role: Schema.String })),
  places: Schema.Array(Schema.String)
})

/** A shot list is a few hundred tokens each way: enough to price one before it is asked for. */
const estimateAt = (baseUrl: string, model: string): Cost.Cost => Chat.costAt({ baseUrl, model }, 700, 350)

export const impl = defineImpl({
  stage: "prompts",
  name: "chat",
  // A local server is free; `paid` says whether a build may cost money, so it follows the server.
  paid: true,
  about: {
    summary: "any OpenAI-compatible chat server (CHAT_BASE_URL, CHAT_MODEL): OpenAI, llama.cpp, Ollama, LM Studio; $0 when local",
    needs: [],
    price: { source: "free on a local server; OpenAI: src/providers/openai/prices.ts (per token of usage); other servers: unknown", checkedOn },
    afterCrash: "uses the answer already received; a Ctrl-C waits for one on its way",
    reattaches: false
  },
  // OpenAI needs a key; a local server none (CHAT_API_KEY is sent when set).
  missing: (providers) => (providers.chat.apiKey === "" && /api\.openai\.com/.test(providers.chat.baseUrl) ? ["CHAT_API_KEY (or OPENAI_KEY, for OpenAI)"] : []),
  recipe: Recipe,
  pool: "chat",
  node: ({ n, sentences }, { config, providers, director }) =>
    Prompts.node(n, sentences, {
      provider: "chat",
      model: providers.chat.model,
      template: ShotList.templateVersion,
      structured: providers.chat.structured,
      style: Prompts.styleOf(director, config.style),
      text: normalize(sentences[n - 1]!),
      cast: Prompts.mentioned(director, sentences[n - 1]!).cast.map((c) => ({ name: c.name, role: c.role })),
      places: [...Prompts.mentioned(director, sentences[n - 1]!).places]
    } satisfies typeof Recipe.Type, { server: providers.chat.baseUrl }, director),
  estimate: (recipe, node) => estimateAt(String(node.context?.server ?? ""), recipe.model),
  run: (ctx) =>
    Effect.gen(function*() {
      const chat = yield* ChatClient
      const brief = Prompts.brief(ctx, ctx.recipe.text)
      const started = Date.now()
      const { list, repaid } = yield* Paid.paying(ctx, {
        provider: "chat",
        model: ctx.recipe.model,
        estimate: estimateAt(chat.config.baseUrl, ctx.recipe.model),
        kept: ["answer", "repair"],
        call: (paying) =>
          chat
            .shotList({ model: ctx.recipe.model, system: ShotList.system(ctx.recipe.style), user: ShotList.user(brief), count: brief.count, names: ShotList.namesOf(brief) }, paying.follow)
            .pipe(Effect.map((list) => ({ list, repaid: paying.repaid })))
      })
      yield* ctx.request({
        provider: "chat",
        model: ctx.recipe.model,
        ...(list.requestId === undefined ? {} : { requestId: list.requestId }),
        startedAt: started,
        endedAt: Date.now(),
        cost: list.cost,
        attempt: list.attempts.length,
        ...(repaid === undefined ? {} : { repaid })
      })
      return Prompts.produced(list.shots)
    })
})
