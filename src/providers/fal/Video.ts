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

export type VideoFamily = "kling" | "wan"
export type ImageInput = "upload" | "data-uri"

export interface VideoModel {
  readonly family: VideoFamily
  /** length of the clip the provider makes, in seconds (what the mux can cut from) */
  readonly clipSeconds: number
  /** how the still image is handed over by default */
  readonly imageInput: ImageInput
  /** the field that takes the clip's last frame, for models that have one (contract 8) */
  readonly tailField?: "tail_image_url" | "end_image_url" | undefined
}

const wanFrames = 81
const wanFps = 16

export const models: Readonly<Record<string, VideoModel>> = {
  "fal-ai/kling-video/v1.6/standard/image-to-video": { family: "kling", clipSeconds: 5, imageInput: "upload" },
  "fal-ai/kling-video/v1.6/pro/image-to-video": { family: "kling", clipSeconds: 5, imageInput: "upload", tailField: "tail_image_url" },
  "fal-ai/wan-i2v": { family: "wan", clipSeconds: wanFrames / wanFps, imageInput: "upload" }
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
  /** a URL of the clip's last frame (models with a `tailField`); for fingerprinting, the image's hash */
  readonly tailImageUrl?: string | undefined
}

const defaultNegativePrompt = "blur, distort, and low quality"

/** The exact JSON body sent for one clip (used to fingerprint and to estimate, as well as to send). */
export const requestFor = (model: string, clip: ClipRequest): Either.Either<Record<string, unknown>, ProviderUnavailable> =>
  Either.map(modelFor(model), (spec): Record<string, unknown> => {
    switch (spec.family) {
      case "kling":
        return {
          prompt: clip.prompt,
          image_url: clip.imageUrl,
          duration: String(spec.clipSeconds), // the money rule: never the shot's length
          negative_prompt: clip.negativePrompt ?? defaultNegativePrompt,
          cfg_scale: clip.cfgScale ?? 0.5,
          ...(clip.tailImageUrl !== undefined && spec.tailField !== undefined ? { [spec.tailField]: clip.tailImageUrl } : {})
        }
      case "wan":
        return {
          prompt: clip.prompt,
          image_url: clip.imageUrl,
          num_frames: wanFrames,
          frames_per_second: wanFps,
          resolution: clip.resolution ?? "480p"
        }
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
  /** The clip's last frame (the next shot's image, `continuity: "end-frames"`), for a model with a `tailField`. */
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
  if (req.shotSeconds !== undefined && req.shotSeconds > spec.clipSeconds) {
    return yield* new ProviderUnavailable({
      provider: "fal",
      message: `a ${req.shotSeconds.toFixed(2)} s shot does not fit in ${req.model}'s ${spec.clipSeconds} s clip; shots are at most 3.99 s, so check the shot planner`
    })
  }
  const startedAt = Date.now()
  // The body is built only when a request is actually submitted: a re-attached request needs no upload.
  const body = requestFor(req.model, { ...req, imageUrl: "" })
  if (Either.isLeft(body)) return yield* body.left
  if (req.tailImage !== undefined && spec.tailField === undefined) {
    return yield* new ProviderUnavailable({ provider: "fal", message: `${req.model} takes no end frame; continuity: "end-frames" needs a model that does (e.g. fal-ai/kling-video/v1.6/pro/image-to-video)` })
  }
  const tail = req.tailImage
  const input = Effect.all([imageUrlOf(settings, req, spec), tail === undefined ? Effect.succeed(undefined) : imageUrlOf(settings, req, spec, tail)]).pipe(
    Effect.map(([imageUrl, tailUrl]) => ({ ...body.right, image_url: imageUrl, ...(tailUrl !== undefined && spec.tailField !== undefined ? { [spec.tailField]: tailUrl } : {}) }))
  )
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
    clipSeconds: spec.clipSeconds,
    seed: result.answer.seed ?? undefined,
    handle: result.handle,
    cost,
    resumed: result.resumed,
    record
  } satisfies Clip
})
