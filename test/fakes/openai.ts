/**
 * A fake OpenAI Images API (`POST /v1/images/generations`, and `POST /v1/images/edits` with reference images
 * as repeated `image[]` multipart parts, issue 16) that speaks the real protocol: Bearer key check,
 * parameter validation with OpenAI's error shape, `b64_json` images that really decode (PNG from our encoder;
 * JPEG/WebP converted by the bundled ffmpeg), token usage, and `x-request-id`. Also `POST /v1/audio/speech`
 * (narration: MP3 bytes as long as the text, no usage; `emptyImage`/`notAnImage` give an empty or a non-audio 200).
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import ffmpeg from "@ffmpeg-installer/ffmpeg"
import { mediaFor } from "./fal.ts"
import { seededPng } from "./png.ts"
import { hasBearer, startServer, type CommonFault, type FakeRequest, type FakeServer, type Reply } from "./server.ts"

export type OpenAIFault =
  | CommonFault
  /** 400 `moderation_blocked`, as OpenAI answers a prompt its safety system rejects. */
  | { readonly kind: "moderation" }
  /** A 200 whose image is empty. */
  | { readonly kind: "emptyImage" }
  /** A 200 whose `b64_json` decodes to bytes that are no image. */
  | { readonly kind: "notAnImage" }

export interface OpenAIFakeOptions {
  readonly apiKey?: string
  readonly models?: ReadonlyArray<string>
}

export interface OpenAIFake extends FakeServer<OpenAIFault> {
  /** What to configure as OPENAI_BASE_URL: `<url>/v1`. */
  readonly baseUrl: string
  readonly apiKey: string
}

export const defaultKey = "sk-fake-openai-0123456789abcdef"

const sizes = ["1024x1024", "1536x1024", "1024x1536", "auto"]
const qualities = ["low", "medium", "high", "auto"]
const formats = ["png", "jpeg", "webp"]

// Output tokens per image as OpenAI documents them for GPT image models (quality × size).
const outputTokens: Record<string, Record<string, number>> = {
  low: { "1024x1024": 272, "1536x1024": 400, "1024x1536": 408 },
  medium: { "1024x1024": 1056, "1536x1024": 1568, "1024x1536": 1584 },
  high: { "1024x1024": 4160, "1536x1024": 6208, "1024x1536": 6240 }
}

const openaiError = (status: number, message: string, type = "invalid_request_error", code: string | null = null, param: string | null = null) => ({
  error: { message, type, param, code: code ?? (status === 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" : null) }
})

const invalid = (param: string, value: unknown, allowed: ReadonlyArray<string>): Reply => ({
  status: 400,
  json: openaiError(400, `Invalid value: '${String(value)}'. Supported values are: ${allowed.map((a) => `'${a}'`).join(", ")}.`, "invalid_request_error", "invalid_value", param)
})

const convert = (png: Uint8Array, format: "jpeg" | "webp"): Promise<Uint8Array> =>
  new Promise((resolve, reject) => {
    const codec = format === "jpeg" ? ["-c:v", "mjpeg", "-f", "image2pipe"] : ["-c:v", "libwebp", "-f", "webp"]
    const child = spawn(ffmpeg.path, ["-hide_banner", "-loglevel", "error", "-f", "png_pipe", "-i", "pipe:0", ...codec, "pipe:1"], {
      stdio: ["pipe", "pipe", "pipe"]
    })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (c: Buffer) => out.push(c))
    child.stderr.on("data", (c: Buffer) => err.push(c))
    child.on("error", reject)
    child.on("close", (code) =>
      code === 0 ? resolve(new Uint8Array(Buffer.concat(out))) : reject(new Error(`ffmpeg exited ${code}: ${Buffer.concat(err).toString()}`))
    )
    child.stdin.end(Buffer.from(png))
  })

/** One part of a `multipart/form-data` body. */
export interface Part {
  readonly name: string
  readonly fileName: string | undefined
  readonly contentType: string | undefined
  readonly data: Buffer
}

/** The parts of a multipart request (as `/images/edits` receives it); undefined when it is not multipart. */
export const parseMultipart = (req: Pick<FakeRequest, "headers" | "body">): ReadonlyArray<Part> | undefined => {
  const type = String(req.headers["content-type"] ?? "")
  const boundary = /^multipart\/form-data;\s*boundary=("?)([^";]+)\1/i.exec(type)?.[2]
  if (boundary === undefined) return undefined
  const body = Buffer.from(req.body)
  const delimiter = Buffer.from(`--${boundary}`)
  const parts: Array<Part> = []
  let at = body.indexOf(delimiter)
  while (at >= 0) {
    const start = at + delimiter.length
    if (body.subarray(start, start + 2).toString() === "--") break
    const next = body.indexOf(delimiter, start)
    if (next < 0) return undefined
    const raw = body.subarray(start + 2, next - 2) // after CRLF, before CRLF
    const split = raw.indexOf("\r\n\r\n")
    if (split < 0) return undefined
    const head = raw.subarray(0, split).toString("utf8")
    const name = /name="([^"]*)"/.exec(head)?.[1]
    if (name === undefined) return undefined
    parts.push({
      name,
      fileName: /filename="([^"]*)"/.exec(head)?.[1],
      contentType: /content-type:\s*([^\r\n]+)/i.exec(head)?.[1]?.trim(),
      data: raw.subarray(split + 4)
    })
    at = next
  }
  return parts
}

/** The edits requests a fake received, each with its fields and its reference images (the `image[]` parts). */
export const editsOf = (requests: ReadonlyArray<FakeRequest>) =>
  requests
    .filter((r) => r.path.startsWith("/v1/images/edits"))
    .map((r) => {
      const parts = parseMultipart(r) ?? []
      const fields = Object.fromEntries(parts.filter((p) => p.fileName === undefined).map((p) => [p.name, p.data.toString("utf8")]))
      return { fields, images: parts.filter((p) => p.name === "image[]") }
    })

export const start = async (opts: OpenAIFakeOptions = {}): Promise<OpenAIFake> => {
  const apiKey = opts.apiKey ?? defaultKey
  const models = opts.models ?? ["gpt-image-1", "gpt-image-1.5", "gpt-image-1-mini"]
  const images = new Map<string, Uint8Array>()
  let counter = 0

  const imageFor = async (prompt: string, size: string, format: string): Promise<Uint8Array> => {
    const key = `${size}|${format}|${prompt}`
    const cached = images.get(key)
    if (cached) return cached
    const [w, h] = (size === "auto" ? "1024x1024" : size).split("x").map(Number) as [number, number]
    const png = seededPng(prompt, w, h)
    const bytes = format === "png" ? png : await convert(png, format as "jpeg" | "webp")
    images.set(key, bytes)
    return bytes
  }

  const handle = async (req: FakeRequest, fault: OpenAIFault | undefined): Promise<Reply> => {
    const requestId = `req_${(++counter).toString(16).padStart(24, "0")}`
    const headers = { "x-request-id": requestId }
    const speech = req.path.startsWith("/v1/audio/speech") && req.method === "POST"
    const isEdit = req.path.startsWith("/v1/images/edits")
    if (!speech && ((!req.path.startsWith("/v1/images/generations") && !isEdit) || req.method !== "POST")) {
      return { status: 404, headers, json: openaiError(404, `Invalid URL (${req.method} ${req.path})`) }
    }
    if (!hasBearer(req, apiKey)) {
      const given = String(req.headers["authorization"] ?? "").replace(/^Bearer\s+/, "")
      const masked = given.length > 8 ? `${given.slice(0, 3)}*********${given.slice(-4)}` : "***"
      return {
        status: 401,
        headers,
        json: { error: { message: `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: "invalid_request_error", param: null, code: "invalid_api_key" } }
      }
    }
    let body = req.json as Record<string, unknown> | undefined
    let references: ReadonlyArray<Part> = []
    if (isEdit) {
      // /images/edits takes multipart: plain fields, and the references as repeated `image[]` file parts.
      const parts = parseMultipart(req)
      if (parts === undefined)
        return { status: 400, headers, json: openaiError(400, "Invalid Content-Type header, expected multipart/form-data.") }
      body = Object.fromEntries(parts.filter((p) => p.fileName === undefined).map((p) => [p.name, p.data.toString("utf8")]))
      if (body.n !== undefined) body.n = Number(body.n)
      references = parts.filter((p) => p.name === "image[]" || p.name === "image")
      if (references.length === 0)
        return { status: 400, headers, json: openaiError(400, "Missing required parameter: 'image'.", "invalid_request_error", "missing_required_parameter", "image") }
      if (references.length > 16) return { status: 400, headers, json: openaiError(400, "Too many images: at most 16.", "invalid_request_error", "invalid_value", "image") }
      for (const ref of references)
        if (ref.fileName === undefined || !/^image\/(png|jpeg|webp)$/.test(ref.contentType ?? ""))
          return {
            status: 400,
            headers,
            json: openaiError(400, `Invalid file '${ref.fileName ?? "image"}': unsupported mimetype ('${ref.contentType ?? "application/octet-stream"}'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.`, "invalid_request_error", "unsupported_file_mimetype", "image")
          }
      const fidelity = body.input_fidelity
      if (fidelity !== undefined && fidelity !== "low" && fidelity !== "high") return { ...invalid("input_fidelity", fidelity, ["low", "high"]), headers }
      if (fidelity !== undefined && body.model === "gpt-image-1-mini")
        return { status: 400, headers, json: openaiError(400, "input_fidelity is not supported for gpt-image-1-mini.", "invalid_request_error", "unsupported_parameter", "input_fidelity") }
    }
    if (typeof body !== "object" || body === null) {
      return { status: 400, headers, json: openaiError(400, "We could not parse the JSON body of your request.") }
    }
    if (speech) {
      const { model, input, voice } = body
      if (typeof input !== "string" || input.trim() === "") return { status: 400, headers, json: openaiError(400, "Missing required parameter: 'input'.", "invalid_request_error", "missing_required_parameter", "input") }
      if (input.length > 4096) return { status: 400, headers, json: openaiError(400, "String should have at most 4096 characters", "invalid_request_error", "string_too_long", "input") }
      if (typeof model !== "string" || typeof voice !== "string") return { status: 400, headers, json: openaiError(400, "model and voice are required", "invalid_request_error", "missing_required_parameter", "model") }
      if (fault?.kind === "moderation") return { status: 400, headers, json: openaiError(400, "Your request was rejected as a result of our safety system.", "invalid_request_error", "moderation_blocked") }
      const audio = fault?.kind === "emptyImage" ? new Uint8Array() : fault?.kind === "notAnImage" ? new TextEncoder().encode("<html>not audio</html>") : await mediaFor(`openai/${model}`, { text: input, voice })
      return { status: 200, headers: { ...headers, "content-type": "audio/mpeg" }, body: audio }
    }
    const { model, prompt, size = "auto", quality = "auto", n = 1, output_format: format = "png" } = body
    if (typeof prompt !== "string" || prompt.trim() === "") {
      return { status: 400, headers, json: openaiError(400, "Missing required parameter: 'prompt'.", "invalid_request_error", "missing_required_parameter", "prompt") }
    }
    if (typeof model !== "string" || !models.includes(model)) return { ...invalid("model", model, models), headers }
    if (!sizes.includes(String(size))) return { ...invalid("size", size, sizes), headers }
    if (!qualities.includes(String(quality))) return { ...invalid("quality", quality, qualities), headers }
    if (!formats.includes(String(format))) return { ...invalid("output_format", format, formats), headers }
    if (n !== 1) return { status: 400, headers, json: openaiError(400, "This fake only makes n=1 images.", "invalid_request_error", "invalid_value", "n") }

    if (fault?.kind === "moderation") {
      return {
        status: 400,
        headers,
        json: openaiError(400, "Your request was rejected as a result of our safety system. Your request may contain content that is not allowed by our safety system.", "image_generation_user_error", "moderation_blocked")
      }
    }

    const image = fault?.kind === "emptyImage"
      ? new Uint8Array()
      : fault?.kind === "notAnImage"
      ? new TextEncoder().encode("<html>not an image</html>")
      // An edit's picture follows its references too: a new sheet gives a new image.
      : await imageFor(references.length === 0 ? prompt : `${prompt}|${references.map((r) => createHash("sha256").update(r.data).digest("hex")).join(",")}`, String(size), String(format))
    const q = quality === "auto" ? "medium" : String(quality)
    const s = size === "auto" ? "1024x1024" : String(size)
    const textTokens = Math.max(1, Math.ceil(prompt.length / 4))
    const out = outputTokens[q]![s]!
    // Each reference is billed as input image tokens, more of them at high input fidelity.
    const imageTokens = references.length * (body.input_fidelity === "high" ? 4160 : 1056)
    return {
      status: 200,
      headers,
      json: {
        created: 1_760_000_000 + counter,
        background: "opaque",
        output_format: format,
        quality: q,
        size: s,
        data: [{ b64_json: Buffer.from(image).toString("base64") }],
        usage: {
          input_tokens: textTokens + imageTokens,
          input_tokens_details: { text_tokens: textTokens, image_tokens: imageTokens },
          output_tokens: out,
          total_tokens: textTokens + imageTokens + out
        }
      }
    }
  }

  const server = await startServer<OpenAIFault>({
    handle,
    errorBody: (status, message) => openaiError(status, message, status >= 500 ? "server_error" : status === 429 ? "requests" : "invalid_request_error")
  })
  return { ...server, baseUrl: `${server.url}/v1`, apiKey }
}
