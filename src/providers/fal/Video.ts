/**
 * Image-to-video through fal (Kling 1.6 standard/pro, Wan i2v), over the queue (`Queue.run`).
 *
 * The money rule: a clip is ALWAYS requested at the provider's own length (Kling `duration: "5"`, Wan's
 * 81 frames at 16 fps), never at the shot's duration. Shots last 2–3.99 s and change whenever a sentence
 * is re-voiced; if the shot length entered the request, every re-voicing would re-buy every clip of the
 * sentence. The mux cuts the clip to the shot instead, so a timing change costs nothing here. That is also
 * why the shot length is not a parameter of `requestFor`: it cannot reach the body (or the fingerprint).
 *
 * Surprises:
 * - Kling's `duration` is a string ("5" | "10"), not a number; there are no clips shorter than 5 s.
 * - The image goes as a URL (a fal storage upload always works); some models also take a data URI, which
 *   saves the upload: `imageInput` per model says which to use, and a caller may override it.
 * - The uploaded image's URL changes on every upload: to fingerprint a request, pass the image's content
 *   hash as `imageUrl` to `requestFor` (the body is otherwise exactly what is sent).
 */
import { Effect, Either, Schema } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { ProviderUnavailable } from "../Failure.ts"
import type { Http } from "../http/Client.ts"
import type { Follow } from "../Keep.ts"
import type { FalError } from "./FalError.ts"
import * as Prices from "./prices.ts"
import * as Queue from "./Queue.ts"
import * as Storage from "./Storage.ts"

export type VideoFamily = "kling" | "kling-start" | "wan" | "wan25" | "hailuo"
export type ImageInput = "upload" | "data-uri"

export interface VideoModel {
  readonly family: VideoFamily
  /** length of the clip the provider makes by default, in seconds (what the mux can cut from) */
  readonly clipSeconds: number
  /** how the still image is handed over by default */
  readonly imageInput: ImageInput
  /** The durations the model offers ("5" | "10", Kling v3's "3"…"15"): the shortest that holds the longest
   *  shot is asked for (a setting of the config, never a shot's own length). Absent: always `clipSeconds`. */
  readonly durations?: ReadonlyArray<string>
  /** The field that takes an end frame, on the versions that have one (contract 8). */
  readonly tail?: "tail_image_url" | "end_image_url"
  /** Extra fixed fields: sound off (Kling 2.6+ defaults it on, at twice the price), prompt rewriting off. */
  readonly fixed?: Readonly<Record<string, unknown>>
}

const wanFrames = 81
const wanFps = 16
const fiveOrTen = ["5", "10"] as const
const silent = { generate_audio: false }

export const models: Readonly<Record<string, VideoModel>> = {
  "fal-ai/kling-video/v1.6/standard/image-to-video": { family: "kling", clipSeconds: 5, imageInput: "upload" },
  "fal-ai/kling-video/v1.6/pro/image-to-video": { family: "kling", clipSeconds: 5, imageInput: "upload", tail: "tail_image_url" },
  "fal-ai/wan-i2v": { family: "wan", clipSeconds: wanFrames / wanFps, imageInput: "upload" },
  "fal-ai/kling-video/v2.1/standard/image-to-video": { family: "kling", clipSeconds: 5, imageInput: "upload", durations: fiveOrTen },
  "fal-ai/kling-video/v2.1/pro/image-to-video": { family: "kling", clipSeconds: 5, imageInput: "upload", durations: fiveOrTen, tail: "tail_image_url" },
  "fal-ai/kling-video/v2.1/master/image-to-video": { family: "kling", clipSeconds: 5, imageInput: "upload", durations: fiveOrTen },
  "fal-ai/kling-video/v2.5-turbo/standard/image-to-video": { family: "kling", clipSeconds: 5, imageInput: "upload", durations: fiveOrTen },
  "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": { family: "kling", clipSeconds: 5, imageInput: "upload", durations: fiveOrTen, tail: "tail_image_url" },
  "fal-ai/kling-video/v2.6/pro/image-to-video": { family: "kling-start", clipSeconds: 5, imageInput: "upload", durations: fiveOrTen, tail: "end_image_url", fixed: silent },
  "fal-ai/kling-video/v3/standard/image-to-video": {
    family: "kling-start", clipSeconds: 5, imageInput: "upload", durations: ["3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"], tail: "end_image_url", fixed: silent
  },
  "fal-ai/kling-video/v3/pro/image-to-video": {
    family: "kling-start", clipSeconds: 5, imageInput: "upload", durations: ["3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"], tail: "end_image_url", fixed: silent
  },
  "fal-ai/wan-25-preview/image-to-video": { family: "wan25", clipSeconds: 5, imageInput: "upload", durations: fiveOrTen, fixed: { enable_prompt_expansion: false } },
  "fal-ai/minimax/hailuo-02/standard/image-to-video": {
    family: "hailuo", clipSeconds: 6, imageInput: "upload", durations: ["6", "10"], tail: "end_image_url", fixed: { prompt_optimizer: false, resolution: "768P" }
  },
  "fal-ai/minimax/hailuo-2.3/standard/image-to-video": { family: "hailuo", clipSeconds: 6, imageInput: "upload", durations: ["6", "10"], fixed: { prompt_optimizer: false } },
  "fal-ai/minimax/hailuo-2.3-fast/standard/image-to-video": { family: "hailuo", clipSeconds: 6, imageInput: "upload", durations: ["6", "10"], fixed: { prompt_optimizer: false } }
}

/** Whether the model takes an end frame (Kling 1.6/2.1/2.5 pro `tail_image_url`, 2.6/v3 and Hailuo-02 `end_image_url`). */
export const takesTailImage = (model: string): boolean => models[model]?.tail !== undefined

/**
 * The clip length to ask for: the shortest the model offers that holds the longest shot the config can make
 * (a shot lasts under twice `shotSeconds`). A config setting, never a shot's own length (the money rule).
 * Undefined for the models that have one length only (the request then says what it always said).
 */
export const durationFor = (model: string, shotSeconds: number): string | undefined => {
  const durations = models[model]?.durations
  if (durations === undefined) return undefined
  const longest = 2 * shotSeconds
  return durations.find((d) => Number(d) >= longest) ?? durations[durations.length - 1]
}

export const modelFor = (model: string): Either.Either<VideoModel, ProviderUnavailable> => {
  const spec = models[model]
  return spec === undefined
    ? Either.left(
      new ProviderUnavailable({
        provider: "fal",
        message: `fal video model "${model}" is not supported; set FALAI_VIDEO_MODEL to one of: ${Object.keys(models).join(", ")}`
      })
    )
    : Either.right(spec)
}

export interface ClipRequest {
  readonly prompt: string
  /** a URL (or data URI) of the still image; for fingerprinting, the image's content hash */
  readonly imageUrl: string
  readonly negativePrompt?: string | undefined
  /** Kling only: how closely to follow the prompt, 0–1 (default 0.5) */
  readonly cfgScale?: number | undefined
  /** Wan only (default "480p") */
  readonly resolution?: "480p" | "720p" | undefined
  /** The length asked for, on models that offer several (`durationFor`). */
  readonly duration?: string | undefined
  /** The end frame's URL, on models that take one (`takesTailImage`). */
  readonly tailImageUrl?: string | undefined
  /** Wan 2.5 takes a seed. */
  readonly seed?: number | undefined
}

const defaultNegativePrompt = "blur, distort, and low quality"

/** The exact JSON body sent for one clip (used to fingerprint and to estimate, as well as to send). */
export const requestFor = (model: string, clip: ClipRequest): Either.Either<Record<string, unknown>, ProviderUnavailable> =>
  Either.map(modelFor(model), (spec): Record<string, unknown> => {
    // The money rule: a length of the model's or the config's, never the shot's.
    const duration = clip.duration ?? String(spec.clipSeconds)
    const tail = spec.tail !== undefined && clip.tailImageUrl !== undefined ? { [spec.tail]: clip.tailImageUrl } : {}
    switch (spec.family) {
      case "kling":
        return {
          prompt: clip.prompt,
          image_url: clip.imageUrl,
          duration,
          negative_prompt: clip.negativePrompt ?? defaultNegativePrompt,
          cfg_scale: clip.cfgScale ?? 0.5,
          ...tail
        }
      case "kling-start":
        return {
          prompt: clip.prompt,
          start_image_url: clip.imageUrl,
          duration,
          negative_prompt: clip.negativePrompt ?? defaultNegativePrompt,
          ...spec.fixed,
          ...tail
        }
      case "wan":
        return {
          prompt: clip.prompt,
          image_url: clip.imageUrl,
          num_frames: wanFrames,
          frames_per_second: wanFps,
          resolution: clip.resolution ?? "480p"
        }
      case "wan25":
        return {
          prompt: clip.prompt,
          image_url: clip.imageUrl,
          duration,
          resolution: clip.resolution ?? "480p",
          negative_prompt: clip.negativePrompt ?? defaultNegativePrompt,
          ...(clip.seed === undefined ? {} : { seed: clip.seed }),
          ...spec.fixed
        }
      case "hailuo":
        return { prompt: clip.prompt, image_url: clip.imageUrl, duration, ...spec.fixed, ...tail }
    }
  })

/** What one clip is expected to cost. */
export const estimate = (model: string, clip: Omit<ClipRequest, "imageUrl">): Cost.Cost =>
  Either.match(requestFor(model, { ...clip, imageUrl: "" }), {
    onLeft: () => Cost.unknown,
    onRight: (body) => Prices.videoCost(model, body)
  })

export type ImageSource =
  | { readonly url: string }
  | { readonly bytes: Uint8Array; readonly contentType: string; readonly fileName?: string }

export interface AnimateRequest extends Omit<ClipRequest, "imageUrl"> {
  readonly model: string
  readonly image: ImageSource
  /** The clip's last frame (the next shot's image, `continuity: "end-frames"`), for a model with a `tail` field. */
  readonly tailImage?: ImageSource | undefined
  /** The shot this clip is for. It never enters the request (see the money rule above); it is only
   *  checked to fit in the clip, so the mux can cut it. */
  readonly shotSeconds?: number
  /** overrides the model's default way of handing over the image */
  readonly imageInput?: ImageInput
  /** clip file size limit (default 512 MiB) */
  readonly maxBytes?: number
}

export interface Clip {
  readonly bytes: Uint8Array
  readonly ext: "mp4"
  readonly clipSeconds: number
  readonly seed: number | undefined
  readonly handle: Queue.FalHandle
  readonly cost: Cost.Cost
  readonly resumed: boolean
  readonly record: Cost.RequestRecord
}

const VideoOutput = Schema.Struct({
  video: Schema.Struct({ url: Schema.String }),
  seed: Schema.optional(Schema.NullOr(Schema.Number))
})

const imageUrlOf = (settings: Queue.FalSettings, req: AnimateRequest, spec: VideoModel, image: ImageSource = req.image): Effect.Effect<string, FalError, Http> => {
  if ("url" in image) return Effect.succeed(image.url)
  if ((req.imageInput ?? spec.imageInput) === "data-uri") {
    return Effect.succeed(`data:${image.contentType};base64,${Buffer.from(image.bytes).toString("base64")}`)
  }
  return Storage.upload(settings, {
    bytes: image.bytes,
    contentType: image.contentType,
    fileName: image.fileName ?? `shot.${image.contentType.split("/")[1] ?? "png"}`
  })
}

/** Turns a still image into a clip of the model's own length and returns the downloaded MP4 (kept as it arrives). */
export const animate = Effect.fn("FalVideo.animate")(function*(settings: Queue.FalSettings, req: AnimateRequest, follow: Follow) {
  const spec = yield* modelFor(req.model)
  const clipSeconds = req.duration === undefined ? spec.clipSeconds : Number(req.duration)
  if (req.tailImage !== undefined && spec.tail === undefined) {
    return yield* new ProviderUnavailable({ provider: "fal", message: `${req.model} takes no end frame; models that do: ${Object.keys(models).filter(takesTailImage).join(", ")}` })
  }
  if (req.shotSeconds !== undefined && req.shotSeconds > clipSeconds) {
    return yield* new ProviderUnavailable({
      provider: "fal",
      message: `a ${req.shotSeconds.toFixed(2)} s shot does not fit in ${req.model}'s ${clipSeconds} s clip; shots are at most 3.99 s, so check the shot planner`
    })
  }
  const startedAt = Date.now()
  // The body is built only when a request is actually submitted: a re-attached request needs no upload.
  const tail = req.tailImage
  const input = Effect.gen(function*() {
    const imageUrl = yield* imageUrlOf(settings, req, spec)
    const tailImageUrl = tail === undefined ? undefined : yield* imageUrlOf(settings, req, spec, tail)
    return yield* requestFor(req.model, { ...req, imageUrl, ...(tailImageUrl === undefined ? {} : { tailImageUrl }) })
  })
  const result = yield* Queue.runForFile(
    settings,
    { model: req.model, input, what: "clip" },
    follow,
    VideoOutput,
    (answer) => answer.video.url,
    "a video URL",
    { maxBytes: req.maxBytes ?? 512 * 1024 * 1024, contentTypePrefix: "video/", ext: () => "mp4" }
  )
  const cost = estimate(req.model, req)
  const record = Queue.recordOf(req.model, result, startedAt, cost)
  return {
    bytes: result.bytes,
    ext: "mp4",
    clipSeconds,
    seed: result.answer.seed ?? undefined,
    handle: result.handle,
    cost,
    resumed: result.resumed,
    record
  } satisfies Clip
})
