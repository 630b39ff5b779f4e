/**
 * Provider settings, parsed once from the environment (the process's, over `.env`) with Schema into one typed
 * config: keys, base URLs, models, time-outs and poll intervals (DESIGN.md, "Configuration"). Every adapter's
 * layer is built from it; nothing else reads these variables. Keys live only here and in the requests: they
 * never enter a recipe, a record or a log line (`secrets` lists them for redaction).
 *
 * Speed settings, for a gateway with other limits and for tests against local fakes (documented in the
 * README); unset or not a positive number → the built-in behaviour:
 * - `STORYSHOT_FAL_POLL_MS`: first interval between fal status polls (default 500 ms; it grows by half each
 *   poll up to ten times this, at most 5 s).
 * - `STORYSHOT_HTTP_TIMEOUT_MS`: the answer (and mid-body silence) time-out of every request, instead of each
 *   call's own (15 s for a fal submit or poll, 300 s for an image, 120 s for a shot list, 3 s for the model list).
 * - `STORYSHOT_CONNECT_TIMEOUT_MS`: how long to wait for a connection (default 5 s).
 * - `STORYSHOT_RETRY_BASE_MS`: first back-off before a call is tried again (default 1000 ms for a node,
 *   250 ms for a free read; doubling; a provider's `Retry-After` wins when longer).
 * - `STORYSHOT_READ_BUDGET_MS`: how long free reads (status, result, upload, download) keep being retried
 *   (default 120 s).
 */
import { Context, Either, Layer, ParseResult, Schema } from "effect"
import * as FalQueue from "./fal/Queue.ts"
import * as Images from "./openai/Images.ts"
import * as OpenRouter from "./openrouter/OpenRouter.ts"
import * as Reads from "./Reads.ts"

type Env = { readonly [name: string]: string | undefined }

export const defaults = {
  FAL_BASE_URL: "https://queue.fal.run",
  FAL_STORAGE_URL: "https://rest.fal.ai",
  OPENAI_BASE_URL: "https://api.openai.com/v1",
  OPENROUTER_BASE_URL: "https://openrouter.ai/api/v1",
  FALAI_TTS_MODEL: "fal-ai/minimax/speech-02-turbo",
  FALAI_VIDEO_MODEL: "fal-ai/kling-video/v1.6/standard/image-to-video",
  OPENAI_IMAGE_MODEL: Images.defaultImageModel,
  OPENROUTER_MODEL: "openai/gpt-4o-mini"
} as const

const HttpUrl = Schema.String.pipe(
  Schema.filter((s) => {
    try {
      const u = new URL(s)
      return u.protocol === "http:" || u.protocol === "https:"
    } catch {
      return false
    }
  }, { message: () => "a http(s) URL" })
)

/** Milliseconds; a value that is not a positive number means "the built-in value". */
const Millis = Schema.optional(Schema.String)

/** The variables storyshot reads, as Schema decodes them from the environment. */
export const ProviderEnv = Schema.Struct({
  FAL_KEY: Schema.optional(Schema.String),
  OPENAI_KEY: Schema.optional(Schema.String),
  OPENAI_API_KEY: Schema.optional(Schema.String),
  OPENROUTER_KEY: Schema.optional(Schema.String),
  FAL_BASE_URL: Schema.optional(HttpUrl),
  FAL_STORAGE_URL: Schema.optional(HttpUrl),
  OPENAI_BASE_URL: Schema.optional(HttpUrl),
  OPENROUTER_BASE_URL: Schema.optional(HttpUrl),
  FALAI_TTS_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  FALAI_VIDEO_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  OPENAI_IMAGE_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  OPENROUTER_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  STORYSHOT_FAL_POLL_MS: Millis,
  STORYSHOT_HTTP_TIMEOUT_MS: Millis,
  STORYSHOT_CONNECT_TIMEOUT_MS: Millis,
  STORYSHOT_RETRY_BASE_MS: Millis,
  STORYSHOT_READ_BUDGET_MS: Millis
})

export interface ProviderConfig {
  readonly fal: FalQueue.FalSettings & { readonly ttsModel: string; readonly videoModel: string }
  readonly openai: Images.OpenAISettings & { readonly imageModel: string }
  readonly openrouter: OpenRouter.OpenRouterSettings & { readonly model: string }
  readonly http: { readonly timeoutMs: number | undefined; readonly connectTimeoutMs: number | undefined }
  /** First back-off of the scheduler's retry of a refused paid request. */
  readonly retryBaseMs: number | undefined
  /** Every key value, for redaction wherever text leaves the process. */
  readonly secrets: ReadonlyArray<string>
}

const positive = (value: string | undefined): number | undefined => {
  const n = value === undefined ? NaN : Number(value)
  return Number.isFinite(n) && n > 0 ? n : undefined
}

const trimSlash = (url: string) => url.replace(/\/+$/, "")

/** Empty values mean "not set", as in a `.env` line `FAL_KEY=`. */
const present = (env: Env): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === "string" && e[1].trim() !== ""))

/** One line per variable that is set but wrong (a base URL that is no URL, an empty model name). */
export const problems = (env: Env): ReadonlyArray<string> =>
  Either.match(Schema.decodeUnknownEither(ProviderEnv, { errors: "all" })(present(env)), {
    onRight: () => [],
    onLeft: (error) =>
      ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => `${issue.path.join(".")} is not ${issue.message.replace(/^Expected /, "")}`)
  })

/** The typed config; a variable that does not decode falls back to its default (`problems` reports it). */
export const fromEnv = (input: Env): ProviderConfig => {
  const raw = present(input)
  const env = Either.getOrElse(Schema.decodeUnknownEither(ProviderEnv)(raw), () => {
    // Keep what decodes; a broken variable is reported by `problems` before any build starts.
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(raw)) {
      const one = Schema.decodeUnknownEither(ProviderEnv)({ [k]: v })
      if (Either.isRight(one)) Object.assign(out, one.right)
    }
    return out as typeof ProviderEnv.Type
  })
  const retryBaseMs = positive(env.STORYSHOT_RETRY_BASE_MS)
  const pollMs = positive(env.STORYSHOT_FAL_POLL_MS)
  const reads: Reads.ReadPolicy = {
    ...Reads.defaultPolicy,
    ...(retryBaseMs === undefined ? {} : { firstDelayMs: retryBaseMs }),
    ...(positive(env.STORYSHOT_READ_BUDGET_MS) === undefined ? {} : { budgetMs: positive(env.STORYSHOT_READ_BUDGET_MS)! })
  }
  const falBase = trimSlash(env.FAL_BASE_URL ?? defaults.FAL_BASE_URL)
  const storage = trimSlash(env.FAL_STORAGE_URL ?? defaults.FAL_STORAGE_URL)
  const openaiBase = trimSlash(env.OPENAI_BASE_URL ?? defaults.OPENAI_BASE_URL)
  const openrouterBase = trimSlash(env.OPENROUTER_BASE_URL ?? defaults.OPENROUTER_BASE_URL)
  const allowedBases = [falBase, storage, openaiBase, openrouterBase]
  const secrets = [env.FAL_KEY, env.OPENAI_KEY, env.OPENAI_API_KEY, env.OPENROUTER_KEY].filter((k): k is string => !!k && k.length >= 4)
  return {
    fal: {
      ...FalQueue.defaultSettings(env.FAL_KEY ?? "", falBase, storage),
      ...(pollMs === undefined ? {} : { poll: { initialMs: pollMs, maxMs: Math.max(pollMs, Math.min(5_000, pollMs * 10)) } }),
      reads,
      allowedBases,
      ttsModel: env.FALAI_TTS_MODEL ?? defaults.FALAI_TTS_MODEL,
      videoModel: env.FALAI_VIDEO_MODEL ?? defaults.FALAI_VIDEO_MODEL
    },
    openai: {
      ...Images.defaultSettings(env.OPENAI_KEY ?? env.OPENAI_API_KEY ?? "", openaiBase),
      reads,
      imageModel: env.OPENAI_IMAGE_MODEL ?? defaults.OPENAI_IMAGE_MODEL
    },
    openrouter: {
      ...OpenRouter.defaultSettings(env.OPENROUTER_KEY ?? "", openrouterBase),
      model: env.OPENROUTER_MODEL ?? defaults.OPENROUTER_MODEL
    },
    http: { timeoutMs: positive(env.STORYSHOT_HTTP_TIMEOUT_MS), connectTimeoutMs: positive(env.STORYSHOT_CONNECT_TIMEOUT_MS) },
    retryBaseMs,
    secrets
  }
}

/** The provider config as a service: what every adapter's `layer` is built from. */
export class Providers extends Context.Tag("storyshot/ProviderConfig")<Providers, ProviderConfig>() {
  static readonly layer = (env: Env): Layer.Layer<Providers> => Layer.succeed(this, fromEnv(env))
}
