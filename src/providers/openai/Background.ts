/**
 * OpenAI images through the Responses API in background mode: the one OpenAI image route with a server-side
 * id (`resp_…`) that can be recorded before the image is made and collected after a crash.
 *
 *   POST {base}/responses  {model, input, tools: [{type: "image_generation", model, size, quality,
 *                           output_format}], tool_choice: {type: "image_generation"}, background: true, store: true}
 *     → {id: "resp_…", status: "queued", ...}
 *   GET  {base}/responses/{id}          → status queued | in_progress | completed | failed | cancelled | incomplete
 *   POST {base}/responses/{id}/cancel   (only background responses can be cancelled)
 *
 * Evidence and surprises (research notes §7, openai-node v7.5.0):
 * - OpenAI's background guide shows text examples only; it neither lists nor excludes the image tool. This is
 *   an opt-in route (`providers: { image: "openai-background" }`), not the default.
 * - `store: true` keeps the response past the ~10-minute polling window (without it, it is deleted after about
 *   10 minutes): a build killed mid-image re-attaches while OpenAI keeps it; a 404 then means it is gone, and
 *   only then is a new one bought (reported as repaid).
 * - `status` spells `cancelled` with two l's (Replicate's `canceled` has one).
 * - The top-level `model` is a mainline model (it decides to call the tool); the image model goes in the tool.
 *   `usage` reports only the mainline model's tokens: the image part is computed from the tool's size and
 *   quality (the image model's output-token price), the sum marked "table".
 * - The image is base64 in the completed response's `image_generation_call` item (`result`).
 */
import { Effect, Option, Schema } from "effect"
import * as Cost from "../../engine/Cost.ts"
import { isOk, refusalOf } from "../http/Answer.ts"
import { Http, type Answer } from "../http/Client.ts"
import { redact } from "../http/Redact.ts"
import * as Job from "../Job.ts"
import { finishPaid, type Follow } from "../Keep.ts"
import * as Reads from "../Reads.ts"
import { sniff, type ImageQuality, type ImageSize } from "./Images.ts"
import { fromHttp, fromRefusal, OpenAIError } from "./OpenAIError.ts"
import { priceOf, textPrices } from "./prices.ts"

export const provider = "openai"

export const defaultMainlineModel = "gpt-5-mini"

export interface BackgroundSettings {
  readonly apiKey: string
  readonly baseUrl: string
  readonly reads: Reads.ReadPolicy
  readonly poll: { readonly initialMs: number; readonly maxMs: number }
  /** The create call answers at once (it only queues the work). */
  readonly submitTimeoutMs: number
  readonly readTimeoutMs: number
}

export const defaultSettings = (apiKey: string, baseUrl: string): BackgroundSettings & { readonly model: string } => ({
  apiKey,
  baseUrl,
  reads: Reads.defaultPolicy,
  poll: { initialMs: 1_000, maxMs: 5_000 },
  submitTimeoutMs: 30_000,
  readTimeoutMs: 30_000,
  model: defaultMainlineModel
})

export interface BackgroundRequest {
  /** The mainline model that calls the tool. */
  readonly model: string
  readonly imageModel: string
  readonly prompt: string
  readonly size: ImageSize
  readonly quality: ImageQuality
}

export interface BackgroundImage {
  readonly bytes: Uint8Array
  readonly ext: "png" | "jpeg" | "webp"
  readonly responseId: string
  readonly cost: Cost.Cost
  readonly resumed: boolean
  readonly queueMs: number
  readonly repaid?: string | undefined
}

export const Handle = Schema.Struct({ responseId: Schema.String, submittedAt: Schema.Number })
export type Handle = typeof Handle.Type

const ResponseObject = Schema.Struct({
  id: Schema.String,
  status: Schema.String,
  error: Schema.optional(Schema.NullOr(Schema.Struct({ code: Schema.optional(Schema.NullOr(Schema.String)), message: Schema.optional(Schema.NullOr(Schema.String)) }))),
  incomplete_details: Schema.optional(Schema.NullOr(Schema.Struct({ reason: Schema.optional(Schema.NullOr(Schema.String)) }))),
  output: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({
    type: Schema.String,
    status: Schema.optional(Schema.NullOr(Schema.String)),
    result: Schema.optional(Schema.NullOr(Schema.String))
  })))),
  usage: Schema.optional(Schema.NullOr(Schema.Struct({ input_tokens: Schema.Number, output_tokens: Schema.Number })))
})
type ResponseObject = typeof ResponseObject.Type

const parse = (bytes: Uint8Array): ResponseObject | undefined => {
  try {
    return Option.getOrUndefined(Schema.decodeUnknownOption(ResponseObject)(JSON.parse(Buffer.from(bytes).toString("utf8")), { onExcessProperty: "ignore" }))
  } catch {
    return undefined
  }
}

/** Image output tokens by quality and shape (OpenAI's image guide, as `image/openai` estimates them). */
const imageTokens: Record<string, { square: number; wide: number }> = {
  low: { square: 272, wide: 408 },
  medium: { square: 1056, wide: 1584 },
  high: { square: 4160, wide: 6240 },
  auto: { square: 1056, wide: 1584 }
}

/** The image part from the table, plus the mainline model's tokens: what OpenAI reported, at its price. */
export const costOf = (req: BackgroundRequest, usage: { input: number; output: number } | undefined): Cost.Cost => {
  const image = priceOf(req.imageModel)
  const text = textPrices[req.model] ?? textPrices[req.model.replace(/-\d{4}-\d{2}-\d{2}$/, "")]
  if (image === undefined || text === undefined || usage === undefined) return Cost.unknown
  const tokens = imageTokens[req.quality]![req.size === "1024x1024" ? "square" : "wide"]
  return Cost.fromTable(tokens * image.imageOutput + usage.input * text.input + usage.output * text.output)
}

/** A dry run's figure: a few hundred mainline tokens around the image. */
export const estimate = (req: BackgroundRequest): Cost.Cost => costOf(req, { input: 400, output: 150 })

const auth = (settings: BackgroundSettings) => ({ authorization: `Bearer ${settings.apiKey}` })
const base = (settings: BackgroundSettings) => settings.baseUrl.replace(/\/+$/, "")
const clean = (settings: BackgroundSettings, e: OpenAIError) => new OpenAIError({ ...e, said: redact(e.said, [settings.apiKey]) })

const failedWith = (r: ResponseObject): OpenAIError => {
  const code = r.error?.code ?? (r.status === "incomplete" ? r.incomplete_details?.reason ?? undefined : undefined) ?? undefined
  const said = r.error?.message ?? (r.status === "cancelled" ? "the response was cancelled" : r.status === "incomplete" ? `the response is incomplete (${r.incomplete_details?.reason ?? "no reason given"})` : `the response ended ${r.status}`)
  return new OpenAIError({
    call: "response",
    reason: code === "moderation_blocked" || /safety system|moderation/i.test(said) ? "moderation" : "model-failed",
    said,
    requestId: r.id,
    ...(code === undefined ? {} : { code })
  })
}

const spec = (settings: BackgroundSettings, req: BackgroundRequest, follow: Follow): Job.JobSpec<Handle, OpenAIError> => ({
  what: "image",
  handleOf: (notes) => Option.getOrUndefined(Schema.decodeUnknownOption(Handle)(notes)),
  handleFromSubmit: (bytes) => {
    const r = parse(bytes)
    return r === undefined ? undefined : { responseId: r.id, submittedAt: Date.now() }
  },
  garbledSubmit: (bytes) => new OpenAIError({ call: "response", reason: "garbled", said: `an earlier run's create answer is garbled (${bytes.length} bytes)` }),
  submit: Effect.gen(function*() {
    const http = yield* Http
    const submittedAt = Date.now()
    // The create answer holds the id: it is kept, and the id noted, in one write before anything reads it.
    const keep = (answer: Answer) => {
      const r = parse(answer.body)
      return follow.journal.keep("submit", answer.body, "json", r === undefined ? { submittedAt } : { responseId: r.id, submittedAt }).pipe(Effect.ignore)
    }
    const res = yield* finishPaid(
      http.request(provider, {
        method: "POST",
        url: `${base(settings)}/responses`,
        headers: auth(settings),
        json: {
          model: req.model,
          input: `Generate this image, exactly as described: ${req.prompt}`,
          tools: [{ type: "image_generation", model: req.imageModel, size: req.size, quality: req.quality, output_format: "png" }],
          tool_choice: { type: "image_generation" },
          background: true,
          store: true
        },
        answerTimeoutMs: settings.submitTimeoutMs,
        keep
      }),
      follow.onWaiting?.("image") ?? Effect.void
    ).pipe(Effect.mapError((f) => fromHttp("response", f)))
    const refusal = refusalOf(res)
    if (refusal !== undefined) return yield* clean(settings, fromRefusal("response", refusal))
    const r = parse(res.body)
    if (r === undefined) return yield* new OpenAIError({ call: "response", reason: "garbled", said: `not a response object (${res.body.length} bytes)`, status: res.status })
    return { responseId: r.id, submittedAt }
  }),
  poll: (handle) =>
    Reads.retrying(
      Effect.gen(function*() {
        const http = yield* Http
        const res = yield* http.request(provider, {
          method: "GET",
          url: `${base(settings)}/responses/${encodeURIComponent(handle.responseId)}`,
          headers: auth(settings),
          answerTimeoutMs: settings.readTimeoutMs
        }).pipe(Effect.mapError((f) => fromHttp("response-status", f)))
        if (res.status === 404) {
          return yield* new OpenAIError({
            call: "response-status",
            reason: "gone",
            status: 404,
            said: `OpenAI no longer holds ${handle.responseId}`,
            requestId: handle.responseId
          })
        }
        const refusal = refusalOf(res)
        if (refusal !== undefined) return yield* clean(settings, fromRefusal("response-status", refusal))
        const r = parse(res.body)
        if (r === undefined) return yield* new OpenAIError({ call: "response-status", reason: "garbled", said: `not a response object (${res.body.length} bytes)`, status: res.status })
        const state: Job.JobState = r.status === "queued" ? "queued" : r.status === "in_progress" ? "working" : r.status === "completed" ? "done" : "failed"
        return { state, bytes: res.body, ...(state === "failed" ? { error: failedWith(r) } : {}) } satisfies Job.Polled<OpenAIError>
      }),
      settings.reads,
      (e) => e.worthRetrying
    ),
  cancel: (handle) =>
    Effect.gen(function*() {
      const http = yield* Http
      const res = yield* http.request(provider, {
        method: "POST",
        url: `${base(settings)}/responses/${encodeURIComponent(handle.responseId)}/cancel`,
        headers: auth(settings),
        answerTimeoutMs: Math.min(settings.readTimeoutMs, 5_000)
      })
      return isOk(res)
    }).pipe(Effect.orElseSucceed(() => false)),
  isGone: (e) => e.reason === "gone",
  goneWhy: (handle) => `OpenAI no longer held background response ${handle.responseId}`,
  interval: settings.poll
})

/** One image through a background response, or the one an earlier run of the node started. */
export const generate = Effect.fn("OpenAI.Background.generate")(function*(settings: BackgroundSettings, req: BackgroundRequest, follow: Follow) {
  const done = yield* Job.run(spec(settings, req, follow), follow)
  const r = parse(done.bytes)
  const id = done.handle.responseId
  const lost = (said: string) => new OpenAIError({ call: "response", reason: "not-an-image", said, status: 200, requestId: id })
  if (r === undefined) return yield* new OpenAIError({ call: "response", reason: "garbled", said: `the completed response is garbled (${done.bytes.length} bytes)`, requestId: id })
  const call = (r.output ?? []).find((o) => o.type === "image_generation_call")
  if (call === undefined || typeof call.result !== "string" || call.result.length === 0) return yield* lost(`${id} completed without an image (no image_generation_call result)`)
  const bytes = new Uint8Array(Buffer.from(call.result, "base64"))
  const ext = sniff(bytes)
  if (ext === undefined) return yield* lost(`${id}'s image is no PNG, JPEG or WebP (${bytes.length} bytes)`)
  const usage = r.usage ? { input: r.usage.input_tokens, output: r.usage.output_tokens } : undefined
  return {
    bytes,
    ext,
    responseId: id,
    cost: costOf(req, usage),
    resumed: done.resumed,
    queueMs: done.queueMs,
    ...(done.repaid === undefined ? {} : { repaid: done.repaid })
  } satisfies BackgroundImage
})

