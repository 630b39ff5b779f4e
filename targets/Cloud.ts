/**
 * What the cloud providers need from the environment: keys, model names and base URLs (DESIGN.md,
 * "Configuration"). A build that would call a paid provider whose key is missing stops before any paid call,
 * naming the variable (`missingKeys`). Keys are read here and passed straight to the providers: they never
 * enter a recipe, a record or a log line.
 */
import type { Config } from "../src/Config.ts"
import { defaultImageModel } from "../src/providers/openai/Images.ts"

type Env = { readonly [name: string]: string | undefined }

export const defaults = {
  FAL_BASE_URL: "https://queue.fal.run",
  FAL_STORAGE_URL: "https://rest.fal.ai",
  OPENAI_BASE_URL: "https://api.openai.com/v1",
  OPENROUTER_BASE_URL: "https://openrouter.ai/api/v1",
  FALAI_TTS_MODEL: "fal-ai/minimax/speech-02-turbo",
  FALAI_VIDEO_MODEL: "fal-ai/kling-video/v1.6/standard/image-to-video",
  OPENAI_IMAGE_MODEL: defaultImageModel,
  OPENROUTER_MODEL: "openai/gpt-4o-mini"
} as const

const trimSlash = (url: string) => url.replace(/\/+$/, "")

export const fal = (env: Env) => ({
  apiKey: env.FAL_KEY ?? "",
  baseUrl: trimSlash(env.FAL_BASE_URL ?? defaults.FAL_BASE_URL),
  storageUrl: trimSlash(env.FAL_STORAGE_URL ?? defaults.FAL_STORAGE_URL),
  ttsModel: env.FALAI_TTS_MODEL ?? defaults.FALAI_TTS_MODEL,
  videoModel: env.FALAI_VIDEO_MODEL ?? defaults.FALAI_VIDEO_MODEL
})

export const openai = (env: Env) => ({
  apiKey: env.OPENAI_KEY ?? env.OPENAI_API_KEY ?? "",
  baseUrl: trimSlash(env.OPENAI_BASE_URL ?? defaults.OPENAI_BASE_URL),
  imageModel: env.OPENAI_IMAGE_MODEL ?? defaults.OPENAI_IMAGE_MODEL
})

export const openrouter = (env: Env) => ({
  apiKey: env.OPENROUTER_KEY ?? "",
  baseUrl: trimSlash(env.OPENROUTER_BASE_URL ?? defaults.OPENROUTER_BASE_URL),
  model: env.OPENROUTER_MODEL ?? defaults.OPENROUTER_MODEL
})

/**
 * Speed settings, for a gateway with other limits and for tests against local fakes (documented in the
 * README). Unset or not a positive number → the built-in behaviour.
 * - `STORYSHOT_FAL_POLL_MS`: first interval between fal status polls (default 500 ms; it grows by half
 *   each poll up to ten times this, at most 5 s by default).
 * - `STORYSHOT_HTTP_TIMEOUT_MS`: the time-out of every HTTP request (by default each call has its own:
 *   60 s for a fal submit, 300 s for an image, ...).
 * - `STORYSHOT_RETRY_BASE_MS`: first back-off before a transient failure is retried (default 1000 ms,
 *   doubling; a provider's `Retry-After` wins when longer).
 */
const positive = (value: string | undefined): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const n = Number(value)
  return Number.isFinite(n) && n > 0 ? n : undefined
}

export const falPollMs = (env: Env): { readonly initialMs: number; readonly maxMs: number } | undefined => {
  const initialMs = positive(env.STORYSHOT_FAL_POLL_MS)
  return initialMs === undefined ? undefined : { initialMs, maxMs: Math.max(initialMs, Math.min(5_000, initialMs * 10)) }
}

export const httpTimeoutMs = (env: Env): number | undefined => positive(env.STORYSHOT_HTTP_TIMEOUT_MS)

export const retryBaseMs = (env: Env): number | undefined => positive(env.STORYSHOT_RETRY_BASE_MS)

/** Base URLs a provider's output may be downloaded from without https (so a local gateway or fake works). */
export const allowedBases = (env: Env): ReadonlyArray<string> => {
  const f = fal(env)
  return [f.baseUrl, f.storageUrl, openai(env).baseUrl, openrouter(env).baseUrl]
}

/** Every key value, for redaction wherever text leaves the process. */
export const secrets = (env: Env): ReadonlyArray<string> =>
  [env.FAL_KEY, env.OPENAI_KEY, env.OPENAI_API_KEY, env.OPENROUTER_KEY].filter((k): k is string => !!k && k.length >= 4)

/** Whether any stage of this config calls a paid provider (otherwise every estimate is $0). */
export const usesPaidProviders = (config: Config): boolean => {
  const p = config.providers
  return p.audio === "fal" || p.video === "fal" || p.image === "openai" || p.prompts === "openrouter"
}

/** The variables a build with this config needs and does not have. */
export const missingKeys = (config: Config, env: Env): ReadonlyArray<string> => {
  const missing: Array<string> = []
  const p = config.providers
  if ((p.audio === "fal" || p.video === "fal") && !env.FAL_KEY) missing.push("FAL_KEY")
  if (p.image === "openai" && !env.OPENAI_KEY && !env.OPENAI_API_KEY) missing.push("OPENAI_KEY (or OPENAI_API_KEY)")
  if (p.prompts === "openrouter" && !env.OPENROUTER_KEY) missing.push("OPENROUTER_KEY")
  return missing
}
