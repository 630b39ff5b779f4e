/**
 * Provider settings, parsed once from the environment (the process's, over `.env`) with Schema into one typed
 * config: keys, base URLs, models, time-outs and poll intervals (DESIGN.md, "Configuration"). Every adapter's
 * layer is built from it; nothing else reads these variables. Keys live only here and in the requests: they
 * never enter a recipe, a record or a log line (`secrets` lists them for redaction).
 *
 * Speed settings, for a gateway with other limits and for tests against local fakes (documented in the
 * README); unset or not a positive number → the built-in behaviour:
 * - `STORYSHOT_FAL_POLL_MS`: first interval between fal status polls (default 500 ms; it grows by half each
 *   poll up to ten times this, at most 5 s). Polls are the fallback: fal's status stream is followed first.
 * - `STORYSHOT_FAL_STREAM=0`: poll fal from the start, without its status stream (a gateway that buffers
 *   server-sent events).
 * - `STORYSHOT_HTTP_TIMEOUT_MS`: the answer (and mid-body silence) time-out of every request, instead of each
 *   call's own (15 s for a fal submit or poll, 300 s for an image, 120 s for a shot list, 3 s for the model list).
 * - `STORYSHOT_CONNECT_TIMEOUT_MS`: how long to wait for a connection (default 5 s).
 * - `STORYSHOT_RETRY_BASE_MS`: first back-off before a call is tried again (default 1000 ms for a node,
 *   250 ms for a free read; doubling; a provider's `Retry-After` wins when longer).
 * - `STORYSHOT_READ_BUDGET_MS`: how long free reads (status, result, upload, download) keep being retried
 *   (default 120 s).
 */
import { Context, Either, Layer, ParseResult, Schema } from "effect"
import * as A1111 from "./a1111/A1111.ts"
import * as Anthropic from "./anthropic/Anthropic.ts"
import * as Chat from "./chat/Chat.ts"
import * as ElevenLabs from "./elevenlabs/ElevenLabs.ts"
import * as FalImage from "./fal/Image.ts"
import * as FalQueue from "./fal/Queue.ts"
import * as Background from "./openai/Background.ts"
import * as Images from "./openai/Images.ts"
import * as Speech from "./openai/Speech.ts"
import * as OpenRouter from "./openrouter/OpenRouter.ts"
import * as Reads from "./Reads.ts"
import * as Replicate from "./replicate/Predictions.ts"

type Env = { readonly [name: string]: string | undefined }

export const defaults = {
  FAL_BASE_URL: "https://queue.fal.run",
  FAL_STORAGE_URL: "https://rest.fal.ai",
  OPENAI_BASE_URL: "https://api.openai.com/v1",
  OPENROUTER_BASE_URL: "https://openrouter.ai/api/v1",
  FALAI_TTS_MODEL: "fal-ai/minimax/speech-02-turbo",
  FALAI_VIDEO_MODEL: "fal-ai/kling-video/v1.6/standard/image-to-video",
  OPENAI_IMAGE_MODEL: Images.defaultImageModel,
  OPENROUTER_MODEL: "openai/gpt-4o-mini",
  FALAI_IMAGE_MODEL: FalImage.defaultModel,
  REPLICATE_BASE_URL: "https://api.replicate.com/v1",
  REPLICATE_VIDEO_MODEL: Replicate.defaultModel,
  ELEVENLABS_BASE_URL: "https://api.elevenlabs.io/v1",
  ELEVENLABS_MODEL: ElevenLabs.defaults.model,
  ELEVENLABS_VOICE_ID: ElevenLabs.defaults.voiceId,
  OPENAI_TTS_MODEL: Speech.defaults.model,
  OPENAI_TTS_VOICE: Speech.defaults.voice,
  OPENAI_RESPONSES_MODEL: Background.defaultMainlineModel,
  CHAT_BASE_URL: Chat.defaults.baseUrl,
  CHAT_MODEL: Chat.defaults.model,
  CHAT_STRUCTURED: Chat.defaults.structured,
  ANTHROPIC_BASE_URL: Anthropic.defaults.baseUrl,
  ANTHROPIC_MODEL: Anthropic.defaults.model,
  A1111_BASE_URL: "http://127.0.0.1:7860"
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
  FALAI_IMAGE_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  REPLICATE_API_TOKEN: Schema.optional(Schema.String),
  REPLICATE_BASE_URL: Schema.optional(HttpUrl),
  REPLICATE_VIDEO_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  ELEVENLABS_API_KEY: Schema.optional(Schema.String),
  ELEVENLABS_BASE_URL: Schema.optional(HttpUrl),
  ELEVENLABS_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  ELEVENLABS_VOICE_ID: Schema.optional(Schema.NonEmptyTrimmedString),
  OPENAI_TTS_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  OPENAI_TTS_VOICE: Schema.optional(Schema.NonEmptyTrimmedString),
  OPENAI_RESPONSES_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  CHAT_BASE_URL: Schema.optional(HttpUrl),
  CHAT_API_KEY: Schema.optional(Schema.String),
  CHAT_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  CHAT_STRUCTURED: Schema.optional(Schema.Literal("json_schema", "json_object", "prompt")),
  ANTHROPIC_API_KEY: Schema.optional(Schema.String),
  ANTHROPIC_BASE_URL: Schema.optional(HttpUrl),
  ANTHROPIC_MODEL: Schema.optional(Schema.NonEmptyTrimmedString),
  A1111_BASE_URL: Schema.optional(HttpUrl),
  /** `user:password` for a server started with `--api-auth`. */
  A1111_AUTH: Schema.optional(Schema.String),
  A1111_SAMPLER: Schema.optional(Schema.NonEmptyTrimmedString),
  A1111_STEPS: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 150))),
  A1111_CHECKPOINT: Schema.optional(Schema.String),
  STORYSHOT_FAL_POLL_MS: Millis,
  STORYSHOT_FAL_STREAM: Schema.optional(Schema.Literal("0", "1")),
  STORYSHOT_HTTP_TIMEOUT_MS: Millis,
  STORYSHOT_CONNECT_TIMEOUT_MS: Millis,
  STORYSHOT_RETRY_BASE_MS: Millis,
  STORYSHOT_READ_BUDGET_MS: Millis
})

export interface ProviderConfig {
  readonly fal: FalQueue.FalSettings & { readonly ttsModel: string; readonly videoModel: string; readonly imageModel: string }
  readonly openai: Images.OpenAISettings & {
    readonly imageModel: string
    readonly speech: { readonly model: string; readonly voice: string }
    /** The background (Responses API) image route: its mainline model, polling and time-outs. */
    readonly background: Background.BackgroundSettings & { readonly model: string }
  }
  readonly openrouter: OpenRouter.OpenRouterSettings & { readonly model: string }
  readonly replicate: Replicate.ReplicateSettings & { readonly model: string }
  readonly elevenlabs: ElevenLabs.ElevenLabsSettings
  /** Any OpenAI-compatible chat server; `apiKey` may be "" for a local one. */
  readonly chat: Chat.ChatSettings
  readonly anthropic: Anthropic.AnthropicSettings
  readonly a1111: A1111.A1111Settings
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
  const replicateBase = trimSlash(env.REPLICATE_BASE_URL ?? defaults.REPLICATE_BASE_URL)
  const allowedBases = [falBase, storage, openaiBase, openrouterBase, replicateBase]
  const openaiKey = env.OPENAI_KEY ?? env.OPENAI_API_KEY ?? ""
  const chatBase = trimSlash(env.CHAT_BASE_URL ?? defaults.CHAT_BASE_URL)
  // OpenAI's own key serves the chat route when it points at OpenAI; a local server needs none.
  const chatKey = env.CHAT_API_KEY ?? (chatBase === trimSlash(defaults.CHAT_BASE_URL) ? openaiKey : "")
  const a1111Auth = env.A1111_AUTH ?? ""
  const secrets = [
    env.FAL_KEY,
    env.OPENAI_KEY,
    env.OPENAI_API_KEY,
    env.OPENROUTER_KEY,
    env.REPLICATE_API_TOKEN,
    env.ELEVENLABS_API_KEY,
    env.CHAT_API_KEY,
    env.ANTHROPIC_API_KEY,
    a1111Auth,
    a1111Auth.split(":").slice(1).join(":")
  ].filter((k): k is string => !!k && k.length >= 4)
  const polling = pollMs === undefined ? {} : { poll: { initialMs: pollMs, maxMs: Math.max(pollMs, Math.min(5_000, pollMs * 10)) } }
  return {
    fal: {
      ...FalQueue.defaultSettings(env.FAL_KEY ?? "", falBase, storage),
      ...(pollMs === undefined ? {} : { poll: { initialMs: pollMs, maxMs: Math.max(pollMs, Math.min(5_000, pollMs * 10)) } }),
      ...(env.STORYSHOT_FAL_STREAM === "0" ? { stream: { ...FalQueue.defaultSettings("", falBase).stream, enabled: false } } : {}),
      reads,
      allowedBases,
      ttsModel: env.FALAI_TTS_MODEL ?? defaults.FALAI_TTS_MODEL,
      videoModel: env.FALAI_VIDEO_MODEL ?? defaults.FALAI_VIDEO_MODEL,
      imageModel: env.FALAI_IMAGE_MODEL ?? defaults.FALAI_IMAGE_MODEL
    },
    openai: {
      ...Images.defaultSettings(openaiKey, openaiBase),
      reads,
      imageModel: env.OPENAI_IMAGE_MODEL ?? defaults.OPENAI_IMAGE_MODEL,
      speech: { model: env.OPENAI_TTS_MODEL ?? defaults.OPENAI_TTS_MODEL, voice: env.OPENAI_TTS_VOICE ?? defaults.OPENAI_TTS_VOICE },
      background: {
        ...Background.defaultSettings(openaiKey, openaiBase),
        ...polling,
        reads,
        model: env.OPENAI_RESPONSES_MODEL ?? defaults.OPENAI_RESPONSES_MODEL
      }
    },
    openrouter: {
      ...OpenRouter.defaultSettings(env.OPENROUTER_KEY ?? "", openrouterBase),
      model: env.OPENROUTER_MODEL ?? defaults.OPENROUTER_MODEL
    },
    replicate: {
      ...Replicate.defaultSettings(env.REPLICATE_API_TOKEN ?? "", replicateBase),
      ...polling,
      reads,
      allowedBases,
      model: env.REPLICATE_VIDEO_MODEL ?? defaults.REPLICATE_VIDEO_MODEL
    },
    elevenlabs: {
      ...ElevenLabs.defaultSettings(env.ELEVENLABS_API_KEY ?? "", trimSlash(env.ELEVENLABS_BASE_URL ?? defaults.ELEVENLABS_BASE_URL)),
      model: env.ELEVENLABS_MODEL ?? defaults.ELEVENLABS_MODEL,
      voiceId: env.ELEVENLABS_VOICE_ID ?? defaults.ELEVENLABS_VOICE_ID
    },
    chat: {
      ...Chat.defaultSettings(chatKey, chatBase),
      model: env.CHAT_MODEL ?? defaults.CHAT_MODEL,
      structured: env.CHAT_STRUCTURED ?? defaults.CHAT_STRUCTURED
    },
    anthropic: {
      ...Anthropic.defaultSettings(env.ANTHROPIC_API_KEY ?? "", trimSlash(env.ANTHROPIC_BASE_URL ?? defaults.ANTHROPIC_BASE_URL)),
      model: env.ANTHROPIC_MODEL ?? defaults.ANTHROPIC_MODEL
    },
    a1111: {
      ...A1111.defaultSettings(trimSlash(env.A1111_BASE_URL ?? defaults.A1111_BASE_URL), a1111Auth),
      ...(env.A1111_SAMPLER === undefined ? {} : { sampler: env.A1111_SAMPLER }),
      ...(env.A1111_STEPS === undefined ? {} : { steps: env.A1111_STEPS }),
      ...(env.A1111_CHECKPOINT === undefined ? {} : { checkpoint: env.A1111_CHECKPOINT.trim() })
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
