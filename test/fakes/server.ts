/**
 * Plumbing shared by the fake provider servers: a `node:http` server on 127.0.0.1 (port 0), a record of
 * every request, and faults injected per request.
 *
 * A fault is taken from a queue by the next request it matches (optionally only requests whose path
 * matches), or decided by a function of the request. The common faults are played here; provider-specific
 * ones (moderation, 402, an error inside a 200, a wrong shot count, ...) are handed to the fake's handler.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface FakeRequest {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Uint8Array
  readonly text: string
  /** The parsed JSON body, or undefined when it is not JSON. */
  readonly json: unknown
  /** When the request (its whole body) arrived, `Date.now()`. */
  readonly at: number
}

export interface Reply {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly json?: unknown
  readonly body?: Uint8Array | string
  /** An answer written as it goes (server-sent events): the head is sent (no content-length), then this
   *  writes and ends it. A stream still open when the server closes is cut. */
  readonly stream?: (res: http.ServerResponse) => void
}

/** Faults every fake understands. */
export type CommonFault =
  /** 429 with `Retry-After` (seconds or an HTTP date). */
  | { readonly kind: "rateLimit"; readonly retryAfter?: string; readonly retryAfterMs?: number }
  /** A 5xx with the provider's usual error body. */
  | { readonly kind: "serverError"; readonly status?: 500 | 502 | 503 | 504 }
  /** Any status and JSON body, for the odd case. */
  | { readonly kind: "status"; readonly status: number; readonly json?: unknown; readonly headers?: Record<string, string> }
  /** Accepts the request and never answers. */
  | { readonly kind: "hang" }
  /** Answers normally, after a delay. */
  | { readonly kind: "delay"; readonly ms: number }
  /** A 200 whose body is not JSON. */
  | { readonly kind: "malformedJson" }
  /** The normal answer's headers with a `content-length` larger than what is sent; then the socket is destroyed. */
  | { readonly kind: "truncated" }
  /** The connection is destroyed before any answer. */
  | { readonly kind: "reset" }
  /** A 200 that is not what the endpoint serves: an HTML error page from a proxy in the way. */
  | { readonly kind: "wrongContent" }

export type FaultSource<F> = F | ((req: FakeRequest) => F | undefined)

export interface FakeServer<F> {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string
  readonly close: () => Promise<void>
  readonly requests: ReadonlyArray<FakeRequest>
  /** Queues a fault for the next matching request; a function is consulted on every request until cleared. */
  readonly inject: (fault: FaultSource<F>, match?: { readonly path?: string | RegExp; readonly times?: number }) => void
  readonly clearFaults: () => void
  /** Delays every answer (faults included) by `ms(req)` milliseconds; `() => 0` turns it off. */
  readonly setLatency: (ms: (req: FakeRequest) => number) => void
}

export interface ServerOptions<F> {
  /** The fake's protocol. `fault` is a provider-specific fault for this request, if any. */
  readonly handle: (req: FakeRequest, fault: F | undefined) => Reply | Promise<Reply>
  /** The provider's error body for a common fault (e.g. `{error:{message,type,code}}`). */
  readonly errorBody: (status: number, message: string) => unknown
}

const commonKinds = new Set(["rateLimit", "serverError", "status", "hang", "delay", "malformedJson", "truncated", "reset", "wrongContent"])

const isCommon = (fault: { kind: string }): fault is CommonFault => commonKinds.has(fault.kind)

const readBody = (req: http.IncomingMessage): Promise<Uint8Array> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))))
    req.on("error", reject)
  })

const encode = (reply: Reply): { headers: Record<string, string>; body: Buffer } => {
  const headers: Record<string, string> = { ...reply.headers }
  let body: Buffer
  if (reply.json !== undefined) {
    body = Buffer.from(JSON.stringify(reply.json))
    headers["content-type"] ??= "application/json"
  } else if (typeof reply.body === "string") {
    body = Buffer.from(reply.body)
    headers["content-type"] ??= "text/plain; charset=utf-8"
  } else {
    body = Buffer.from(reply.body ?? new Uint8Array())
  }
  headers["content-length"] = String(body.length)
  return { headers, body }
}

export const startServer = async <F extends { readonly kind: string }>(
  options: ServerOptions<F>
): Promise<FakeServer<F | CommonFault>> => {
  type Any = F | CommonFault
  const requests: Array<FakeRequest> = []
  let queue: Array<{ fault: FaultSource<Any>; path?: string | RegExp; times: number }> = []
  const hanging = new Set<http.ServerResponse>()
  let latency: (req: FakeRequest) => number = () => 0

  const takeFault = (req: FakeRequest): Any | undefined => {
    for (const entry of queue) {
      if (entry.path !== undefined && !(typeof entry.path === "string" ? req.path.startsWith(entry.path) : entry.path.test(req.path))) continue
      const fault = typeof entry.fault === "function" ? entry.fault(req) : entry.fault
      if (fault === undefined) continue
      entry.times -= 1
      if (entry.times <= 0) queue = queue.filter((e) => e !== entry)
      return fault
    }
    return undefined
  }

  const send = (res: http.ServerResponse, reply: Reply) => {
    if (reply.stream !== undefined) {
      res.writeHead(reply.status, { ...reply.headers })
      res.flushHeaders()
      hanging.add(res)
      res.on("close", () => hanging.delete(res))
      return reply.stream(res)
    }
    const { headers, body } = encode(reply)
    res.writeHead(reply.status, headers)
    res.end(body)
  }

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req)
    const text = Buffer.from(body).toString("utf8")
    let json: unknown = undefined
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined
    } catch {
      json = undefined
    }
    const fake: FakeRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body, text, json, at: Date.now() }
    requests.push(fake)
    const wait = latency(fake)
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    const fault = takeFault(fake)
    try {
      if (fault !== undefined && isCommon(fault)) {
        switch (fault.kind) {
          case "rateLimit": {
            const headers: Record<string, string> = { "retry-after": fault.retryAfter ?? "7" }
            if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = String(fault.retryAfterMs)
            return send(res, { status: 429, headers, json: options.errorBody(429, "Rate limit reached for requests. Please try again later.") })
          }
          case "serverError": {
            const status = fault.status ?? 500
            return send(res, { status, json: options.errorBody(status, `The server had an error while processing your request (fake ${status}).`) })
          }
          case "status":
            return send(res, { status: fault.status, json: fault.json ?? options.errorBody(fault.status, `fake status ${fault.status}`), ...(fault.headers ? { headers: fault.headers } : {}) })
          case "hang":
            hanging.add(res)
            return
          case "reset":
            req.socket.destroy()
            return
          case "wrongContent":
            return send(res, { status: 200, headers: { "content-type": "text/html; charset=utf-8" }, body: "<html><body>502 Bad Gateway (from a proxy)</body></html>" })
          case "malformedJson":
            res.writeHead(200, { "content-type": "application/json" })
            res.end('{"data": [ {"b64_json": "iVBOR')
            return
          case "delay": {
            await new Promise((r) => setTimeout(r, fault.ms))
            return send(res, await options.handle(fake, undefined))
          }
          case "truncated": {
            const { headers, body } = encode(await options.handle(fake, undefined))
            headers["content-length"] = String(body.length + 1000)
            res.writeHead(200, headers)
            res.write(body.subarray(0, Math.floor(body.length / 2)))
            // Let the first half reach the client before the connection drops.
            setTimeout(() => res.socket?.destroy(), 20)
            return
          }
        }
      }
      send(res, await options.handle(fake, fault as F | undefined))
    } catch (e) {
      send(res, { status: 500, json: options.errorBody(500, `fake server bug: ${e instanceof Error ? e.stack : String(e)}`) })
    }
  })
  server.keepAliveTimeout = 1000

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject: (fault, match) => {
      const entry: { fault: FaultSource<Any>; path?: string | RegExp; times: number } = {
        fault,
        times: match?.times ?? (typeof fault === "function" ? Number.POSITIVE_INFINITY : 1)
      }
      if (match?.path !== undefined) entry.path = match.path
      queue.push(entry)
    },
    clearFaults: () => {
      queue = []
    },
    setLatency: (ms) => {
      latency = ms
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.socket?.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** Whether a request carries `Authorization: Bearer <key>`. */
export const hasBearer = (req: FakeRequest, key: string): boolean => req.headers["authorization"] === `Bearer ${key}`
