/**
 * The implementations `providers: { <stage>: "<name>" }` can select, and what `storyshot providers` lists.
 * A new provider is one file under `targets/<stage>/` and one line here.
 */
import type { Config } from "../src/Config.ts"
import { providerStages } from "../src/Film.ts"
import type { ProviderConfig } from "../src/providers/ProviderConfig.ts"
import * as ElevenLabsAudio from "./audio/elevenlabs.ts"
import * as EspeakAudio from "./audio/espeak.ts"
import * as FalAudio from "./audio/fal.ts"
import * as OpenAIAudio from "./audio/openai.ts"
import * as A1111Image from "./image/a1111.ts"
import * as CardImage from "./image/card.ts"
import * as FalImage from "./image/fal.ts"
import * as OpenAIImage from "./image/openai.ts"
import * as AnthropicPrompts from "./prompts/anthropic.ts"
import * as ChatPrompts from "./prompts/chat.ts"
import * as OpenRouterPrompts from "./prompts/openrouter.ts"
import * as PlannerPrompts from "./prompts/planner.ts"
import { pick, register, type Impl } from "./Rule.ts"
import * as FalVideo from "./video/fal.ts"
import * as KenBurnsVideo from "./video/kenburns.ts"
import * as ReplicateVideo from "./video/replicate.ts"

register(
  EspeakAudio.impl,
  FalAudio.impl,
  ElevenLabsAudio.impl,
  OpenAIAudio.impl,
  PlannerPrompts.impl,
  OpenRouterPrompts.impl,
  ChatPrompts.impl,
  AnthropicPrompts.impl,
  CardImage.impl,
  OpenAIImage.impl,
  FalImage.impl,
  A1111Image.impl,
  KenBurnsVideo.impl,
  FalVideo.impl,
  ReplicateVideo.impl
)

export { find, implementations, namesFor, pick, register, unknownProviders } from "./Rule.ts"

/** The implementation each provider stage of this config uses. */
export const picked = (config: Config): ReadonlyArray<Impl> => providerStages.map((stage) => pick(stage, config))

/** Whether any stage of this config calls a paid provider (otherwise every estimate is $0). */
export const usesPaidProviders = (config: Config): boolean => picked(config).some((impl) => impl.paid)

/** The variables a build with this config needs and does not have. */
export const missingKeys = (config: Config, providers: ProviderConfig): ReadonlyArray<string> => [
  ...new Set(picked(config).flatMap((impl) => impl.missing?.(providers) ?? []))
].sort()

/** Who needs each missing variable: "ANTHROPIC_API_KEY for prompts anthropic", so the line says which provider. */
export const missingKeyUsers = (config: Config, providers: ProviderConfig): ReadonlyArray<string> =>
  missingKeys(config, providers).map((key) => `${key} for ${picked(config).filter((impl) => impl.missing?.(providers).includes(key)).map((impl) => `${impl.stage} "${impl.name}"`).join(" and ")}`)
