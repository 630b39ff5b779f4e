/**
 * fal as a configured service: narration (`Tts.ts`), stills (`Image.ts`) and image-to-video (`Video.ts`) over the queue
 * (`Queue.ts`), with the keys, URLs, polling and time-outs of `ProviderConfig`.
 */
import { Context, Effect, Layer } from "effect"
import type { PaidAnswerLost, ProviderUnavailable } from "../Failure.ts"
import { Http } from "../http/Client.ts"
import { IoLog } from "../IoLog.ts"
import type { Follow } from "../Keep.ts"
import { Providers, type ProviderConfig } from "../ProviderConfig.ts"
import * as Reads from "../Reads.ts"
import type { FalError } from "./FalError.ts"
import * as Image from "./Image.ts"
import * as Queue from "./Queue.ts"
import * as Tts from "./Tts.ts"
import * as Video from "./Video.ts"

export type FalFailure = FalError | ProviderUnavailable | PaidAnswerLost

export type FalConfig = ProviderConfig["fal"]

export interface FalService {
  readonly config: FalConfig
  readonly speak: (req: Tts.SpeakRequest, follow: Follow) => Effect.Effect<Tts.Speech, FalFailure>
  readonly animate: (req: Video.AnimateRequest, follow: Follow) => Effect.Effect<Video.Clip, FalFailure>
  /** A still, with the shot's reference images (the cast's sheets) for edit models. */
  readonly image: (req: Image.StillRequest, references: ReadonlyArray<Image.Reference>, follow: Follow) => Effect.Effect<Image.Still, FalFailure>
}

const make = (config: FalConfig, http: Http["Type"]): FalService => ({
  config,
  speak: (req, follow) => Tts.speak(config, req, follow).pipe(Effect.provideService(Http, http)),
  animate: (req, follow) => Video.animate(config, req, follow).pipe(Effect.provideService(Http, http)),
  image: (req, references, follow) => Image.generate(config, req, references, follow).pipe(Effect.provideService(Http, http))
})

export class FalClient extends Context.Tag("storyshot/FalClient")<FalClient, FalService>() {
  static readonly layer: Layer.Layer<FalClient, never, Providers | Http> = Layer.effect(
    this,
    Effect.gen(function*() {
      const providers = yield* Providers
      return make(providers.fal, yield* Http)
    })
  )

  /** Against a fake on 127.0.0.1: fast polling and reads, the key redacted, exchanges kept in memory. */
  static readonly layerTest = (baseUrl: string, apiKey: string, over: Partial<FalConfig> = {}): Layer.Layer<FalClient> =>
    Layer.effect(
      this,
      Effect.map(Http, (http) =>
        make({
          ...Queue.defaultSettings(apiKey, baseUrl),
          poll: { initialMs: 5, maxMs: 20 },
          reads: { ...Reads.defaultPolicy, firstDelayMs: 5, budgetMs: 5_000 },
          ttsModel: "fal-ai/minimax/speech-02-turbo",
          videoModel: "fal-ai/kling-video/v1.6/standard/image-to-video",
          imageModel: Image.defaultModel,
          ...over
        }, http)
      )
    ).pipe(Layer.provide(Http.layerWith({ secrets: [apiKey] })), Layer.provide(IoLog.layerMemory))
}
