/** OpenRouter as a configured service (`OpenRouter.ts`), with the key, URL and time-outs of `ProviderConfig`. */
import { Context, Effect, Layer } from "effect"
import { Http } from "../http/Client.ts"
import { IoLog } from "../IoLog.ts"
import type { Follow } from "../Keep.ts"
import { Providers, type ProviderConfig } from "../ProviderConfig.ts"
import * as OpenRouter from "./OpenRouter.ts"
import type { OpenRouterError } from "./OpenRouterError.ts"

export type OpenRouterConfig = ProviderConfig["openrouter"]

export interface OpenRouterService {
  readonly config: OpenRouterConfig
  readonly shotList: (req: OpenRouter.ShotListRequest, follow: Follow) => Effect.Effect<OpenRouter.ShotList, OpenRouterError>
  /** One structured answer of any schema (the story bible of `storyshot direct`). */
  readonly structured: <A>(req: OpenRouter.StructuredRequest<A>, follow: Follow) => Effect.Effect<OpenRouter.Structured<A>, OpenRouterError>
  /** Optional: a few seconds at most. */
  readonly listModels: Effect.Effect<ReadonlyArray<OpenRouter.ModelInfo>, OpenRouterError>
}

const make = (config: OpenRouterConfig, http: Http["Type"]): OpenRouterService => ({
  config,
  shotList: (req, follow) => OpenRouter.shotList(config, req, follow).pipe(Effect.provideService(Http, http)),
  structured: (req, follow) => OpenRouter.structured(config, req, follow).pipe(Effect.provideService(Http, http)),
  listModels: OpenRouter.listModels(config).pipe(Effect.provideService(Http, http))
})

export class OpenRouterClient extends Context.Tag("storyshot/OpenRouterClient")<OpenRouterClient, OpenRouterService>() {
  static readonly layer: Layer.Layer<OpenRouterClient, never, Providers | Http> = Layer.effect(
    this,
    Effect.gen(function*() {
      const providers = yield* Providers
      return make(providers.openrouter, yield* Http)
    })
  )

  /** Against a fake on 127.0.0.1, the key redacted, exchanges kept in memory. */
  static readonly layerTest = (baseUrl: string, apiKey: string, over: Partial<OpenRouterConfig> = {}): Layer.Layer<OpenRouterClient> =>
    Layer.effect(
      this,
      Effect.map(Http, (http) => make({ ...OpenRouter.defaultSettings(apiKey, baseUrl), model: "openai/gpt-4o-mini", ...over }, http))
    ).pipe(Layer.provide(Http.layerWith({ secrets: [apiKey] })), Layer.provide(IoLog.layerMemory))
}
