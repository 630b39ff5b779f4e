/**
 * Every outside service's client layer in one place, built from `ProviderConfig` over the shared HTTP client:
 * a new provider adds its line here, and the build (src/cli/Session.ts) is not edited for it.
 */
import { Layer } from "effect"
import { A1111Client } from "./a1111/Client.ts"
import { AnthropicClient } from "./anthropic/Client.ts"
import { ChatClient } from "./chat/Client.ts"
import { ElevenLabsClient } from "./elevenlabs/Client.ts"
import { FalClient } from "./fal/Client.ts"
import { OpenAIClient } from "./openai/Client.ts"
import { OpenRouterClient } from "./openrouter/Client.ts"
import { ReplicateClient } from "./replicate/Client.ts"

export const layer = Layer.mergeAll(
  FalClient.layer,
  OpenAIClient.layer,
  OpenRouterClient.layer,
  ReplicateClient.layer,
  ElevenLabsClient.layer,
  ChatClient.layer,
  AnthropicClient.layer,
  A1111Client.layer
)
