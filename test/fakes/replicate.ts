/**
 * A fake Replicate on 127.0.0.1: the predictions API as Replicate's official clients speak it.
 *
 *   POST /v1/predictions {version, input}            (community model)  → 201 {id, status: "starting", urls}
 *   POST /v1/models/{owner}/{name}/predictions {input} (official model) → 201 the same
 *   GET  /v1/predictions/{id}                          → starting | processing | succeeded | failed | canceled
 *   POST /v1/predictions/{id}/cancel                   → the prediction, canceled (unless it has ended)
 *   POST /v1/files (multipart)                         → {id, urls: {get}}
 *
 * What surprises, played here: errors are problem details `{title, detail, status}`; 402 when out of credit;
 * a 401 whose detail echoes the token it was given (so a client that prints the detail leaks it); a failed
 * prediction answers HTTP 200 with `status: "failed"` and `error` (an error inside a 200); outputs are
 * deleted after an hour (`data_removed: true`, `output: null`); a prediction unknown to it answers 404.
 * `metrics.predict_time` is reported on success. Output clips are real small MP4s.
 */
import { randomUUID } from "node:crypto"
import { makeMedia, mediaFor } from "./fal.ts"
import { startServer, type CommonFault, type FakeRequest, type Reply } from "./server.ts"

export const defaultToken = "r8_fake-replicate-token-6d2c9a41b07e4f1d"

export type ReplicateFault =
  /** the prediction ends `failed` with this error (HTTP 200: the error is inside the answer) */
  | { readonly kind: "failed"; readonly error: string }
  /** the safety checker refuses the input image (a failed prediction, as Replicate words it) */
  | { readonly kind: "nsfw" }
  /** create answers 402 Payment Required */
  | { readonly kind: "out-of-credit" }
  /** the prediction succeeds, but by the time it is read its output is gone (`data_removed`) */
  | { readonly kind: "data-removed" }
  /** the prediction is created, then forgotten: its GET answers 404 */
  | { readonly kind: "gone" }

export interface Prediction {
  readonly id: string
  readonly version: string | undefined
  readonly model: string
  readonly input: any
  polls: number
  status: "starting" | "processing" | "succeeded" | "failed" | "canceled"
  readonly createdAt: number
  readonly fault: ReplicateFault | undefined
  /** the status it had when a cancel reached it */
  canceledWhile?: string | undefined
}

export interface ReplicateFakeOptions {
  /** polls answering `starting` (a worker booting), then `processing` */
  readonly pollsStarting?: number
  readonly pollsProcessing?: number
  /** how long a prediction works from its create before it can succeed, in ms */
  readonly workMs?: number
}

export interface ReplicateFake {
  readonly baseUrl: string
  readonly apiToken: string
  readonly requests: ReadonlyArray<FakeRequest>
  readonly predictions: ReadonlyMap<string, Prediction>
  /** creates received (answered with a fault or not) */
  readonly creates: () => number
  readonly uploads: () => number
  readonly cancels: () => number
  /** A fault taken by the next create (`ReplicateFault`), or any common HTTP fault on the next matching request. */
  readonly inject: (fault: ReplicateFault | CommonFault, match?: { readonly path?: string | RegExp }) => void
  readonly clearFaults: () => void
  readonly setLatency: (ms: (req: FakeRequest) => number) => void
  readonly setOptions: (options: ReplicateFakeOptions) => void
  readonly close: () => Promise<void>
}

const isCreate = (req: FakeRequest) => req.method === "POST" && /\/predictions$/.test(req.path.split("?")[0]!)
const own = new Set(["failed", "nsfw", "out-of-credit", "data-removed", "gone"])

export const start = async (initial: ReplicateFakeOptions = {}): Promise<ReplicateFake> => {
  await makeMedia()
  let options: Required<ReplicateFakeOptions> = { pollsStarting: 1, pollsProcessing: 1, workMs: 0, ...initial }
  const predictions = new Map<string, Prediction>()
  const files = new Map<string, Uint8Array>()
  let base = ""

  const problem = (status: number, title: string, detail: string): Reply => ({ status, json: { title, detail, status } })

  const view = (p: Prediction) => {
    const removed = p.status === "succeeded" && p.fault?.kind === "data-removed"
    return {
      id: p.id,
      model: p.model,
      version: p.version ?? null,
      input: removed ? {} : p.input,
      logs: p.status === "starting" ? "" : "Generating frames...",
      output: p.status === "succeeded" && !removed ? `${base}/v1/deliveries/${p.id}.mp4` : null,
      data_removed: removed,
      error: p.status === "failed" ? (p.fault?.kind === "failed" ? p.fault.error : p.fault?.kind === "nsfw" ? "NSFW content detected in the input image. Try a different image." : "failed") : null,
      status: p.status,
      source: "api",
      created_at: new Date(p.createdAt).toISOString(),
      ...(p.status === "succeeded" ? { metrics: { predict_time: 42.5, total_time: 44 } } : {}),
      urls: { get: `${base}/v1/predictions/${p.id}`, cancel: `${base}/v1/predictions/${p.id}/cancel`, web: `https://replicate.com/p/${p.id}` }
    }
  }

  const advance = (p: Prediction) => {
    if (p.status === "canceled" || p.status === "succeeded" || p.status === "failed") return
    const n = p.polls++
    if (n < options.pollsStarting) p.status = "starting"
    else if (n < options.pollsStarting + options.pollsProcessing || Date.now() - p.createdAt < options.workMs) p.status = "processing"
    else p.status = p.fault?.kind === "failed" || p.fault?.kind === "nsfw" ? "failed" : "succeeded"
  }

  const server = await startServer<ReplicateFault>({
    errorBody: (status, message) => ({ title: status === 429 ? "Too Many Requests" : "Error", detail: message, status }),
    handle: async (req, fault) => {
      const url = new URL(req.path, base)
      const p = url.pathname
      const auth = String(req.headers.authorization ?? "")
      // Output files are served like replicate.delivery's: public URLs, no token needed.
      if (req.method === "GET" && p.startsWith("/v1/deliveries/")) {
        const id = p.slice("/v1/deliveries/".length).replace(/\.mp4$/, "")
        const pred = predictions.get(id)
        if (pred === undefined || pred.status !== "succeeded" || pred.fault?.kind === "data-removed") return problem(404, "Not found", "file not found")
        return { status: 200, headers: { "content-type": "video/mp4" }, body: await mediaFor("replicate/video", { prompt: pred.id, image_url: JSON.stringify(pred.input).slice(0, 64) }) }
      }
      if (auth !== `Bearer ${defaultToken}`) {
        // Echoes what it was given, as some gateways do: the client must never print it.
        return problem(401, "Unauthenticated", `Invalid token: ${auth.replace(/^Bearer /, "")}`)
      }
      if (req.method === "POST" && p === "/v1/files") {
        const id = randomUUID()
        files.set(id, req.body)
        return { status: 201, json: { id, size: req.body.length, urls: { get: `${base}/v1/files/${id}` } } }
      }
      if (isCreate(req)) {
        if (fault?.kind === "out-of-credit") {
          return problem(402, "Payment Required", "You have insufficient credit to run this model. Go to https://replicate.com/account/billing to add credit.")
        }
        const body = (req.json ?? {}) as { version?: unknown; input?: unknown }
        const official = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(p)
        if (!official && typeof body.version !== "string") return problem(422, "Invalid version", "version is required")
        if (typeof body.input !== "object" || body.input === null) return problem(422, "Input validation failed", "input is required")
        const input = body.input as Record<string, unknown>
        if (typeof input.input_image !== "string" || !/^(data:image\/|https?:\/\/)/.test(input.input_image)) {
          return problem(422, "Input validation failed", "input_image: Does not match format 'uri'")
        }
        const id = randomUUID().replace(/-/g, "").slice(0, 26)
        const pred: Prediction = {
          id,
          version: typeof body.version === "string" ? body.version : undefined,
          model: official ? `${official[1]}/${official[2]}` : "stability-ai/stable-video-diffusion",
          input,
          polls: 0,
          status: "starting",
          createdAt: Date.now(),
          fault
        }
        predictions.set(id, pred)
        return { status: 201, json: view(pred) }
      }
      const m = /^\/v1\/predictions\/([^/]+)(\/cancel)?$/.exec(p)
      if (m) {
        const pred = predictions.get(m[1]!)
        if (pred === undefined || pred.fault?.kind === "gone") return problem(404, "Not found", "The requested resource could not be found.")
        if (req.method === "GET" && !m[2]) {
          advance(pred)
          return { status: 200, json: view(pred) }
        }
        if (req.method === "POST" && m[2]) {
          pred.canceledWhile = pred.status
          if (pred.status === "starting" || pred.status === "processing") pred.status = "canceled"
          return { status: 200, json: view(pred) }
        }
      }
      return problem(404, "Not found", `${req.method} ${p}`)
    }
  })
  base = server.url

  return {
    baseUrl: `${server.url}/v1`,
    apiToken: defaultToken,
    requests: server.requests,
    predictions,
    creates: () => server.requests.filter(isCreate).length,
    uploads: () => server.requests.filter((r) => r.method === "POST" && r.path.startsWith("/v1/files")).length,
    cancels: () => server.requests.filter((r) => r.method === "POST" && r.path.endsWith("/cancel")).length,
    inject: (fault, match) => {
      if (own.has(fault.kind)) server.inject((req) => (isCreate(req) ? fault : undefined), { times: 1 })
      else server.inject(match?.path === undefined ? (req) => (isCreate(req) ? fault : undefined) : fault, match?.path === undefined ? { times: 1 } : { path: match.path, times: 1 })
    },
    clearFaults: server.clearFaults,
    setLatency: server.setLatency,
    setOptions: (next) => void (options = { ...options, ...next }),
    close: server.close
  }
}
