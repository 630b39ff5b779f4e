/**
 * Image-to-video on Replicate, through its predictions API (REST, no SDK):
 *
 *   POST {base}/predictions                        {version, input}   (a community model: owner/name:version)
 *   POST {base}/models/{owner}/{name}/predictions  {input}            (an official model: owner/name)
 *     → {id, status: "starting", urls: {get, cancel}, ...}
 *   GET  urls.get     → status starting | processing | succeeded | failed | canceled (| aborted)
 *   POST urls.cancel
 *   POST {base}/files (multipart `content`) → {urls: {get}}: an image too big for a data URL (> 256 kB)
 *
 * Surprises, each handled here:
 * - `Prefer: wait` holds the create call open up to 60 s and answers with the prediction, id included. A
 *   kill during that hold loses the id of a prediction that runs and is billed, so it is never sent: the
 *   create returns at once with its id, which is kept (with the answer's bytes) before anything else, and
 *   the prediction is polled. After a crash the next build polls the same id.
 * - A create is retried only on 429 (as Replicate's client does; see `ReplicateError.ts`).
 * - `starting` may last while a worker boots; cancelling a `starting` prediction costs nothing, so Ctrl-C
 *   cancels it; a `processing` one is billed for its GPU time anyway and is left to finish.
 * - Outputs are deleted an hour after the prediction ends: the clip is downloaded at once and kept. A
 *   prediction found later with `data_removed` was paid for and is lost: bought again once, reported.
 * - `output` is a URL string for SVD (a list for some models: the first is taken).
 * - Cost: `metrics.predict_time` (GPU seconds, reported) × the hardware's rate (`prices.ts`).
 */
import { Effect, Option, Schema } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { ProviderUnavailable } from "../Failure.ts"
import { isOk, refusalOf } from "../http/Answer.ts"
import { Http, type Answer } from "../http/Client.ts"
import { download } from "../http/Download.ts"
import { redact } from "../http/Redact.ts"
import * as Job from "../Job.ts"
import { finishPaid, type Follow } from "../Keep.ts"
import * as Reads from "../Reads.ts"
import { costOf, estimate as estimateOf } from "./prices.ts"
import { fromHttp, fromRefusal, ReplicateError } from "./ReplicateError.ts"

export const provider = "replicate"

export const defaultModel = "stability-ai/stable-video-diffusion:3f0457e4619daac51203dedb472816fd4af51f3149fa7a9e0b5ffcf1b8172438"

export interface ReplicateSettings {
  readonly apiToken: string
  readonly baseUrl: string
  readonly poll: { readonly initialMs: number; readonly maxMs: number }
  readonly reads: Reads.ReadPolicy
  readonly submitTimeoutMs: number
  readonly readTimeoutMs: number
  /** Output files may come from these besides https (a gateway, a local fake). */
  readonly allowedBases: ReadonlyArray<string>
}

export const defaultSettings = (apiToken: string, baseUrl: string): ReplicateSettings => ({
  apiToken,
  baseUrl,
  poll: { initialMs: 1_000, maxMs: 5_000 },
  reads: Reads.defaultPolicy,
  submitTimeoutMs: 30_000,
  readTimeoutMs: 15_000,
  allowedBases: [baseUrl]
})

/** What each supported model is asked for (SVD's fields; its clip: 25 frames at 6 fps = 4.17 s). */
export interface VideoModel {
  readonly clipSeconds: number
  readonly input: (imageUrl: string, seed: number) => Record<string, unknown>
}

const svd: VideoModel = {
  clipSeconds: 25 / 6,
  input: (imageUrl, seed) => ({
    input_image: imageUrl,
    video_length: "25_frames_with_svd_xt",
    sizing_strategy: "maintain_aspect_ratio",
    frames_per_second: 6,
    motion_bucket_id: 127,
    cond_aug: 0.02,
    seed
  })
}

const families: Readonly<Record<string, VideoModel>> = { "stability-ai/stable-video-diffusion": svd }

export const modelFor = (model: string): VideoModel | undefined => families[model.split(":")[0]!]

export const unsupported = (model: string) =>
  new ProviderUnavailable({
    provider: "replicate",
    message: `Replicate video model "${model}" is not supported; set REPLICATE_VIDEO_MODEL to ${defaultModel} (Stable Video Diffusion)`
  })

export const estimate = (model: string): Cost.Cost => estimateOf(model)

export interface AnimateRequest {
  readonly model: string
  readonly image: { readonly bytes: Uint8Array; readonly contentType: string; readonly fileName: string }
  readonly seed: number
  readonly shotSeconds?: number | undefined
}

export interface Clip {
  readonly bytes: Uint8Array
  readonly predictionId: string
  readonly cost: Cost.Cost
  readonly seed: number
  readonly resumed: boolean
  readonly queueMs: number
  readonly submittedAt: number
  readonly repaid?: string | undefined
}

export const Handle = Schema.Struct({
  predictionId: Schema.String,
  getUrl: Schema.String,
  cancelUrl: Schema.String,
  submittedAt: Schema.Number
})
export type Handle = typeof Handle.Type

const Prediction = Schema.Struct({
  id: Schema.String,
  status: Schema.String,
  output: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.Unknown),
  data_removed: Schema.optional(Schema.NullOr(Schema.Boolean)),
  metrics: Schema.optional(Schema.NullOr(Schema.Struct({ predict_time: Schema.optional(Schema.NullOr(Schema.Number)) }))),
  urls: Schema.optional(Schema.NullOr(Schema.Struct({ get: Schema.optional(Schema.String), cancel: Schema.optional(Schema.String) })))
})
type Prediction = typeof Prediction.Type

const parse = (bytes: Uint8Array): Prediction | undefined => {
  try {
    return Option.getOrUndefined(Schema.decodeUnknownOption(Prediction)(JSON.parse(Buffer.from(bytes).toString("utf8")), { onExcessProperty: "ignore" }))
  } catch {
    return undefined
  }
}

const trim = (url: string) => url.replace(/\/+$/, "")
const auth = (settings: ReplicateSettings) => ({ authorization: `Bearer ${settings.apiToken}` })

const handleOf = (settings: ReplicateSettings, p: Prediction, submittedAt: number): Handle => ({
  predictionId: p.id,
  getUrl: p.urls?.get ?? `${trim(settings.baseUrl)}/predictions/${p.id}`,
  cancelUrl: p.urls?.cancel ?? `${trim(settings.baseUrl)}/predictions/${p.id}/cancel`,
  submittedAt
})

const createUrl = (settings: ReplicateSettings, model: string) => {
  const [name, version] = model.split(":")
  return version === undefined ? `${trim(settings.baseUrl)}/models/${name}/predictions` : `${trim(settings.baseUrl)}/predictions`
}

const createBody = (model: string, input: Record<string, unknown>) => {
  const version = model.split(":")[1]
  return version === undefined ? { input } : { version, input }
}

const clean = (settings: ReplicateSettings, e: ReplicateError) => new ReplicateError({ ...e, said: redact(e.said, [settings.apiToken]) })

const reading = <A, R>(settings: ReplicateSettings, call: Effect.Effect<A, ReplicateError, R>) => Reads.retrying(call, settings.reads, (e) => e.worthRetrying)

/** The image as something Replicate can read: a data URL up to 256 kB, else an upload to its file API. */
const imageInput = (settings: ReplicateSettings, image: AnimateRequest["image"]) =>
  Effect.gen(function*() {
    if (image.bytes.length <= 256 * 1024) return `data:${image.contentType};base64,${Buffer.from(image.bytes).toString("base64")}`
    const http = yield* Http
    const boundary = `----storyshot${Date.now().toString(16)}${Math.random().toString(16).slice(2)}`
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="${image.fileName.replace(/"/g, "")}"\r\nContent-Type: ${image.contentType}\r\n\r\n`
    )
    const body = new Uint8Array(Buffer.concat([head, Buffer.from(image.bytes), Buffer.from(`\r\n--${boundary}--\r\n`)]))
    return yield* reading(
      settings,
      Effect.gen(function*() {
        const res = yield* http.request(provider, {
          method: "POST",
          url: `${trim(settings.baseUrl)}/files`,
          headers: { ...auth(settings), "content-type": `multipart/form-data; boundary=${boundary}` },
          body,
          answerTimeoutMs: Math.max(settings.readTimeoutMs, 60_000)
        }).pipe(Effect.mapError((f) => fromHttp("upload", f)))
        const refusal = refusalOf(res)
        if (refusal !== undefined) return yield* clean(settings, fromRefusal("upload", refusal))
        const url = (() => {
          try {
            return (JSON.parse(res.text()) as { urls?: { get?: unknown } }).urls?.get
          } catch {
            return undefined
          }
        })()
        if (typeof url !== "string") return yield* new ReplicateError({ call: "upload", reason: "garbled", said: `the file API answered without urls.get (HTTP ${res.status})` })
        return url
      })
    )
  })

const failure = (p: Prediction, model: string): ReplicateError =>
  p.status === "succeeded"
    ? new ReplicateError({ call: "status", reason: "gone", said: "its output was deleted (Replicate keeps outputs about an hour); it was paid for", requestId: p.id, model })
    : new ReplicateError({
      call: "status",
      reason: "model-failed",
      said: typeof p.error === "string" && p.error.trim() !== "" ? p.error : p.status === "canceled" ? "the prediction was canceled" : `the prediction ended ${p.status}`,
      requestId: p.id,
      model,
      code: p.status
    })

const spec = (settings: ReplicateSettings, req: AnimateRequest, spec_: VideoModel, follow: Follow): Job.JobSpec<Handle, ReplicateError> => ({
  what: "clip",
  handleOf: (notes) => Option.getOrUndefined(Schema.decodeUnknownOption(Handle)(notes)),
  handleFromSubmit: (bytes) => {
    const p = parse(bytes)
    return p === undefined ? undefined : handleOf(settings, p, Date.now())
  },
  garbledSubmit: (bytes) => new ReplicateError({ call: "create", reason: "garbled", said: `an earlier run's create answer is garbled (${bytes.length} bytes)`, model: req.model }),
  submit: Effect.gen(function*() {
    // The image goes up first (free); the create is the one paid call.
    const imageUrl = yield* imageInput(settings, req.image)
    const http = yield* Http
    const submittedAt = Date.now()
    const keep = (answer: Answer) => {
      const p = parse(answer.body)
      return follow.journal.keep("submit", answer.body, "json", p === undefined ? { submittedAt } : { ...handleOf(settings, p, submittedAt) }).pipe(Effect.ignore)
    }
    const res = yield* finishPaid(
      http.request(provider, {
        method: "POST",
        url: createUrl(settings, req.model),
        headers: auth(settings),
        json: createBody(req.model, spec_.input(imageUrl, req.seed)),
        answerTimeoutMs: settings.submitTimeoutMs,
        keep
      }),
      follow.onWaiting?.("waiting for Replicate to accept the clip") ?? Effect.void
    ).pipe(Effect.mapError((f) => fromHttp("create", f, req.model)))
    const refusal = refusalOf(res)
    if (refusal !== undefined) return yield* clean(settings, fromRefusal("create", refusal, req.model))
    const p = parse(res.body)
    if (p === undefined) return yield* new ReplicateError({ call: "create", reason: "garbled", said: `not a prediction (${res.body.length} bytes)`, status: res.status, model: req.model })
    return handleOf(settings, p, submittedAt)
  }),
  poll: (handle) =>
    reading(
      settings,
      Effect.gen(function*() {
        const http = yield* Http
        const res = yield* http.request(provider, { method: "GET", url: handle.getUrl, headers: auth(settings), answerTimeoutMs: settings.readTimeoutMs }).pipe(
          Effect.mapError((f) => fromHttp("status", f, req.model))
        )
        if (res.status === 404) {
          return yield* new ReplicateError({ call: "status", reason: "gone", status: 404, said: "Replicate no longer knows this prediction", requestId: handle.predictionId, model: req.model })
        }
        const refusal = refusalOf(res)
        if (refusal !== undefined) return yield* clean(settings, fromRefusal("status", refusal, req.model))
        const p = parse(res.body)
        if (p === undefined) return yield* new ReplicateError({ call: "status", reason: "garbled", said: `not a prediction (${res.body.length} bytes)`, status: res.status })
        const removed = p.status === "succeeded" && (p.data_removed === true || p.output === null || p.output === undefined)
        const state: Job.JobState = p.status === "starting" ? "queued" : p.status === "processing" ? "working" : p.status === "succeeded" && !removed ? "done" : "failed"
        if (state === "failed" && removed) return yield* failure(p, req.model)
        return { state, bytes: res.body, ...(state === "failed" ? { error: failure(p, req.model) } : {}) } satisfies Job.Polled<ReplicateError>
      })
    ),
  cancel: (handle) =>
    Effect.gen(function*() {
      const http = yield* Http
      const res = yield* http.request(provider, { method: "POST", url: handle.cancelUrl, headers: auth(settings), answerTimeoutMs: Math.min(settings.readTimeoutMs, 5_000) })
      return isOk(res)
    }).pipe(Effect.orElseSucceed(() => false)),
  isGone: (e) => e.reason === "gone",
  refused: (e) => e.call === "create" && (e.reason === "rate-limited" || e.reason === "refused" || e.reason === "rejected" || e.reason === "unauthorized" || e.reason === "out-of-credit"),
  unansweredWhy: "an earlier build sent this clip's create and stopped before Replicate's answer arrived: that prediction may be running unseen (see https://replicate.com/predictions)",
  goneWhy: (handle) => `Replicate no longer held prediction ${handle.predictionId}'s output (outputs are deleted after an hour)`,
  interval: settings.poll
})

/** A clip of the model's own length from the still image, or the one an earlier run's prediction made. */
export const animate = Effect.fn("Replicate.animate")(function*(settings: ReplicateSettings, req: AnimateRequest, follow: Follow) {
  const model = modelFor(req.model)
  if (model === undefined) return yield* unsupported(req.model)
  if (req.shotSeconds !== undefined && req.shotSeconds > model.clipSeconds) {
    return yield* new ProviderUnavailable({
      provider: "replicate",
      message: `a ${req.shotSeconds.toFixed(2)} s shot does not fit in ${req.model}'s ${model.clipSeconds.toFixed(2)} s clip`
    })
  }
  const done = yield* Job.run(spec(settings, req, model, follow), follow)
  const p = parse(done.bytes)
  const id = done.handle.predictionId
  const url = Array.isArray(p?.output) ? p.output[0] : p?.output
  if (p === undefined || typeof url !== "string") {
    return yield* new ReplicateError({ call: "status", reason: "model-failed", said: `${id} succeeded without an output URL`, requestId: id, model: req.model })
  }
  const kept = (yield* follow.journal.read).answer("file")
  const bytes = kept ?? (yield* reading(
    settings,
    download(provider, url, {
      allowedBases: settings.allowedBases,
      maxBytes: 512 * 1024 * 1024,
      contentTypePrefix: "video/",
      answerTimeoutMs: settings.readTimeoutMs,
      keep: (a) => follow.journal.keep("file", a.body, "mp4").pipe(Effect.ignore)
    }).pipe(
      Effect.map((d) => d.bytes),
      Effect.mapError((f) =>
        new ReplicateError({ call: "download", reason: f.reason, said: f.said, requestId: id, ...(f.status === undefined ? {} : { status: f.status }), ...(f.retryAfterMs === undefined ? {} : { retryAfterMs: f.retryAfterMs }) })
      )
    )
  ))
  return {
    bytes,
    predictionId: id,
    cost: costOf(req.model, p.metrics?.predict_time ?? undefined),
    seed: req.seed,
    resumed: done.resumed,
    queueMs: done.queueMs,
    submittedAt: done.handle.submittedAt,
    ...(done.repaid === undefined ? {} : { repaid: done.repaid })
  } satisfies Clip
})
