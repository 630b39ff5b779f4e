/**
 * Stills through fal's queue (`Queue.runForFile`): re-attachable after a crash, unlike OpenAI's synchronous
 * Images call. Models come in pairs, a text-to-image one and its edit sibling that takes reference images
 * (the cast's character sheets, contract 6): a shot that shows references uses the edit member, one that
 * does not the text member, whichever of the two `FALAI_IMAGE_MODEL` names.
 *
 * Surprises, per family (fields from fal-js's generated endpoint types, 2026-08):
 * - OpenAI's models on fal: `fal-ai/gpt-image-1/text-to-image` and `/edit-image` (image_size "1536x1024",
 *   `input_fidelity` defaults to high), and gpt-image-2 under **`openai/gpt-image-2`** (not `fal-ai/`),
 *   `/edit`, with `image_size` as `{width, height}` and a default quality of *high* (so it is always sent).
 *   None takes a seed.
 * - FLUX.1 Kontext [pro]: `fal-ai/flux-pro/kontext` takes ONE `image_url`, `/multi` takes `image_urls`;
 *   `aspect_ratio`, not a size; `seed` is honoured and echoed. A blocked image comes back as
 *   `has_nsfw_concepts: [true]` (a black frame): a moderation failure, never a success.
 * - Seedream v4 (`fal-ai/bytedance/seedream/v4/edit`): `image_urls` (up to 10), `image_size {width,height}`
 *   with a minimum area of 921,600 px, `seed` echoed.
 * - Nano Banana (`fal-ai/nano-banana/edit`): `image_urls`, `aspect_ratio`, `seed` accepted, not echoed.
 * - Never `sync_mode: true`: the image would come back as a data URI outside fal's request history, which a
 *   resumed build cannot collect.
 * - References are uploaded through fal storage (free, retried in place) only when a request is actually
 *   submitted: a re-attached request needs no upload. The body's URLs change on every upload, so the
 *   fingerprint holds the references' content hashes instead.
 */
import { Effect, Schema } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { ProviderUnavailable } from "../Failure.ts"
import type { Http } from "../http/Client.ts"
import type { Follow } from "../Keep.ts"
import { FalError } from "./FalError.ts"
import * as Prices from "./prices.ts"
import * as Queue from "./Queue.ts"
import * as Storage from "./Storage.ts"

export type ImageFamily = "gpt-image-1" | "gpt-image-2" | "kontext" | "seedream" | "nano-banana"

export interface ImageModel {
  readonly family: ImageFamily
  /** Takes reference images (an edit model). */
  readonly edit: boolean
  /** The other member of the pair (text ↔ edit). */
  readonly sibling: string
  /** How many references it takes at most (edit models). */
  readonly maxReferences: number
  /** Accepts a seed (and so can reproduce a take). */
  readonly seeded: boolean
}

export const defaultModel = "fal-ai/flux-pro/kontext/text-to-image"

export const models: Readonly<Record<string, ImageModel>> = {
  "fal-ai/gpt-image-1/text-to-image": { family: "gpt-image-1", edit: false, sibling: "fal-ai/gpt-image-1/edit-image", maxReferences: 0, seeded: false },
  "fal-ai/gpt-image-1/edit-image": { family: "gpt-image-1", edit: true, sibling: "fal-ai/gpt-image-1/text-to-image", maxReferences: 16, seeded: false },
  "openai/gpt-image-2": { family: "gpt-image-2", edit: false, sibling: "openai/gpt-image-2/edit", maxReferences: 0, seeded: false },
  "openai/gpt-image-2/edit": { family: "gpt-image-2", edit: true, sibling: "openai/gpt-image-2", maxReferences: 16, seeded: false },
  "fal-ai/flux-pro/kontext/text-to-image": { family: "kontext", edit: false, sibling: "fal-ai/flux-pro/kontext/multi", maxReferences: 0, seeded: true },
  "fal-ai/flux-pro/kontext": { family: "kontext", edit: true, sibling: "fal-ai/flux-pro/kontext/text-to-image", maxReferences: 1, seeded: true },
  "fal-ai/flux-pro/kontext/multi": { family: "kontext", edit: true, sibling: "fal-ai/flux-pro/kontext/text-to-image", maxReferences: 4, seeded: true },
  "fal-ai/bytedance/seedream/v4/text-to-image": { family: "seedream", edit: false, sibling: "fal-ai/bytedance/seedream/v4/edit", maxReferences: 0, seeded: true },
  "fal-ai/bytedance/seedream/v4/edit": { family: "seedream", edit: true, sibling: "fal-ai/bytedance/seedream/v4/text-to-image", maxReferences: 10, seeded: true },
  "fal-ai/nano-banana": { family: "nano-banana", edit: false, sibling: "fal-ai/nano-banana/edit", maxReferences: 0, seeded: true },
  "fal-ai/nano-banana/edit": { family: "nano-banana", edit: true, sibling: "fal-ai/nano-banana", maxReferences: 10, seeded: true }
}

export const unsupported = (model: string) =>
  new ProviderUnavailable({
    provider: "fal",
    message: `fal image model "${model}" is not supported; set FALAI_IMAGE_MODEL to one of: ${Object.keys(models).join(", ")}`
  })

/** The model a shot uses: the edit member when it shows references, else the text member. */
export const modelFor = (configured: string, withReferences: boolean): string | undefined => {
  const spec = models[configured]
  if (spec === undefined) return undefined
  return spec.edit === withReferences ? configured : spec.sibling
}

export type Size = "1024x1024" | "1536x1024" | "1024x1536" | "auto"
export type Quality = "low" | "medium" | "high"

export interface StillRequest {
  readonly model: string
  readonly prompt: string
  readonly size: Size
  readonly quality: Quality
  /** Sent to models that take one (`seeded`), ignored by the others. */
  readonly seed: number
}

const dims = (size: Size) => (size === "1024x1536" ? { width: 1024, height: 1536 } : size === "1024x1024" ? { width: 1024, height: 1024 } : { width: 1536, height: 1024 })
const aspect = (size: Size) => (size === "1024x1536" ? "2:3" : size === "1024x1024" ? "1:1" : "3:2")

/** The exact JSON body, with `urls` in place of the references (their content hashes, to fingerprint). */
export const requestFor = (req: StillRequest, urls: ReadonlyArray<string>): Record<string, unknown> => {
  const spec = models[req.model]!
  const refs = spec.edit ? (spec.maxReferences === 1 ? { image_url: urls[0] ?? "" } : { image_urls: [...urls] }) : {}
  switch (spec.family) {
    case "gpt-image-1":
      return { prompt: req.prompt, image_size: req.size, quality: req.quality, num_images: 1, output_format: "png", ...refs, ...(spec.edit ? { input_fidelity: "high" } : {}) }
    case "gpt-image-2":
      return { prompt: req.prompt, image_size: req.size === "auto" ? "auto" : dims(req.size), quality: req.quality, num_images: 1, output_format: "png", ...refs }
    case "kontext":
      return { prompt: req.prompt, aspect_ratio: aspect(req.size), num_images: 1, output_format: "png", safety_tolerance: "2", seed: req.seed, ...refs }
    case "seedream":
      return { prompt: req.prompt, image_size: dims(req.size), num_images: 1, seed: req.seed, enable_safety_checker: true, ...refs }
    case "nano-banana":
      return { prompt: req.prompt, aspect_ratio: aspect(req.size), num_images: 1, output_format: "png", seed: req.seed, ...refs }
  }
}

export const estimate = (req: Omit<StillRequest, "seed">): Cost.Cost => Prices.imageCost(req.model, { quality: req.quality, ...dims(req.size), promptChars: req.prompt.length })

export interface Reference {
  readonly name: string
  readonly bytes: Uint8Array
  readonly contentType: string
}

export interface Still {
  readonly bytes: Uint8Array
  readonly contentType: string
  /** The seed the model says it used (Kontext, Seedream), else the one sent (or none, for OpenAI's). */
  readonly seed: number | undefined
  readonly record: Cost.RequestRecord
  readonly resumed: boolean
}

const ImageOutput = Schema.Struct({
  images: Schema.Array(Schema.Struct({ url: Schema.String, content_type: Schema.optional(Schema.NullOr(Schema.String)) })).pipe(Schema.minItems(1)),
  seed: Schema.optional(Schema.NullOr(Schema.Number)),
  has_nsfw_concepts: Schema.optional(Schema.NullOr(Schema.Array(Schema.Boolean)))
})

const extOf = (type: string) => (/jpe?g/i.test(type) ? "jpg" : /webp/i.test(type) ? "webp" : "png")

/** One still, or the one an earlier run's request made (kept as it arrived). */
export const generate = Effect.fn("FalImage.generate")(function*(settings: Queue.FalSettings, req: StillRequest, references: ReadonlyArray<Reference>, follow: Follow) {
  const spec = models[req.model]
  if (spec === undefined) return yield* unsupported(req.model)
  if (spec.edit && references.length === 0) {
    return yield* new ProviderUnavailable({ provider: "fal", message: `${req.model} edits reference images and this shot has none; use ${spec.sibling}` })
  }
  if (references.length > spec.maxReferences && spec.edit) {
    return yield* new ProviderUnavailable({
      provider: "fal",
      message: `${req.model} takes at most ${spec.maxReferences} reference image${spec.maxReferences === 1 ? "" : "s"} and this shot shows ${references.length} (${references.map((r) => r.name).join(", ")}); use a model that takes more (e.g. fal-ai/flux-pro/kontext/multi)`
    })
  }
  const startedAt = Date.now()
  // Uploads happen only for a request actually submitted (a re-attached one has its URLs already).
  const input: Effect.Effect<unknown, FalError | ProviderUnavailable, Http> = Effect.map(
    Effect.forEach(references, (r, i) => Storage.upload(settings, { bytes: r.bytes, contentType: r.contentType, fileName: `reference-${i + 1}.${extOf(r.contentType)}` })),
    (urls) => requestFor(req, urls)
  )
  const result = yield* Queue.runForFile(
    settings,
    { model: req.model, input, what: "image" },
    follow,
    ImageOutput,
    (answer) => answer.images[0]!.url,
    "an image URL",
    { maxBytes: 64 * 1024 * 1024, contentTypePrefix: "image/", ext: (answer, type) => extOf(answer.images[0]!.content_type ?? type) }
  )
  if (result.answer.has_nsfw_concepts?.[0] === true) {
    return yield* new FalError({
      call: "result",
      reason: "moderation",
      said: `${req.model} flagged the image as not safe for work (has_nsfw_concepts) and blacked it out`,
      model: req.model,
      requestId: result.handle.requestId
    })
  }
  const cost = estimate(req)
  return {
    bytes: result.bytes,
    contentType: result.answer.images[0]!.content_type ?? result.contentType,
    seed: result.answer.seed ?? (spec.seeded ? req.seed : undefined),
    record: Queue.recordOf(req.model, result, startedAt, cost),
    resumed: result.resumed
  } satisfies Still
})
