/** OpenAI Images as a configured service (`Images.ts`), with the key, URL and time-out of `ProviderConfig`. */
import { Context, Effect, Layer } from "effect"
import { Http } from "../http/Client.ts"
import { IoLog } from "../IoLog.ts"
import type { Follow } from "../Keep.ts"
import { Providers, type ProviderConfig } from "../ProviderConfig.ts"
import * as Reads from "../Reads.ts"
import * as Background from "./Background.ts"
import * as Images from "./Images.ts"
import type { OpenAIError } from "./OpenAIError.ts"
import * as Speech from "./Speech.ts"

export type OpenAIConfig = ProviderConfig["openai"]

export interface OpenAIService {
  readonly config: OpenAIConfig
  readonly generate: (req: Images.GenerateRequest, follow: Follow) => Effect.Effect<Images.GeneratedImage, OpenAIError>
  /** `POST /audio/speech`: narration. */
  readonly speak: (req: Speech.SpeechRequest, follow: Follow) => Effect.Effect<Speech.Speech, OpenAIError>
  /** An image through a background response (`POST /responses`, re-attachable by its id). */
  readonly background: (req: Background.BackgroundRequest, follow: Follow) => Effect.Effect<Background.BackgroundImage, OpenAIError>
  /** One image made with reference images (`/images/edits`, several `image[]`). */
  readonly edit: (req: Images.EditRequest, follow: Follow) => Effect.Effect<Images.GeneratedImage, OpenAIError>
}

const make = (config: OpenAIConfig, http: Http["Type"]): OpenAIService => ({
  config,
  generate: (req, follow) => Images.generate(config, req, follow).pipe(Effect.provideService(Http, http)),
  speak: (req, follow) => Speech.speak(config, req, follow).pipe(Effect.provideService(Http, http)),
  background: (req, follow) => Background.generate(config.background, req, follow).pipe(Effect.provideService(Http, http)),
  edit: (req, follow) => Images.edit(config, req, follow).pipe(Effect.provideService(Http, http))
})

export class OpenAIClient extends Context.Tag("storyshot/OpenAIClient")<OpenAIClient, OpenAIService>() {
  static readonly layer: Layer.Layer<OpenAIClient, never, Providers | Http> = Layer.effect(
    this,
    Effect.gen(function*() {
      const providers = yield* Providers
      return make(providers.openai, yield* Http)
    })
  )

  /** Against a fake on 127.0.0.1, the key redacted, exchanges kept in memory. */
  static readonly layerTest = (baseUrl: string, apiKey: string, over: Partial<OpenAIConfig> = {}): Layer.Layer<OpenAIClient> =>
    Layer.effect(
      this,
      Effect.map(Http, (http) =>
        make({
          ...Images.defaultSettings(apiKey, baseUrl),
          reads: { ...Reads.defaultPolicy, firstDelayMs: 5, budgetMs: 5_000 },
          imageModel: Images.defaultImageModel,
          speech: { model: Speech.defaults.model, voice: Speech.defaults.voice },
          background: {
            ...Background.defaultSettings(apiKey, baseUrl),
            reads: { ...Reads.defaultPolicy, firstDelayMs: 5, budgetMs: 5_000 },
            poll: { initialMs: 5, maxMs: 20 }
          },
          ...over
        }, http)
      )
    ).pipe(Layer.provide(Http.layerWith({ secrets: [apiKey] })), Layer.provide(IoLog.layerMemory))
}
