/**
 * The workspace configuration: `storyshot.config.ts` default-exports `defineConfig({...})`.
 * Validated with Schema; an error names the field and the shape it expected. Unknown fields are refused
 * (a typo like `shotSecond` would otherwise be ignored silently).
 */
import { Either, ParseResult, Schema } from "effect"
import { defaultShotSeconds, providerStages, stages } from "./Film.ts"
import { transitions, type Transition } from "./Shot.ts"

const PositiveInt = Schema.Int.pipe(Schema.positive())

export const Aspect = Schema.Literal("16:9", "9:16", "1:1")
export type Aspect = typeof Aspect.Type

export const Stage = Schema.Literal(...stages)

/** A provider's name for a stage. Which names exist is the registry's to say (`storyshot providers`), so it is
 *  checked against it before a build (`targets/Rule.ts` `unknownProviders`), not here. */
const ProviderName = Schema.NonEmptyTrimmedString

export const Profile = Schema.Literal("draft", "cloud")
export type Profile = typeof Profile.Type

/** An S3 bucket (3–63 characters: lower-case letters, digits, dots, hyphens) and an optional key prefix. */
export const remoteCacheUrlPattern = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?$/
const RemoteCacheUrl = Schema.String.pipe(
  Schema.pattern(remoteCacheUrlPattern, { message: () => 'an S3 URL such as "s3://bucket/prefix"' })
)

const Providers = Schema.Struct(
  Object.fromEntries(providerStages.map((stage) => [stage, Schema.optional(ProviderName)])) as {
    readonly [S in (typeof providerStages)[number]]: Schema.optional<typeof ProviderName>
  }
)

export const ConfigInput = Schema.Struct({
  /** The transcript, relative to the workspace. */
  transcript: Schema.optional(Schema.String),
  /** Which built-in profile (draft: offline and free; cloud: paid providers). STORYSHOT_PROFILE and --profile override. */
  profile: Schema.optional(Profile),
  /** Per-stage provider choice over the profile (e.g. draft cards with cloud narration). */
  providers: Schema.optional(Providers),
  aspect: Schema.optional(Aspect),
  /** Frame height in pixels of the film (the width follows the aspect ratio). */
  height: Schema.optional(PositiveInt.pipe(Schema.between(90, 2160))),
  fps: Schema.optional(PositiveInt.pipe(Schema.between(1, 60))),
  /** Shot length in seconds (the last shot of a sentence takes the remainder). */
  shotSeconds: Schema.optional(Schema.Number.pipe(Schema.between(0.5, 30))),
  /** A global style note every shot prompt carries, so shots stay coherent. */
  style: Schema.optional(Schema.String),
  voice: Schema.optional(
    Schema.Struct({
      /** espeak-ng voice (e.g. "en-us", "en-gb", "fr"). */
      espeak: Schema.optional(Schema.String),
      /** espeak-ng speed in words per minute. */
      wordsPerMinute: Schema.optional(PositiveInt.pipe(Schema.between(80, 450))),
      /** Voice name for the fal TTS model (its own names). */
      fal: Schema.optional(Schema.String)
    })
  ),
  image: Schema.optional(
    Schema.Struct({
      size: Schema.optional(Schema.Literal("1024x1024", "1536x1024", "1024x1536", "auto")),
      quality: Schema.optional(Schema.Literal("low", "medium", "high")),
      /** A pinned seed for the image providers that take one (fal Kontext/Seedream/Nano Banana, AUTOMATIC1111);
       *  without it each shot's seed is derived from its inputs, and `build --force` draws a new one. */
      seed: Schema.optional(Schema.Int.pipe(Schema.between(0, 2147483646)))
    })
  ),
  video: Schema.optional(
    Schema.Struct({
      /** Wan's resolution; Kling ignores it. */
      resolution: Schema.optional(Schema.Literal("480p", "720p"))
    })
  ),
  /** Named concurrency pools: how many nodes may run at once in each (fal, openai, openrouter, ffmpeg, local). */
  pools: Schema.optional(Schema.Record({ key: Schema.String, value: PositiveInt })),
  /** How many times a node is tried again when a provider refused its paid request before accepting it (429,
   *  5xx at submit: not billed), or when a free read still failed after its own retries. */
  retries: Schema.optional(Schema.Int.pipe(Schema.between(0, 10))),
  /** 1 lets a build buy once more, by itself, a paid answer that arrived damaged or never arrived (reported as
   *  repaid); 0 (the default) fails the node and says what to run to pay again. */
  retryPaid: Schema.optional(Schema.Literal(0, 1)),
  /** Time-out per node, in seconds. */
  timeoutSeconds: Schema.optional(Schema.Number.pipe(Schema.positive())),
  /** Default spend cap per build in USD (--max-cost overrides). */
  maxCostUsd: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
  /**
   * Transitions (issue 16): "planned" takes each shot's from the plan (the prompt writer's, or a pinned edit);
   * "cut", "crossfade", "fade-black" or "fade-white" puts that one everywhere. They overlap pictures only: the
   * narration is never moved and the film lasts as long as it.
   */
  transitions: Schema.optional(
    Schema.Struct({
      /** Between the shots of a sentence (made in its mux). */
      shots: Schema.optional(Schema.Literal("planned", ...transitions)),
      /** Into each sentence from the one before: its first frames show the previous sentence's last shot
       *  fading out (a sentence then depends on its previous sentence's last clip; "cut" keeps them apart). */
      sentences: Schema.optional(Schema.Literal("planned", ...transitions)),
      /** How long a crossfade or fade lasts, in seconds (at most the shot's length). */
      seconds: Schema.optional(Schema.Number.pipe(Schema.between(0.04, 3)))
    })
  ),
  /** Review before paying (issue 16): a build that would make images or clips refuses (exit 2) until every
   *  sentence's plan is approved (`storyshot approve`). Default false. */
  requireApproval: Schema.optional(Schema.Boolean),
  /** "end-frames": each clip ends on the next shot's image (a video provider that takes an end frame, e.g.
   *  fal's Kling 1.6 pro): the clip's fingerprint then includes that image. Default "none". */
  continuity: Schema.optional(Schema.Literal("none", "end-frames")),
  subtitles: Schema.optional(
    Schema.Struct({
      /** Burn the subtitles into out/final.mp4 (out/final.srt and .vtt are always written). */
      burn: Schema.optional(Schema.Boolean)
    })
  ),
  /** A music bed under the narration, in out/final.mp4 only (the sentence files stay voice-only). */
  music: Schema.optional(
    Schema.Struct({
      /** The music file (mp3, wav, m4a, ogg, flac...), relative to the workspace; looped or trimmed to the film. */
      file: Schema.NonEmptyTrimmedString,
      /** Its gain in dB (default -18). */
      volume: Schema.optional(Schema.Number.pipe(Schema.between(-60, 12))),
      /** Dip under the voice: true (by 18 dB, the default), false, or how many dB down (-3 to -40). */
      duck: Schema.optional(
        Schema.Union(Schema.Boolean, Schema.Number)
          .pipe(Schema.filter((v) => typeof v === "boolean" || (v >= -40 && v <= -3)))
          .annotations({ message: (issue) => `Expected true, false or a number of dB between -40 and -3, actual ${JSON.stringify(issue.actual)}` })
      ),
      /** Fade-in at the start of the film, in seconds (default 1). */
      fadeIn: Schema.optional(Schema.Number.pipe(Schema.between(0, 30))),
      /** Fade-out at the end of the film, in seconds (default 2). */
      fadeOut: Schema.optional(Schema.Number.pipe(Schema.between(0, 30)))
    })
  ),
  /**
   * A cache shared by several machines, on S3-compatible storage (S3, R2, MinIO, ...): results found there
   * are fetched instead of paid for, and what a build makes is sent there. `STORYSHOT_REMOTE_CACHE` (a URL,
   * or "off") overrides it; credentials come from the standard AWS variables (AWS_ACCESS_KEY_ID, ...).
   */
  remoteCache: Schema.optional(
    Schema.Struct({
      /** "s3://bucket" or "s3://bucket/prefix". */
      url: RemoteCacheUrl,
      /** The S3 endpoint, for storage other than AWS (e.g. "http://127.0.0.1:9000"); default: AWS, or AWS_ENDPOINT_URL_S3. */
      endpoint: Schema.optional(Schema.String),
      /** Default: AWS_REGION, else "us-east-1". */
      region: Schema.optional(Schema.String)
    })
  )
})
export type ConfigInput = typeof ConfigInput.Type

/** Identity, for types and editor help in `storyshot.config.ts`. */
export const defineConfig = (config: ConfigInput): ConfigInput => config

export interface Config {
  readonly transcript: string
  readonly profile: Profile
  readonly providers: { readonly [S in (typeof providerStages)[number]]: string }
  readonly aspect: Aspect
  readonly width: number
  readonly height: number
  readonly fps: number
  readonly shotSeconds: number
  readonly style: string
  readonly voice: { readonly espeak: string; readonly wordsPerMinute: number; readonly fal: string | undefined }
  readonly image: {
    readonly size: "1024x1024" | "1536x1024" | "1024x1536" | "auto"
    readonly quality: "low" | "medium" | "high"
    readonly seed: number | undefined
  }
  readonly video: { readonly resolution: "480p" | "720p" }
  readonly pools: { readonly [pool: string]: number }
  readonly retries: number
  readonly retryPaid: 0 | 1
  readonly timeoutSeconds: number
  readonly maxCostUsd: number | undefined
  readonly transitions: { readonly shots: "planned" | Transition; readonly sentences: "planned" | Transition; readonly seconds: number }
  readonly continuity: "none" | "end-frames"
  readonly requireApproval: boolean
  readonly subtitles: { readonly burn: boolean }
  readonly music: Music | undefined
  readonly remoteCache: { readonly url: string; readonly endpoint: string | undefined; readonly region: string | undefined } | undefined
}

export interface Music {
  /** As written in the config: relative to the workspace. */
  readonly file: string
  readonly volumeDb: number
  /** How far the music dips under the voice (dB, negative); undefined: no ducking. */
  readonly duckDb: number | undefined
  readonly fadeInSec: number
  readonly fadeOutSec: number
}

export const musicDefaults = { volumeDb: -18, duckDb: -18, fadeInSec: 1, fadeOutSec: 2 } as const

const resolveMusic = (music: ConfigInput["music"]): Music | undefined =>
  music === undefined
    ? undefined
    : {
        file: music.file,
        volumeDb: music.volume ?? musicDefaults.volumeDb,
        duckDb: music.duck === false ? undefined : typeof music.duck === "number" ? music.duck : musicDefaults.duckDb,
        fadeInSec: music.fadeIn ?? musicDefaults.fadeInSec,
        fadeOutSec: music.fadeOut ?? musicDefaults.fadeOutSec
      }

const profileProviders: Record<Profile, Config["providers"]> = {
  draft: { audio: "espeak", prompts: "planner", image: "card", video: "kenburns" },
  cloud: { audio: "fal", prompts: "openrouter", image: "openai", video: "fal" }
}

const even = (n: number) => Math.max(2, Math.round(n / 2) * 2)

/**
 * The cloud profile's image route: fal's queue when a fal key is there and no OpenAI key (fal re-attaches to a
 * request after a crash, OpenAI's Images call cannot). With both keys it stays OpenAI, so that upgrading does
 * not re-buy every still already made; `providers: { image: "fal" }` picks fal, and `init` says so.
 */
const cloudImage = (env: { readonly [name: string]: string | undefined }): string =>
  env.FAL_KEY && !env.OPENAI_KEY && !env.OPENAI_API_KEY ? "fal" : "openai"

export const resolve = (input: ConfigInput, profileOverride?: Profile, env: { readonly [name: string]: string | undefined } = {}): Config => {
  const profile = profileOverride ?? input.profile ?? "draft"
  const defaults = profile === "cloud" ? { ...profileProviders.cloud, image: cloudImage(env) } : profileProviders[profile]
  const aspect = input.aspect ?? "16:9"
  const height = even(input.height ?? 360)
  const [w, h] = aspect.split(":").map(Number) as [number, number]
  const imageSize = input.image?.size ?? (aspect === "16:9" ? "1536x1024" : aspect === "9:16" ? "1024x1536" : "1024x1024")
  return {
    transcript: input.transcript ?? "transcript.txt",
    profile,
    providers: { ...defaults, ...stripUndefined(input.providers ?? {}) },
    aspect,
    width: even((height * w) / h),
    height,
    fps: input.fps ?? 24,
    shotSeconds: input.shotSeconds ?? defaultShotSeconds,
    style: input.style ?? "cinematic storyboard, soft light, consistent characters",
    voice: {
      espeak: input.voice?.espeak ?? "en-us",
      wordsPerMinute: input.voice?.wordsPerMinute ?? 165,
      fal: input.voice?.fal
    },
    image: { size: imageSize, quality: input.image?.quality ?? "medium", seed: input.image?.seed },
    video: { resolution: input.video?.resolution ?? "480p" },
    // One GPU does one image at a time (a self-hosted AUTOMATIC1111 server queues the rest anyway).
    pools: { fal: 4, openai: 3, openrouter: 4, replicate: 4, elevenlabs: 2, anthropic: 4, chat: 2, gpu: 1, ...(input.pools ?? {}) },
    retries: input.retries ?? 3,
    retryPaid: input.retryPaid ?? 0,
    timeoutSeconds: input.timeoutSeconds ?? 30 * 60,
    maxCostUsd: input.maxCostUsd,
    transitions: {
      shots: input.transitions?.shots ?? "planned",
      // Between sentences a cut unless asked: "planned" makes each sentence's mux wait for its plan (the way in is
      // the first shot's transition) and depend on the previous sentence's last clip.
      sentences: input.transitions?.sentences ?? "cut",
      seconds: input.transitions?.seconds ?? 0.5
    },
    continuity: input.continuity ?? "none",
    requireApproval: input.requireApproval ?? false,
    subtitles: { burn: input.subtitles?.burn ?? false },
    music: resolveMusic(input.music),
    remoteCache: input.remoteCache && { url: input.remoteCache.url, endpoint: input.remoteCache.endpoint, region: input.remoteCache.region }
  }
}

const stripUndefined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>

/** Validates what a config file exported; the error is one line naming the field and what it expected. */
export const decode = (value: unknown): Either.Either<ConfigInput, string> =>
  Schema.decodeUnknownEither(ConfigInput, { onExcessProperty: "error", errors: "all" })(value).pipe(
    Either.mapLeft((error) => describe(error))
  )

const describe = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (!first) return "invalid configuration"
  const field = first.path.length > 0 ? first.path.join(".") : "(the config object)"
  let message = first.message.replace(/\s+/g, " ")
  // A union of literals ("16:9" | "9:16" | "1:1") fails once per member: name every allowed value, not the first.
  const same = issues.filter((i) => i._tag === "Type" && i.path.join(".") === first.path.join("."))
  const expected = same.map((i) => /^Expected (.+), actual (.+)$/s.exec(i.message)).filter((m) => m !== null)
  if (first._tag === "Type" && expected.length > 1 && expected.length === same.length)
    message = `Expected ${[...new Set(expected.map((m) => m![1]))].filter((e) => e !== "undefined").join(" | ")}, actual ${expected[0]![2]}`
  if (first._tag === "Unexpected") return `unknown field "${field}" (check its spelling; see \`storyshot init\` for every field)`
  return `field "${field}": ${message}`
}
