/**
 * The implementations `providers: { <stage>: "<name>" }` can select, and what `storyshot providers` lists.
 * A new provider is one file under `targets/<stage>/` and one line here.
 */
import type { Config } from "../src/Config.ts"
import { providerStages } from "../src/Film.ts"
import type { ProviderConfig } from "../src/providers/ProviderConfig.ts"
import * as EspeakAudio from "./audio/espeak.ts"
import * as FalAudio from "./audio/fal.ts"
import * as CardImage from "./image/card.ts"
import * as OpenAIImage from "./image/openai.ts"
import * as OpenRouterPrompts from "./prompts/openrouter.ts"
import * as PlannerPrompts from "./prompts/planner.ts"
import { pick, register, type Impl } from "./Rule.ts"
import * as FalVideo from "./video/fal.ts"
import * as KenBurnsVideo from "./video/kenburns.ts"

register(
  EspeakAudio.impl,
  FalAudio.impl,
  PlannerPrompts.impl,
  OpenRouterPrompts.impl,
  CardImage.impl,
  OpenAIImage.impl,
  KenBurnsVideo.impl,
  FalVideo.impl
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
