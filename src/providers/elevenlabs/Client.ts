/** ElevenLabs as a configured service (`ElevenLabs.ts`), with the key, URL, model and voice of `ProviderConfig`. */
import { Context, Effect, Layer } from "effect"
import { Http } from "../http/Client.ts"
import { IoLog } from "../IoLog.ts"
import type { Follow } from "../Keep.ts"
import { Providers, type ProviderConfig } from "../ProviderConfig.ts"
import * as ElevenLabs from "./ElevenLabs.ts"
import type { ElevenLabsError } from "./ElevenLabsError.ts"

export type ElevenLabsConfig = ProviderConfig["elevenlabs"]

export interface ElevenLabsService {
  readonly config: ElevenLabsConfig
  readonly speak: (req: ElevenLabs.SpeakRequest, follow: Follow) => Effect.Effect<ElevenLabs.Speech, ElevenLabsError>
}

const make = (config: ElevenLabsConfig, http: Http["Type"]): ElevenLabsService => ({
  config,
  speak: (req, follow) => ElevenLabs.speak(config, req, follow).pipe(Effect.provideService(Http, http))
})

export class ElevenLabsClient extends Context.Tag("storyshot/ElevenLabsClient")<ElevenLabsClient, ElevenLabsService>() {
  static readonly layer: Layer.Layer<ElevenLabsClient, never, Providers | Http> = Layer.effect(
    this,
    Effect.gen(function*() {
      const providers = yield* Providers
      return make(providers.elevenlabs, yield* Http)
    })
  )

  /** Against a fake on 127.0.0.1, the key redacted, exchanges kept in memory. */
  static readonly layerTest = (baseUrl: string, apiKey: string, over: Partial<ElevenLabsConfig> = {}): Layer.Layer<ElevenLabsClient> =>
    Layer.effect(this, Effect.map(Http, (http) => make({ ...ElevenLabs.defaultSettings(apiKey, baseUrl), ...over }, http))).pipe(
      Layer.provide(Http.layerWith({ secrets: [apiKey] })),
      Layer.provide(IoLog.layerMemory)
    )
}
