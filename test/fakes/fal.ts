/**
 * A fake fal.ai on 127.0.0.1: the queue API and the storage API on one server, so that both
 * `FAL_BASE_URL` and `FAL_STORAGE_URL` can point at `fake.baseUrl`.
 *
 * It speaks the protocol the way fal does, including the parts that surprise:
 * - status, response and cancel live under the first two path segments of the model id
 *   (`/fal-ai/kling-video/requests/{id}` for `fal-ai/kling-video/v1.6/standard/image-to-video`),
 *   so a client that builds URLs from the full model path gets 404s here as it would there;
 * - there is no FAILED: a failed request is COMPLETED with `error`, and its response URL answers 422;
 * - cancel answers 202 while pending and 400 once completed.
 *
 * Results point at real small media made with the bundled ffmpeg (a 1 s sine MP3, a 5 s 64x64 H.264
 * MP4), served from `/files/...` on the same server. Faults are injected per request with `inject`:
 * each injected fault is consumed by the next submit (for any model, or only for `model` when given).
 * The HTTP plumbing (request record, hang/429/5xx/malformed/truncated faults) is `./server.ts`'s.
 */
import ffmpegInstaller from "@ffmpeg-installer/ffmpeg"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import type { ServerResponse } from "node:http"
import * as path from "node:path"
import { seededPng } from "./png.ts"
import { startServer, type CommonFault, type FakeRequest as ReceivedRequest, type Reply } from "./server.ts"

export type { ReceivedRequest }

export type FalFault =
  /** submit answers 429 with `Retry-After: retryAfterSec` */
  | { readonly kind: "rate-limit"; readonly retryAfterSec: number }
  /** submit answers this 5xx status */
  | { readonly kind: "server-error"; readonly status: 500 | 502 | 503 }
  /** submit never answers (the client's time-out must fire) */
  | { readonly kind: "timeout" }
  /** submit answers 200 with a body that is not JSON */
  | { readonly kind: "malformed-json" }
  /** the request runs, then COMPLETES with an error; its response URL answers 422 `{detail:[{msg}]}` */
  | { readonly kind: "completed-with-error"; readonly message: string }
  /** the result file is announced with its full length but the connection closes half-way */
  | { readonly kind: "truncated-download" }
  /** the request is accepted, but its status URL answers 404 (the provider no longer holds it) */
  | { readonly kind: "gone" }
  /** the request's first `times` status polls answer 503 (a hiccup while waiting) */
  | { readonly kind: "flaky-status"; readonly times: number }
  /** an image request completes, but its safety checker flags the picture (`has_nsfw_concepts: [true]`, a black frame) */
  | { readonly kind: "nsfw" }
  /** submit answers 403 "User is locked. Reason: Exhausted balance." (fal's out-of-credit answer) */
  | { readonly kind: "out-of-credit" }
  /** the request's status stream sends `afterEvents` events (default 1), then its connection drops before COMPLETED */
  | { readonly kind: "stream-drops"; readonly afterEvents?: number }
  /** the request's status stream answers 200 and then never sends anything (no event, no keep-alive) */
  | { readonly kind: "stream-hangs" }

export interface FakeFalOptions {
  /** when set, a submit with another key is refused with fal's 401: a build another test left running,
   *  whose own fake has gone and whose port this fake now holds, cannot submit here */
  readonly apiKey?: string
  /** status polls answering IN_QUEUE before the request starts (queue_position counts down to 0) */
  readonly pollsInQueue?: number
  /** status polls answering IN_PROGRESS before it completes */
  readonly pollsInProgress?: number
  /** delay before every answer, in ms */
  readonly latencyMs?: number
  /** how long a request of this model works before it can complete, in ms from its submit (default 0:
   *  only the poll counts above decide); lets a benchmark give TTS and video realistic proportions */
  readonly workMs?: number | ((model: string) => number)
  /** Media that differ per request, as a real provider's do: narration lasting ~0.4 s a word (1–12 s) at a
   *  tone of its own, clips of a colour of their own. Default: the same small files for every request. */
  readonly varyMedia?: boolean
  /** Whether `status_url/stream` (server-sent events) is offered (default true, as fal does; false answers
   *  it 404, like a gateway that has no streams). */
  readonly stream?: boolean
  /** fal's keep-alive comment on an open status stream, every this many ms (default 15 s, as fal) */
  readonly streamPingMs?: number
}

export interface FakeRequest {
  readonly id: string
  readonly model: string
  readonly input: any
  readonly submittedAt: number
  polls: number
  state: "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED"
  cancelled: boolean
  /** The state the request was in when a `PUT cancel` reached it (fal bills one cancelled IN_PROGRESS). */
  cancelledWhile?: "IN_QUEUE" | "IN_PROGRESS" | undefined
  gone: boolean
  /** 503s already answered for a `flaky-status` fault */
  flaky: number
  readonly fault: FalFault | undefined
  /** status streams opened for it */
  streams: number
  /** Its output's bytes, made from the submit on (a provider's output exists once its work is done). */
  media?: Promise<Uint8Array> | undefined
}

export interface Upload {
  readonly id: string
  readonly contentType: string
  readonly fileName: string
  bytes: Uint8Array | undefined
}

export interface FakeFal {
  readonly baseUrl: string
  /** every HTTP request the fake received, in order */
  readonly received: ReadonlyArray<ReceivedRequest>
  readonly requests: ReadonlyMap<string, FakeRequest>
  /** Delays every HTTP answer by `ms(req)` (see `./server.ts`); on top of `latencyMs`. */
  readonly setLatency: (ms: (req: ReceivedRequest) => number) => void
  /** Drops every fault queued with `inject` and not taken yet. */
  readonly clearFaults: () => void
  readonly uploads: ReadonlyMap<string, Upload>
  /** number of submits per model id (including those answered with an injected fault) */
  submits(model?: string): number
  /** number of `PUT cancel` calls received (for any request) */
  readonly cancels: number
  /** `PUT cancel` calls that reached a request fal was already working on (IN_PROGRESS): its work is billed */
  readonly cancelsInProgress: number
  /** Consults `fault` on every HTTP request (any endpoint) until `clearFaults`; see `./server.ts` for the kinds. */
  injectAny(fault: (req: ReceivedRequest) => CommonFault | undefined): void
  /** the JSON inputs submitted for a model, in order */
  inputs(model: string): ReadonlyArray<any>
  inject(fault: FalFault, model?: string): void
  /** makes an existing request disappear: its status URL answers 404 from now on */
  forget(requestId: string): void
  setOptions(options: FakeFalOptions): void
  readonly media: { readonly mp3: Uint8Array; readonly mp4: Uint8Array }
  close(): Promise<void>
}

// The media are made once per process: ffmpeg runs in ~30 ms, but every test file starts a server.
let mediaPromise: Promise<{ mp3: Uint8Array; mp4: Uint8Array }> | undefined

const runFfmpeg = (args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn(ffmpegInstaller.path, [...args], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += String(chunk)))
    child.on("error", reject)
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${stderr}`))))
  })

export const makeMedia = (): Promise<{ mp3: Uint8Array; mp4: Uint8Array }> =>
  (mediaPromise ??= (async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "storyshot-fakefal-"))
    try {
      const mp3 = path.join(dir, "tone.mp3")
      const mp4 = path.join(dir, "clip.mp4")
      const quiet = ["-hide_banner", "-loglevel", "error", "-y"]
      await runFfmpeg([...quiet, "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "libmp3lame", "-b:a", "32k", mp3])
      await runFfmpeg([
        ...quiet, "-f", "lavfi", "-i", "color=c=navy:s=64x64:d=5:r=8",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", mp4
      ])
      return { mp3: new Uint8Array(await readFile(mp3)), mp4: new Uint8Array(await readFile(mp4)) }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })())

const hashOf = (text: string) => {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0
  return h
}

const varied = new Map<string, Promise<Uint8Array>>()

/** A request's own media (see `varyMedia`), made with ffmpeg once per distinct input. */
export const mediaFor = (model: string, input: any): Promise<Uint8Array> => {
  const video = isVideoModel(model)
  const text = String(video ? `${input?.prompt}|${input?.image_url}` : input?.text ?? input?.input ?? input?.prompt ?? "")
  // Another voice gives other sound of the same length (the tone changes, the duration does not).
  const h = hashOf(video ? text : `${text}|${JSON.stringify(input?.voice ?? input?.voice_setting ?? null)}`)
  const key = `${video ? "v" : "a"}:${h}:${video ? "" : text.split(/\s+/).length}`
  let made = varied.get(key)
  if (!made) {
    made = (async () => {
      const dir = await mkdtemp(path.join(tmpdir(), "storyshot-fakefal-"))
      try {
        const quiet = ["-hide_banner", "-loglevel", "error", "-y"]
        const out = path.join(dir, video ? "clip.mp4" : "speech.mp3")
        if (video) {
          const colour = (h & 0xffffff).toString(16).padStart(6, "0")
          await runFfmpeg([...quiet, "-f", "lavfi", "-i", `color=c=0x${colour}:s=64x64:d=5:r=8`, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", out])
        } else {
          const seconds = Math.min(12, Math.max(1, Math.round(text.split(/\s+/).filter(Boolean).length * 4) / 10))
          await runFfmpeg([...quiet, "-f", "lavfi", "-i", `sine=frequency=${300 + (h % 500)}:duration=${seconds}`, "-c:a", "libmp3lame", "-b:a", "32k", out])
        }
        return new Uint8Array(await readFile(out))
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })()
    varied.set(key, made)
  }
  return made
}

const isVideoModel = (model: string) => /video|i2v|t2v/.test(model)

/** Stills: OpenAI's models on fal, FLUX Kontext, Seedream, Nano Banana (not the image-to-video models). */
export const isImageModel = (model: string) => !isVideoModel(model) && /image|kontext|seedream|nano-banana/.test(model)

/** A fake still: 64x64, drawn from the prompt, the seed and the references, so a new seed is a new picture. */
const stillFor = (input: any): Uint8Array =>
  seededPng(`${input?.prompt}|${input?.seed ?? ""}|${JSON.stringify(input?.image_urls ?? input?.image_url ?? null)}`, 64, 64)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Faults that play out over a fal request's life, handed to the handler by the submit they were taken by. */
type LifeFault = Extract<FalFault, { kind: "completed-with-error" | "truncated-download" | "gone" | "flaky-status" | "nsfw" | "stream-drops" | "stream-hangs" }>

const isSubmit = (req: ReceivedRequest) =>
  req.method === "POST" && !req.path.startsWith("/storage/") && !req.path.split("?")[0]!.includes("/requests/")

export const startFakeFal = async (initial: FakeFalOptions = {}): Promise<FakeFal> => {
  const media = await makeMedia()
  let options: Required<Omit<FakeFalOptions, "apiKey">> & Pick<FakeFalOptions, "apiKey"> = {
    pollsInQueue: 2,
    pollsInProgress: 1,
    latencyMs: 0,
    workMs: 0,
    varyMedia: false,
    stream: true,
    streamPingMs: 15_000,
    ...initial
  }
  const requests = new Map<string, FakeRequest>()
  const uploads = new Map<string, Upload>()
  const submitCounts = new Map<string, number>()
  let cancels = 0
  let baseUrl = ""

  const json = (status: number, body: unknown, headers?: Record<string, string>): Reply =>
    headers === undefined ? { status, json: body } : { status, json: body, headers }

  const urlsFor = (ownerApp: string, id: string) => ({
    request_id: id,
    response_url: `${baseUrl}/${ownerApp}/requests/${id}`,
    status_url: `${baseUrl}/${ownerApp}/requests/${id}/status`,
    cancel_url: `${baseUrl}/${ownerApp}/requests/${id}/cancel`
  })

  const bytesOf = (request: FakeRequest): Promise<Uint8Array> => (request.media ??= makeBytes(request))
  const makeBytes = async (request: FakeRequest) =>
    isImageModel(request.model)
      ? stillFor(request.input)
      : options.varyMedia ? mediaFor(request.model, request.input) : isVideoModel(request.model) ? media.mp4 : media.mp3

  const outputFor = async (request: FakeRequest) => {
    if (isImageModel(request.model)) {
      const url = `${baseUrl}/files/${request.id}/output.png`
      const seeded = typeof request.input?.seed === "number"
      const flagged = request.fault?.kind === "nsfw"
      return {
        images: [{ url, content_type: "image/png", file_name: "output.png", file_size: stillFor(request.input).length, width: 64, height: 64 }],
        // Kontext and Seedream echo the seed they used; OpenAI's models take none.
        ...(seeded ? { seed: request.input.seed } : {}),
        ...(/kontext/.test(request.model) ? { has_nsfw_concepts: [flagged] } : flagged ? { has_nsfw_concepts: [true] } : {}),
        prompt: request.input?.prompt
      }
    }
    const video = isVideoModel(request.model)
    const url = `${baseUrl}/files/${request.id}/${video ? "output.mp4" : "output.mp3"}`
    const size = (await bytesOf(request)).length
    return video
      ? { video: { url, content_type: "video/mp4", file_name: "output.mp4", file_size: size }, seed: 42 }
      : { audio: { url, content_type: "audio/mpeg", file_name: "output.mp3", file_size: size } }
  }

  const workOf = (model: string) => (typeof options.workMs === "function" ? options.workMs(model) : options.workMs)

  const advance = (request: FakeRequest) => {
    const n = request.polls++
    if (request.cancelled) request.state = "COMPLETED"
    else if (n < options.pollsInQueue) request.state = "IN_QUEUE"
    else if (n < options.pollsInQueue + options.pollsInProgress) request.state = "IN_PROGRESS"
    else if (Date.now() - request.submittedAt < workOf(request.model)) request.state = "IN_PROGRESS"
    else request.state = "COMPLETED"
    return n
  }

  const failureOf = (request: FakeRequest): string | undefined =>
    request.cancelled
      ? "Request was cancelled"
      : request.fault?.kind === "completed-with-error"
      ? request.fault.message
      : undefined

  /** One status answer (a poll's body, or a stream's event): each one moves the request along. */
  const statusBody = (request: FakeRequest, ownerApp: string) => {
    const n = advance(request)
    const logs = request.state === "IN_QUEUE"
      ? []
      : [{ message: "Generating...", level: "INFO", timestamp: new Date().toISOString() }]
    if (request.state === "IN_QUEUE") return { status: "IN_QUEUE", queue_position: Math.max(0, options.pollsInQueue - 1 - n), ...urlsFor(ownerApp, request.id) }
    if (request.state === "IN_PROGRESS") return { status: "IN_PROGRESS", logs, ...urlsFor(ownerApp, request.id) }
    const failure = failureOf(request)
    return {
      status: "COMPLETED",
      logs,
      metrics: { inference_time: 1.5 },
      ...(failure ? { error: failure, error_type: request.cancelled ? "cancelled" : "validation_error" } : {}),
      ...urlsFor(ownerApp, request.id)
    }
  }

  /**
   * `status_url/stream`, as fal serves it: an event (`data: {status object}`) at once and whenever the request
   * moves on (queue position, logs), a `: ping` comment every 15 s, and the stream closed after COMPLETED.
   * The request's polls and its stream's events move it along alike (`pollsInQueue`, `pollsInProgress`), then
   * it completes when its work is done, which the stream tells at once.
   */
  const follow = (res: ServerResponse, request: FakeRequest, ownerApp: string) => {
    let closed = false
    const ping = setInterval(() => void (closed || res.write(": ping\n\n")), options.streamPingMs)
    res.on("close", () => {
      closed = true
      clearInterval(ping)
    })
    if (request.fault?.kind === "stream-hangs") return clearInterval(ping)
    let sent = 0
    const step = () => {
      if (closed) return
      // A request fal no longer holds: its stream ends without a word (a poll then answers 404).
      if (request.gone) return void res.end()
      // The first event goes at once; once its counted events are sent, the next one is COMPLETED, sent when the
      // work is done (a timer that fires a millisecond early must not send another IN_PROGRESS).
      const left = request.submittedAt + workOf(request.model) - Date.now()
      if (sent > 0 && request.polls >= options.pollsInQueue + options.pollsInProgress && left > 0) return void setTimeout(step, left + 1)
      res.write(`data: ${JSON.stringify(statusBody(request, ownerApp))}\n\n`)
      sent++
      if (request.fault?.kind === "stream-drops" && sent >= (request.fault.afterEvents ?? 1)) return void res.socket?.destroy()
      if (request.state === "COMPLETED") return void res.end()
      setTimeout(step, 10)
    }
    step()
  }

  const handle = async (req: ReceivedRequest, fault: LifeFault | undefined): Promise<Reply> => {
    if (options.latencyMs > 0) await sleep(options.latencyMs)
    const url = new URL(req.path, baseUrl)
    const segments = url.pathname.split("/").filter((s) => s.length > 0).map(decodeURIComponent)

    // storage: initiate, upload, and the files it serves
    if (req.method === "POST" && url.pathname === "/storage/upload/initiate") {
      const { content_type, file_name } = (req.json ?? {}) as { content_type?: unknown; file_name?: unknown }
      if (typeof content_type !== "string" || typeof file_name !== "string") {
        return json(422, { detail: [{ msg: "content_type and file_name are required" }] })
      }
      const id = randomUUID()
      uploads.set(id, { id, contentType: content_type, fileName: file_name, bytes: undefined })
      return json(200, {
        upload_url: `${baseUrl}/upload/${id}`,
        file_url: `${baseUrl}/files/uploads/${id}/${encodeURIComponent(file_name)}`
      })
    }
    if (req.method === "PUT" && segments[0] === "upload" && segments.length === 2) {
      const upload = uploads.get(segments[1]!)
      if (!upload) return json(404, { detail: "upload not found" })
      upload.bytes = req.body
      return { status: 200 }
    }
    if (req.method === "GET" && segments[0] === "files") {
      if (segments[1] === "uploads") {
        const upload = uploads.get(segments[2] ?? "")
        if (!upload?.bytes) return json(404, { detail: "file not found" })
        return { status: 200, headers: { "content-type": upload.contentType }, body: upload.bytes }
      }
      const request = requests.get(segments[1] ?? "")
      if (!request || request.state !== "COMPLETED") return json(404, { detail: "file not found" })
      const video = isVideoModel(request.model)
      const type = isImageModel(request.model) ? "image/png" : video ? "video/mp4" : "audio/mpeg"
      return { status: 200, headers: { "content-type": type }, body: await bytesOf(request) }
    }

    // queue: /{owner}/{app}/requests/{id}[/status|/cancel]
    if (segments[2] === "requests" && segments.length >= 4) {
      const ownerApp = `${segments[0]}/${segments[1]}`
      const request = requests.get(segments[3]!)
      const tail = segments.slice(4).join("/")
      if (!request || request.gone || request.model.split("/").slice(0, 2).join("/") !== ownerApp) {
        return json(404, { detail: "Request not found" })
      }
      if (req.method === "GET" && tail === "status") {
        if (request.fault?.kind === "flaky-status" && request.flaky < request.fault.times) {
          request.flaky++
          return json(503, { detail: "Service temporarily unavailable" })
        }
        const body = statusBody(request, ownerApp)
        return json(request.state === "COMPLETED" ? 200 : 202, body)
      }
      if (req.method === "GET" && tail === "status/stream") {
        if (!options.stream) return json(404, { detail: "Not Found" })
        request.streams++
        return { status: 200, headers: { "content-type": "text/event-stream", "cache-control": "no-cache" }, stream: (res) => follow(res, request, ownerApp) }
      }
      if (req.method === "GET" && tail === "") {
        if (request.state !== "COMPLETED") return json(400, { detail: "Request is still in progress" })
        const failure = failureOf(request)
        if (failure) {
          return request.cancelled
            ? json(400, { detail: failure })
            : json(422, { detail: [{ loc: ["body"], msg: failure, type: "value_error" }] })
        }
        return json(200, await outputFor(request))
      }
      if (req.method === "PUT" && tail === "cancel") {
        cancels++
        if (request.state === "COMPLETED") return json(400, { status: "ALREADY_COMPLETED" })
        // In the queue: removed (nothing billed). In progress: fal only signals the runner; the work is billed.
        request.cancelledWhile = request.state
        request.cancelled = true
        return json(202, { status: "CANCELLATION_REQUESTED" })
      }
      return json(405, { detail: "Method not allowed" })
    }

    // submit: POST /{model id, with subpath}
    if (isSubmit(req) && segments.length >= 2) {
      const model = segments.join("/")
      const auth = String(req.headers.authorization ?? "")
      if (!auth.startsWith("Key ") || (options.apiKey !== undefined && auth !== `Key ${options.apiKey}`)) {
        return json(401, { detail: "No user found for Key ID and Secret" })
      }
      const id = randomUUID()
      const request: FakeRequest = { id, model, input: req.json, submittedAt: Date.now(), polls: 0, state: "IN_QUEUE", cancelled: false, gone: fault?.kind === "gone", flaky: 0, fault, streams: 0 }
      requests.set(id, request)
      // Its output is made while it works, as a provider's is: ready when the request completes.
      void bytesOf(request).catch(() => undefined)
      if (fault?.kind === "truncated-download") server.inject({ kind: "truncated" }, { path: `/files/${id}/` })
      return json(200, { ...urlsFor(segments.slice(0, 2).join("/"), id), queue_position: options.pollsInQueue })
    }
    return json(404, { detail: `Not found: ${req.method} ${url.pathname}` })
  }

  const server = await startServer<LifeFault>({
    handle: (req, fault) => {
      if (isSubmit(req)) {
        const model = new URL(req.path, baseUrl).pathname.slice(1)
        submitCounts.set(model, (submitCounts.get(model) ?? 0) + 1)
      }
      return handle(req, fault)
    },
    errorBody: (_status, message) => ({ detail: message })
  })
  baseUrl = server.url

  const inject = (fault: FalFault, model?: string) => {
    // Each fault is taken by the next submit (of `model`, when given); the server plays the HTTP-level ones.
    const common = fault.kind === "rate-limit"
      ? { kind: "rateLimit" as const, retryAfter: String(fault.retryAfterSec) }
      : fault.kind === "server-error"
      ? { kind: "serverError" as const, status: fault.status }
      : fault.kind === "timeout"
      ? { kind: "hang" as const }
      : fault.kind === "malformed-json"
      ? { kind: "malformedJson" as const }
      : fault.kind === "out-of-credit"
      ? { kind: "status" as const, status: 403, json: { detail: "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing." } }
      : fault
    server.inject(
      (req) => {
        if (!isSubmit(req) || (model !== undefined && new URL(req.path, baseUrl).pathname !== `/${model}`)) return undefined
        if (common !== fault) {
          // the handler does not see requests the server answers with a common fault: count them here
          const m = new URL(req.path, baseUrl).pathname.slice(1)
          submitCounts.set(m, (submitCounts.get(m) ?? 0) + 1)
        }
        return common
      },
      { times: 1 }
    )
  }

  return {
    baseUrl,
    received: server.requests,
    requests,
    uploads,
    setLatency: server.setLatency,
    clearFaults: server.clearFaults,
    submits: (model) =>
      model === undefined ? [...submitCounts.values()].reduce((a, b) => a + b, 0) : submitCounts.get(model) ?? 0,
    get cancels() {
      return cancels
    },
    get cancelsInProgress() {
      return [...requests.values()].filter((r) => r.cancelledWhile === "IN_PROGRESS").length
    },
    injectAny: (fault) => server.inject(fault),
    inputs: (model) => [...requests.values()].filter((r) => r.model === model).map((r) => r.input),
    inject,
    forget: (requestId) => {
      const request = requests.get(requestId)
      if (request) request.gone = true
    },
    setOptions: (next) => void (options = { ...options, ...next }),
    media,
    close: server.close
  }
}
