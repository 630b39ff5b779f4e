/** A self-hosted AUTOMATIC1111 / Forge server as a configured service (`A1111.ts`), from `ProviderConfig`. */
import { Context, Effect, Layer } from "effect"
import { Http } from "../http/Client.ts"
import { IoLog } from "../IoLog.ts"
import type { Follow } from "../Keep.ts"
import { Providers, type ProviderConfig } from "../ProviderConfig.ts"
import * as A1111 from "./A1111.ts"
import type { A1111Error } from "./A1111Error.ts"

export type A1111Config = ProviderConfig["a1111"]

export interface A1111Service {
  readonly config: A1111Config
  readonly txt2img: (req: A1111.Txt2ImgRequest, follow: Follow) => Effect.Effect<A1111.Still, A1111Error>
}

const make = (config: A1111Config, http: Http["Type"]): A1111Service => ({
  config,
  txt2img: (req, follow) => A1111.txt2img(config, req, follow).pipe(Effect.provideService(Http, http))
})

export class A1111Client extends Context.Tag("storyshot/A1111Client")<A1111Client, A1111Service>() {
  static readonly layer: Layer.Layer<A1111Client, never, Providers | Http> = Layer.effect(
    this,
    Effect.gen(function*() {
      const providers = yield* Providers
      return make(providers.a1111, yield* Http)
    })
  )

  /** Against a fake on 127.0.0.1, the key redacted, exchanges kept in memory. */
  static readonly layerTest = (baseUrl: string, auth = "", over: Partial<A1111Config> = {}): Layer.Layer<A1111Client> =>
    Layer.effect(this, Effect.map(Http, (http) => make({ ...A1111.defaultSettings(baseUrl, auth), ...over }, http))).pipe(
      Layer.provide(Http.layerWith({ secrets: auth === "" ? [] : [auth] })),
      Layer.provide(IoLog.layerMemory)
    )
}
