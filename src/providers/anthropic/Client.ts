/** Anthropic's Messages API as a configured service (`Anthropic.ts`), from `ProviderConfig`. */
import { Context, Effect, Layer } from "effect"
import { Http } from "../http/Client.ts"
import { IoLog } from "../IoLog.ts"
import type { Follow } from "../Keep.ts"
import { Providers, type ProviderConfig } from "../ProviderConfig.ts"
import * as Anthropic from "./Anthropic.ts"
import type { AnthropicError } from "./AnthropicError.ts"

export type AnthropicConfig = ProviderConfig["anthropic"]

export interface AnthropicService {
  readonly config: AnthropicConfig
  readonly shotList: (req: Anthropic.ShotListRequest, follow: Follow) => Effect.Effect<Anthropic.AnthropicShotList, AnthropicError>
}

const make = (config: AnthropicConfig, http: Http["Type"]): AnthropicService => ({
  config,
  shotList: (req, follow) => Anthropic.shotList(config, req, follow).pipe(Effect.provideService(Http, http))
})

export class AnthropicClient extends Context.Tag("storyshot/AnthropicClient")<AnthropicClient, AnthropicService>() {
  static readonly layer: Layer.Layer<AnthropicClient, never, Providers | Http> = Layer.effect(
    this,
    Effect.gen(function*() {
      const providers = yield* Providers
      return make(providers.anthropic, yield* Http)
    })
  )

  /** Against a fake on 127.0.0.1, the key redacted, exchanges kept in memory. */
  static readonly layerTest = (baseUrl: string, apiKey: string, over: Partial<AnthropicConfig> = {}): Layer.Layer<AnthropicClient> =>
    Layer.effect(this, Effect.map(Http, (http) => make({ ...Anthropic.defaultSettings(apiKey, baseUrl), ...over }, http))).pipe(
      Layer.provide(Http.layerWith({ secrets: apiKey === "" ? [] : [apiKey] })),
      Layer.provide(IoLog.layerMemory)
    )
}
