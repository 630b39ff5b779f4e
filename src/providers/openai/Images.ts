/**
 * OpenAI Images (GPT image models): one prompt in, one still image out.
 *
 * Surprises:
 * - GPT image models answer with base64 (`b64_json`), never URLs, and report *tokens*, not dollars: the
 *   cost comes from `prices.ts`. An older model that answers with a URL is downloaded instead.
 * - The call is synchronous and billed once the image is made (30–120 s is normal), so the answer time-out
 *   is long, the answer's bytes are kept in the node's journal the moment they arrive (before the base64 is
 *   decoded), and a Ctrl-C waits for an answer on its way instead of throwing away what is being billed.
 * - What each failure means for the bill is `OpenAIError.ts`'s to say.
 */
import { Effect, ParseResult, Schema } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { refusalOf } from "../http/Answer.ts"
import { Http, type Answer } from "../http/Client.ts"
import { download } from "../http/Download.ts"
import { redact } from "../http/Redact.ts"
import { finishPaid, type Follow } from "../Keep.ts"
import * as Reads from "../Reads.ts"
import { fromHttp, fromRefusal, OpenAIError } from "./OpenAIError.ts"
import { priceOf } from "./prices.ts"

export const provider = "openai"

/** gpt-image-1 was retired in Oct 2026; a configured "gpt-image-1" is still sent as written. */
export const defaultImageModel = "gpt-image-1.5"

export const defaultTimeoutMs = 300_000

export type ImageSize = "1024x1024" | "1536x1024" | "1024x1536" | "auto"
export type ImageQuality = "low" | "medium" | "high" | "auto"
export type ImageFormat = "png" | "jpeg" | "webp"

/** How the adapter talks to OpenAI (from `ProviderConfig`). */
export interface OpenAISettings {
  readonly apiKey: string
  readonly baseUrl: string
  /** How long an image may take to come back. */
  readonly timeoutMs: number
  readonly reads: Reads.ReadPolicy
}

export const defaultSettings = (apiKey: string, baseUrl: string): OpenAISettings => ({
  apiKey,
  baseUrl,
  timeoutMs: defaultTimeoutMs,
  reads: Reads.defaultPolicy
})

export interface GenerateRequest {
  readonly model: string
  readonly prompt: string
  readonly size: ImageSize
  readonly quality: ImageQuality
  readonly outputFormat: ImageFormat
}

export interface ImageUsage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly textInputTokens: number
  readonly imageInputTokens: number
  readonly textOutputTokens: number
  readonly imageOutputTokens: number
}

export interface GeneratedImage {
  readonly bytes: Uint8Array
  /** From the bytes' own signature, not from what was asked. */
  readonly ext: ImageFormat
  readonly usage?: ImageUsage | undefined
  readonly requestId?: string | undefined
  readonly cost: Cost.Cost
  /** Decoded from an answer an earlier run received and kept (nothing new was paid for). */
  readonly resumed: boolean
}

const Count = Schema.Number.pipe(Schema.nonNegative())

const Answer = Schema.Struct({
  data: Schema.Array(
    Schema.Struct({
      b64_json: Schema.optional(Schema.NullOr(Schema.String)),
      url: Schema.optional(Schema.NullOr(Schema.String))
    })
  ).pipe(Schema.minItems(1)),
  usage: Schema.optional(
    Schema.NullOr(
      Schema.Struct({
        input_tokens: Count,
        output_tokens: Count,
        input_tokens_details: Schema.optional(
          Schema.NullOr(Schema.Struct({ text_tokens: Schema.optional(Count), image_tokens: Schema.optional(Count) }))
        ),
        output_tokens_details: Schema.optional(
          Schema.NullOr(Schema.Struct({ text_tokens: Schema.optional(Count), image_tokens: Schema.optional(Count) }))
        )
      })
    )
  )
})

/** The format the bytes really are, or undefined when they are no image we know. */
export const sniff = (bytes: Uint8Array): ImageFormat | undefined => {
  const b = bytes
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return "png"
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg"
  if (b.length >= 12 && Buffer.from(b.subarray(0, 4)).toString("latin1") === "RIFF" && Buffer.from(b.subarray(8, 12)).toString("latin1") === "WEBP") return "webp"
  return undefined
}

const usageOf = (u: typeof Answer.Type["usage"]): ImageUsage | undefined => {
  if (u === undefined || u === null) return undefined
  const imageInput = u.input_tokens_details?.image_tokens ?? 0
  const textInput = u.input_tokens_details?.text_tokens ?? u.input_tokens - imageInput
  const textOutput = u.output_tokens_details?.text_tokens ?? 0
  const imageOutput = u.output_tokens_details?.image_tokens ?? u.output_tokens - textOutput
  return {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    textInputTokens: textInput,
    imageInputTokens: imageInput,
    textOutputTokens: textOutput,
    imageOutputTokens: imageOutput
  }
}

/** Cost from the usage the API reported and the price table; unknown (never $0) when either is missing. */
export const costOf = (model: string, usage: ImageUsage | undefined): Cost.Cost => {
  const price = priceOf(model)
  if (price === undefined || usage === undefined) return Cost.unknown
  return Cost.fromTable(
    usage.textInputTokens * price.textInput +
      usage.imageInputTokens * price.imageInput +
      usage.imageOutputTokens * price.imageOutput +
      usage.textOutputTokens * price.textOutput
  )
}

const garbled = (said: string, requestId: string | undefined, status = 200) =>
  new OpenAIError({ call: "images", reason: "garbled", said, status, ...(requestId === undefined ? {} : { requestId }) })

/** The image in a 200's bytes (as they arrived, or as an earlier run kept them). */
const decodeAnswer = (settings: OpenAISettings, req: GenerateRequest, bytes: Uint8Array, requestId: string | undefined, resumed: boolean) =>
  Effect.gen(function*() {
    let body: unknown
    try {
      body = JSON.parse(Buffer.from(bytes).toString("utf8"))
    } catch {
      return yield* garbled(`broken JSON (${bytes.length} bytes)`, requestId)
    }
    const answer = yield* Schema.decodeUnknown(Answer)(body).pipe(
      Effect.mapError((e) => garbled(`unexpected answer: ${ParseResult.TreeFormatter.formatErrorSync(e)}`, requestId))
    )
    const first = answer.data[0]!
    let image: Uint8Array
    if (typeof first.b64_json === "string") {
      image = new Uint8Array(Buffer.from(first.b64_json, "base64"))
    } else if (typeof first.url === "string" && first.url.length > 0) {
      const got = yield* Reads.retrying(
        download(provider, first.url, { allowedBases: [settings.baseUrl], contentTypePrefix: "image/" }).pipe(
          Effect.mapError((f) => new OpenAIError({ call: "download", reason: f.reason, said: f.said, ...(f.status === undefined ? {} : { status: f.status }) }))
        ),
        settings.reads,
        (e) => e.worthRetrying
      )
      image = got.bytes
    } else {
      return yield* new OpenAIError({ call: "images", reason: "not-an-image", said: "no b64_json or url in data[0]", status: 200, ...(requestId === undefined ? {} : { requestId }) })
    }
    const ext = sniff(image)
    if (image.length === 0 || ext === undefined) {
      return yield* new OpenAIError({
        call: "images",
        reason: "not-an-image",
        said: `${image.length === 0 ? "an empty image" : "bytes that are not a PNG, JPEG or WebP image"} (request ${requestId ?? "without id"})`,
        status: 200,
        ...(requestId === undefined ? {} : { requestId })
      })
    }
    const usage = usageOf(answer.usage)
    return { bytes: image, ext, usage, requestId, cost: costOf(req.model, usage), resumed } satisfies GeneratedImage
  })

/** A reference image sent to `/images/edits` (a character sheet). */
export interface ReferenceImage {
  readonly bytes: Uint8Array
  readonly fileName: string
  readonly contentType: "image/png" | "image/jpeg" | "image/webp"
}

export interface EditRequest extends GenerateRequest {
  /** Sent as repeated `image[]` parts, in this order (the prompt names them "image 1", "image 2", ...). */
  readonly images: ReadonlyArray<ReferenceImage>
  /** How closely the result keeps the references' features ("high": faces and clothes hold). */
  readonly inputFidelity?: "high" | "low" | undefined
}

/**
 * A `multipart/form-data` body as OpenAI's own client writes it: plain fields, then one `image[]` part per
 * reference, each with a file name and its image content type (a part sent as octet-stream is refused).
 */
export const multipart = (fields: ReadonlyArray<readonly [string, string]>, images: ReadonlyArray<ReferenceImage>, boundary: string): Uint8Array => {
  const chunks: Array<Buffer> = []
  const quote = (s: string) => s.replace(/["\r\n]/g, "_")
  for (const [name, value] of fields)
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`, "utf8"))
  for (const image of images) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image[]"; filename="${quote(image.fileName)}"\r\nContent-Type: ${image.contentType}\r\n\r\n`, "utf8"),
      Buffer.from(image.bytes),
      Buffer.from("\r\n", "utf8")
    )
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, "utf8"))
  return new Uint8Array(Buffer.concat(chunks))
}

/** One paid image call (generation or edit), or the answer an earlier run of the node received and kept. */
const paidImage = (
  settings: OpenAISettings,
  req: GenerateRequest,
  follow: Follow,
  endpoint: "generations" | "edits",
  body: { readonly json: unknown } | { readonly bytes: Uint8Array; readonly contentType: string }
) =>
  Effect.gen(function*() {
    const kept = yield* follow.journal.read
    const earlier = kept.answer("answer")
    if (earlier !== undefined) {
      const requestId = typeof kept.notes.imageRequestId === "string" ? kept.notes.imageRequestId : undefined
      return yield* decodeAnswer(settings, req, earlier, requestId, true)
    }
    const http = yield* Http
    const keep = (answer: Answer) =>
      follow.journal.keep("answer", answer.body, "json", { imageRequestId: answer.headers["x-request-id"] }).pipe(Effect.ignore)
    const res = yield* finishPaid(
      http.request(provider, {
        method: "POST",
        url: `${settings.baseUrl.replace(/\/+$/, "")}/images/${endpoint}`,
        headers: { authorization: `Bearer ${settings.apiKey}`, ...("bytes" in body ? { "content-type": body.contentType } : {}) },
        ...("json" in body ? { json: body.json } : { body: body.bytes }),
        answerTimeoutMs: settings.timeoutMs,
        keep
      }),
      follow.onWaiting?.("image") ?? Effect.void
    ).pipe(Effect.mapError((f) => fromHttp("images", f)))
    const refusal = refusalOf(res)
    if (refusal !== undefined) {
      const error = fromRefusal("images", { ...refusal, said: redact(refusal.said, [settings.apiKey]) })
      if (error.reason !== "moderation") return yield* error
      const excerpt = req.prompt.length > 120 ? `${req.prompt.slice(0, 120)}…` : req.prompt
      return yield* new OpenAIError({ ...error, said: `${error.said} (the prompt: "${excerpt}")` })
    }
    return yield* decodeAnswer(settings, req, res.body, res.headers["x-request-id"], false)
  })

/**
 * `POST {baseUrl}/images/generations` for one image, or the answer an earlier run of the node received and
 * kept. Never retries by itself: a refusal goes back to the scheduler (`Retryable.ts`), a damaged paid answer
 * to the person.
 */
export const generate = Effect.fn("OpenAI.Images.generate")(function*(settings: OpenAISettings, req: GenerateRequest, follow: Follow) {
  return yield* paidImage(settings, req, follow, "generations", {
    json: { model: req.model, prompt: req.prompt, size: req.size, quality: req.quality, n: 1, output_format: req.outputFormat }
  })
})

/**
 * `POST {baseUrl}/images/edits` with the references as `image[]` parts (multipart): one image made from the
 * prompt that keeps the references' characters. Synchronous and billed like a generation (the references count
 * as input image tokens, in `usage`); kept and resumed the same way.
 */
export const edit = Effect.fn("OpenAI.Images.edit")(function*(settings: OpenAISettings, req: EditRequest, follow: Follow) {
  const boundary = `storyshot-${req.images.length}-${Date.now().toString(36)}`
  const fields: Array<readonly [string, string]> = [
    ["model", req.model],
    ["prompt", req.prompt],
    ["size", req.size],
    ["quality", req.quality],
    ["n", "1"],
    ["output_format", req.outputFormat],
    ...(req.inputFidelity === undefined ? [] : [["input_fidelity", req.inputFidelity] as const])
  ]
  return yield* paidImage(settings, req, follow, "edits", {
    bytes: multipart(fields, req.images, boundary),
    contentType: `multipart/form-data; boundary=${boundary}`
  })
})
