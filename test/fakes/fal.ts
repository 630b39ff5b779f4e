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
 */
import ffmpegInstaller from "@ffmpeg-installer/ffmpeg"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import * as path from "node:path"

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

export interface FakeFalOptions {
  /** status polls answering IN_QUEUE before the request starts (queue_position counts down to 0) */
  readonly pollsInQueue?: number
  /** status polls answering IN_PROGRESS before it completes */
  readonly pollsInProgress?: number
  /** delay before every answer, in ms */
  readonly latencyMs?: number
}

export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  /** parsed JSON when the body was JSON, otherwise the raw bytes */
  readonly body: unknown
}

export interface FakeRequest {
  readonly id: string
  readonly model: string
  readonly input: any
  polls: number
  state: "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED"
  cancelled: boolean
  gone: boolean
  readonly fault: FalFault | undefined
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
  readonly uploads: ReadonlyMap<string, Upload>
  /** number of submits per model id (including those answered with an injected fault) */
  submits(model?: string): number
  /** number of `PUT cancel` calls received (for any request) */
  readonly cancels: number
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

const isVideoModel = (model: string) => /video|i2v|t2v/.test(model)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export const startFakeFal = async (initial: FakeFalOptions = {}): Promise<FakeFal> => {
  const media = await makeMedia()
  let options: Required<FakeFalOptions> = { pollsInQueue: 2, pollsInProgress: 1, latencyMs: 0, ...initial }
  const received: Array<ReceivedRequest> = []
  const requests = new Map<string, FakeRequest>()
  const uploads = new Map<string, Upload>()
  const submitCounts = new Map<string, number>()
  const faults: Array<{ fault: FalFault; model: string | undefined }> = []
  const hanging = new Set<http.ServerResponse>()
  let cancels = 0
  let baseUrl = ""

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers })
    res.end(text)
  }

  const urlsFor = (ownerApp: string, id: string) => ({
    request_id: id,
    response_url: `${baseUrl}/${ownerApp}/requests/${id}`,
    status_url: `${baseUrl}/${ownerApp}/requests/${id}/status`,
    cancel_url: `${baseUrl}/${ownerApp}/requests/${id}/cancel`
  })

  const takeFault = (model: string): FalFault | undefined => {
    const index = faults.findIndex((f) => f.model === undefined || f.model === model)
    return index < 0 ? undefined : faults.splice(index, 1)[0]!.fault
  }

  const outputFor = (request: FakeRequest) => {
    const file = `/files/${request.id}/${isVideoModel(request.model) ? "output.mp4" : "output.mp3"}`
    if (isVideoModel(request.model)) {
      return {
        video: { url: baseUrl + file, content_type: "video/mp4", file_name: "output.mp4", file_size: media.mp4.length },
        seed: 42
      }
    }
    return {
      audio: { url: baseUrl + file, content_type: "audio/mpeg", file_name: "output.mp3", file_size: media.mp3.length }
    }
  }

  const advance = (request: FakeRequest) => {
    const n = request.polls++
    if (request.cancelled) request.state = "COMPLETED"
    else if (n < options.pollsInQueue) request.state = "IN_QUEUE"
    else if (n < options.pollsInQueue + options.pollsInProgress) request.state = "IN_PROGRESS"
    else request.state = "COMPLETED"
    return n
  }

  const failureOf = (request: FakeRequest): string | undefined =>
    request.cancelled
      ? "Request was cancelled"
      : request.fault?.kind === "completed-with-error"
        ? request.fault.message
        : undefined

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, raw: Uint8Array) => {
    const url = new URL(req.url ?? "/", baseUrl)
    const segments = url.pathname.split("/").filter((s) => s.length > 0).map(decodeURIComponent)
    const isJson = (req.headers["content-type"] ?? "").includes("json")
    let body: unknown = raw
    if (isJson && raw.length > 0) {
      try {
        body = JSON.parse(Buffer.from(raw).toString("utf8"))
      } catch {
        return send(res, 422, { detail: [{ msg: "Request body is not valid JSON" }] })
      }
    }
    received.push({ method: req.method ?? "", path: url.pathname + url.search, headers: req.headers, body })
    if (options.latencyMs > 0) await sleep(options.latencyMs)

    // storage: initiate, upload, and the files it serves
    if (req.method === "POST" && url.pathname === "/storage/upload/initiate") {
      const { content_type, file_name } = (body ?? {}) as { content_type?: string; file_name?: string }
      if (typeof content_type !== "string" || typeof file_name !== "string") {
        return send(res, 422, { detail: [{ msg: "content_type and file_name are required" }] })
      }
      const id = randomUUID()
      uploads.set(id, { id, contentType: content_type, fileName: file_name, bytes: undefined })
      return send(res, 200, {
        upload_url: `${baseUrl}/upload/${id}`,
        file_url: `${baseUrl}/files/uploads/${id}/${encodeURIComponent(file_name)}`
      })
    }
    if (req.method === "PUT" && segments[0] === "upload" && segments.length === 2) {
      const upload = uploads.get(segments[1]!)
      if (!upload) return send(res, 404, { detail: "upload not found" })
      upload.bytes = raw
      res.writeHead(200).end()
      return
    }
    if (req.method === "GET" && segments[0] === "files") {
      if (segments[1] === "uploads") {
        const upload = uploads.get(segments[2] ?? "")
        if (!upload?.bytes) return send(res, 404, { detail: "file not found" })
        res.writeHead(200, { "content-type": upload.contentType, "content-length": upload.bytes.length })
        res.end(upload.bytes)
        return
      }
      const request = requests.get(segments[1] ?? "")
      if (!request || request.state !== "COMPLETED") return send(res, 404, { detail: "file not found" })
      const video = isVideoModel(request.model)
      const bytes = video ? media.mp4 : media.mp3
      res.writeHead(200, { "content-type": video ? "video/mp4" : "audio/mpeg", "content-length": bytes.length })
      if (request.fault?.kind === "truncated-download") {
        // announce the full length, send half, then cut the connection
        res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.destroy())
        return
      }
      res.end(bytes)
      return
    }

    // queue: /{owner}/{app}/requests/{id}[/status|/cancel]
    if (segments[2] === "requests" && segments.length >= 4) {
      const ownerApp = `${segments[0]}/${segments[1]}`
      const request = requests.get(segments[3]!)
      const tail = segments.slice(4).join("/")
      if (!request || request.gone || request.model.split("/").slice(0, 2).join("/") !== ownerApp) {
        return send(res, 404, { detail: "Request not found" })
      }
      if (req.method === "GET" && tail === "status") {
        const n = advance(request)
        const logs = request.state === "IN_QUEUE" ? [] : [{ message: "Generating...", level: "INFO", timestamp: new Date().toISOString() }]
        if (request.state === "IN_QUEUE") {
          return send(res, 202, { status: "IN_QUEUE", queue_position: options.pollsInQueue - 1 - n, ...urlsFor(ownerApp, request.id) })
        }
        if (request.state === "IN_PROGRESS") {
          return send(res, 202, { status: "IN_PROGRESS", logs, ...urlsFor(ownerApp, request.id) })
        }
        const failure = failureOf(request)
        return send(res, 200, {
          status: "COMPLETED",
          logs,
          metrics: { inference_time: 1.5 },
          ...(failure ? { error: failure, error_type: request.cancelled ? "cancelled" : "validation_error" } : {}),
          ...urlsFor(ownerApp, request.id)
        })
      }
      if (req.method === "GET" && tail === "") {
        if (request.state !== "COMPLETED") return send(res, 400, { detail: "Request is still in progress" })
        const failure = failureOf(request)
        if (failure) {
          return request.cancelled
            ? send(res, 400, { detail: failure })
            : send(res, 422, { detail: [{ loc: ["body"], msg: failure, type: "value_error" }] })
        }
        return send(res, 200, outputFor(request))
      }
      if (req.method === "PUT" && tail === "cancel") {
        cancels++
        if (request.state === "COMPLETED") return send(res, 400, { status: "ALREADY_COMPLETED" })
        request.cancelled = true
        return send(res, 202, { status: "CANCELLATION_REQUESTED" })
      }
      return send(res, 405, { detail: "Method not allowed" })
    }

    // submit: POST /{model id, with subpath}
    if (req.method === "POST" && segments.length >= 2) {
      const model = segments.join("/")
      submitCounts.set(model, (submitCounts.get(model) ?? 0) + 1)
      if (!req.headers.authorization?.startsWith("Key ")) {
        return send(res, 401, { detail: "No user found for Key ID and Secret" })
      }
      const fault = takeFault(model)
      switch (fault?.kind) {
        case "rate-limit":
          return send(res, 429, { detail: "Too many requests" }, { "retry-after": String(fault.retryAfterSec) })
        case "server-error":
          return send(res, fault.status, { detail: "Internal server error" })
        case "timeout":
          hanging.add(res)
          res.on("close", () => hanging.delete(res))
          return
        case "malformed-json":
          res.writeHead(200, { "content-type": "application/json" })
          res.end("{\"request_id\": \"abc\", \"status_url\": ")
          return
      }
      const id = randomUUID()
      const ownerApp = segments.slice(0, 2).join("/")
      requests.set(id, {
        id,
        model,
        input: body,
        polls: 0,
        state: "IN_QUEUE",
        cancelled: false,
        gone: fault?.kind === "gone",
        fault
      })
      return send(res, 200, { ...urlsFor(ownerApp, id), queue_position: options.pollsInQueue })
    }
    return send(res, 404, { detail: `Not found: ${req.method} ${url.pathname}` })
  }

  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      handle(req, res, new Uint8Array(Buffer.concat(chunks))).catch((error) => {
        if (!res.headersSent) send(res, 500, { detail: String(error) })
        else res.destroy()
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    baseUrl,
    received,
    requests,
    uploads,
    submits: (model) =>
      model === undefined ? [...submitCounts.values()].reduce((a, b) => a + b, 0) : submitCounts.get(model) ?? 0,
    get cancels() {
      return cancels
    },
    inputs: (model) => [...requests.values()].filter((r) => r.model === model).map((r) => r.input),
    inject: (fault, model) => void faults.push({ fault, model }),
    forget: (requestId) => {
      const request = requests.get(requestId)
      if (request) request.gone = true
    },
    setOptions: (next) => void (options = { ...options, ...next }),
    media,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
