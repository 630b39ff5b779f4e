/** Replicate as a configured service (`Predictions.ts`), with the token, URL and model of `ProviderConfig`. */
import { Context, Effect, Layer } from "effect"
import { Http } from "../http/Client.ts"
import { IoLog } from "../IoLog.ts"
import type { Follow } from "../Keep.ts"
import { Providers, type ProviderConfig } from "../ProviderConfig.ts"
import * as Predictions from "./Predictions.ts"
import type { ProviderUnavailable } from "../Failure.ts"
import type { ReplicateError } from "./ReplicateError.ts"

export type ReplicateConfig = ProviderConfig["replicate"]

export interface ReplicateService {
  readonly config: ReplicateConfig
  readonly animate: (req: Predictions.AnimateRequest, follow: Follow) => Effect.Effect<Predictions.Clip, ReplicateError | ProviderUnavailable>
}

const make = (config: ReplicateConfig, http: Http["Type"]): ReplicateService => ({
  config,
  animate: (req, follow) => Predictions.animate(config, req, follow).pipe(Effect.provideService(Http, http))
})

export class ReplicateClient extends Context.Tag("storyshot/ReplicateClient")<ReplicateClient, ReplicateService>() {
  static readonly layer: Layer.Layer<ReplicateClient, never, Providers | Http> = Layer.effect(
    this,
    Effect.gen(function*() {
      const providers = yield* Providers
      return make(providers.replicate, yield* Http)
    })
  )

  /** Against a fake on 127.0.0.1, the key redacted, exchanges kept in memory. */
  static readonly layerTest = (baseUrl: string, apiKey: string, over: Partial<ReplicateConfig> = {}): Layer.Layer<ReplicateClient> =>
    Layer.effect(this, Effect.map(Http, (http) => make({ ...Predictions.defaultSettings(apiKey, baseUrl), poll: { initialMs: 5, maxMs: 20 }, model: Predictions.defaultModel, ...over }, http))).pipe(
      Layer.provide(Http.layerWith({ secrets: [apiKey] })),
      Layer.provide(IoLog.layerMemory)
    )
}
