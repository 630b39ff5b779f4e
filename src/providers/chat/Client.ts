/** An OpenAI-compatible chat server as a configured service (`Chat.ts`), from `ProviderConfig`. */
import { Context, Effect, Layer } from "effect"
import { Http } from "../http/Client.ts"
import { IoLog } from "../IoLog.ts"
import type { Follow } from "../Keep.ts"
import { Providers, type ProviderConfig } from "../ProviderConfig.ts"
import * as Chat from "./Chat.ts"
import type { ChatError } from "./ChatError.ts"

export type ChatConfig = ProviderConfig["chat"]

export interface ChatService {
  readonly config: ChatConfig
  readonly shotList: (req: Chat.ShotListRequest, follow: Follow) => Effect.Effect<Chat.ChatShotList, ChatError>
}

const make = (config: ChatConfig, http: Http["Type"]): ChatService => ({
  config,
  shotList: (req, follow) => Chat.shotList(config, req, follow).pipe(Effect.provideService(Http, http))
})

export class ChatClient extends Context.Tag("storyshot/ChatClient")<ChatClient, ChatService>() {
  static readonly layer: Layer.Layer<ChatClient, never, Providers | Http> = Layer.effect(
    this,
    Effect.gen(function*() {
      const providers = yield* Providers
      return make(providers.chat, yield* Http)
    })
  )

  /** Against a fake on 127.0.0.1, the key redacted, exchanges kept in memory. */
  static readonly layerTest = (baseUrl: string, apiKey: string, over: Partial<ChatConfig> = {}): Layer.Layer<ChatClient> =>
    Layer.effect(this, Effect.map(Http, (http) => make({ ...Chat.defaultSettings(apiKey, baseUrl), ...over }, http))).pipe(
      Layer.provide(Http.layerWith({ secrets: apiKey === "" ? [] : [apiKey] })),
      Layer.provide(IoLog.layerMemory)
    )
}
