/**
 * OpenAI Images (GPT image models): one prompt in, one still image out.
 *
 * Surprises:
 * - GPT image models answer with base64 (`b64_json`), never URLs, and report *tokens*, not dollars: the
 *   cost comes from `prices.ts`. An older model that answers with a URL is downloaded instead.
 * - A moderation block is HTTP 400 with `code: "moderation_blocked"`; retrying the same prompt can only fail
 *   again, so it is permanent and the message tells the person to edit the words.
 * - 30–120 s per image is normal, so the time-out is longer than the HTTP default.
 * - The 401 message quotes part of the key; we still pass every message through `redact`.
 */
import { Effect, ParseResult, Schema } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { ProviderError } from "../ProviderError.ts"
import { Http, classify, download, redact } from "../Http.ts"
import { priceOf } from "./prices.ts"

export const provider = "openai"

/** gpt-image-1 was retired in Oct 2026; a configured "gpt-image-1" is still sent as written. */
export const defaultImageModel = "gpt-image-1.5"

export const defaultTimeoutMs = 300_000

export type ImageSize = "1024x1024" | "1536x1024" | "1024x1536" | "auto"
export type ImageQuality = "low" | "medium" | "high" | "auto"
export type ImageFormat = "png" | "jpeg" | "webp"

export interface GenerateRequest {
  readonly baseUrl: string
  readonly apiKey: string
  readonly model: string
  readonly prompt: string
  readonly size: ImageSize
  readonly quality: ImageQuality
  readonly outputFormat: ImageFormat
  readonly timeoutMs?: number
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

const explain = (error: ProviderError, req: GenerateRequest): ProviderError => {
  const said = redact(error.message, [req.apiKey])
  if (error.code === "moderation_blocked" || (error.status === 400 && /moderation|safety system/i.test(said))) {
    const excerpt = req.prompt.length > 120 ? `${req.prompt.slice(0, 120)}…` : req.prompt
    return new ProviderError({
      ...error,
      provider,
      message: `OpenAI's moderation blocked the image prompt "${excerpt}" (${said}). Edit the sentence, or the prompt ` +
        `for this shot, so it no longer trips the safety system, then build again; retrying the same words fails the same way.`,
      transient: false
    })
  }
  if (error.status === 401) {
    return new ProviderError({ ...error, message: `${said} (check OPENAI_KEY / OPENAI_API_KEY in .env)` })
  }
  return said === error.message ? error : new ProviderError({ ...error, message: said })
}

const fail = (message: string, requestId: string | undefined, transient = false) =>
  new ProviderError({ provider, message, transient, ...(requestId === undefined ? {} : { requestId }) })

/** `POST {baseUrl}/images/generations` for one image. Never retries: transient errors go to the scheduler. */
export const generate = Effect.fn("OpenAI.Images.generate")(function*(req: GenerateRequest) {
  const http = yield* Http
  const url = `${req.baseUrl.replace(/\/+$/, "")}/images/generations`
  const res = yield* http.request(provider, {
    method: "POST",
    url,
    headers: { authorization: `Bearer ${req.apiKey}` },
    json: { model: req.model, prompt: req.prompt, size: req.size, quality: req.quality, n: 1, output_format: req.outputFormat },
    timeoutMs: req.timeoutMs ?? defaultTimeoutMs
  })
  const error = classify(provider, res)
  if (error !== undefined) return yield* explain(error, req)
  const requestId = res.headers["x-request-id"]

  const body = yield* res.json()
  const answer = yield* Schema.decodeUnknown(Answer)(body).pipe(
    Effect.mapError((e) =>
      fail(`unexpected answer from OpenAI Images: ${ParseResult.TreeFormatter.formatErrorSync(e)}`, requestId)
    )
  )
  const first = answer.data[0]!
  let bytes: Uint8Array
  if (typeof first.b64_json === "string") {
    bytes = new Uint8Array(Buffer.from(first.b64_json, "base64"))
  } else if (typeof first.url === "string" && first.url.length > 0) {
    bytes = yield* download(provider, first.url, { allowedBases: [req.baseUrl], contentTypePrefix: "image/" })
  } else {
    return yield* fail("OpenAI Images answered without an image (no b64_json or url in data[0])", requestId)
  }
  // The image is paid for either way; a broken one is not worth an automatic second payment.
  const ext = sniff(bytes)
  if (bytes.length === 0 || ext === undefined) {
    return yield* fail(
      `OpenAI Images returned ${bytes.length === 0 ? "an empty image" : "bytes that are not a PNG, JPEG or WebP image"} (request ${requestId ?? "without id"})`,
      requestId
    )
  }
  const usage = usageOf(answer.usage)
  const result: GeneratedImage = { bytes, ext, usage, requestId, cost: costOf(req.model, usage) }
  return result
})
