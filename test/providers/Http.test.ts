import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll } from "vitest"
import { refusalOf, retryAfterOf } from "../../src/providers/http/Answer.ts"
import { Http, makeResponse } from "../../src/providers/http/Client.ts"
import { download } from "../../src/providers/http/Download.ts"
import { redact } from "../../src/providers/http/Redact.ts"
import { IoLog, type IoEntry } from "../../src/providers/IoLog.ts"
import { seededPng } from "../fakes/png.ts"
import { startServer, type CommonFault, type FakeServer, type Reply } from "../fakes/server.ts"

const secret = "sk-secret-abcdef0123456789"
const png = seededPng("download", 32, 16)

let server: FakeServer<CommonFault>
beforeAll(async () => {
  server = await startServer<CommonFault>({
    errorBody: (status, message) => ({ error: { message, code: status } }),
    handle: (req): Reply => {
      if (req.path.split("?")[0] === "/echo") {
        // A provider that echoes what it got, key included, in the body and a header.
        return { status: 200, headers: { "x-echo": `key=${secret}` }, json: { got: req.json, note: `your key ${secret}` } }
      }
      if (req.path === "/file.png") return { status: 200, headers: { "content-type": "image/png" }, body: png }
      if (req.path === "/page.html") return { status: 200, headers: { "content-type": "text/html" }, body: "<html></html>" }
      if (req.path === "/moved") return { status: 302, headers: { location: "/file.png" } }
      if (req.path === "/big") return { status: 200, headers: { "content-type": "application/octet-stream" }, body: new Uint8Array(64 * 1024) }
      if (req.path === "/fal-detail") {
        return { status: 422, json: { detail: [{ loc: ["body", "image_url"], msg: "field required", type: "missing" }] } }
      }
      return { status: 200, json: { ok: true } }
    }
  })
})
afterAll(() => server.close())

const layer = () => Http.layerWith({ secrets: [secret] }).pipe(Layer.provideMerge(IoLog.layerMemory))

const request = (path: string, extra: Partial<Parameters<Http["Type"]["request"]>[1]> = {}) =>
  Effect.flatMap(Http, (h) => h.request("testprov", { method: "GET", url: `${server.url}${path}`, ...extra }))

const response = (status: number, headers: Record<string, string>, body: unknown) =>
  makeResponse({ status, headers, body: new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body)) })

describe("reading answers", () => {
  it("2xx is no refusal", () => {
    expect(refusalOf(response(200, {}, { ok: 1 }))).toBeUndefined()
    expect(refusalOf(response(202, {}, ""))).toBeUndefined()
  })

  it("Retry-After in seconds, as an HTTP date, and retry-after-ms", () => {
    expect(refusalOf(response(429, { "retry-after": "7" }, { error: { message: "Rate limit reached", code: "rate_limit_exceeded" } }))).toMatchObject({
      status: 429,
      retryAfterMs: 7000,
      code: "rate_limit_exceeded",
      said: "Rate limit reached"
    })
    const date = new Date(Date.now() + 30_000).toUTCString()
    const dated = retryAfterOf({ "retry-after": date })!
    expect(dated).toBeGreaterThan(25_000)
    expect(dated).toBeLessThanOrEqual(30_000)
    expect(retryAfterOf({ "retry-after-ms": "250", "retry-after": "9" })).toBe(250)
  })

  it("the provider's own words: {error:{message}}, fal's {detail} (string or list of {msg}), plain text", () => {
    expect(refusalOf(response(422, {}, { detail: [{ loc: ["body", "prompt"], msg: "field required", type: "missing" }] }))).toMatchObject({
      said: "prompt: field required",
      code: "missing"
    })
    expect(refusalOf(response(404, {}, { detail: "Request not found" }))!.said).toBe("Request not found")
    expect(refusalOf(response(502, {}, "<html>Bad Gateway</html>"))!.said).toBe("<html>Bad Gateway</html>")
    expect(refusalOf(response(500, {}, ""))!.said).toContain("HTTP 500")
    expect(refusalOf(response(500, { "x-request-id": "req_1" }, "x"))!.requestId).toBe("req_1")
  })

  it("redact replaces every occurrence of every secret", () => {
    expect(redact(`a ${secret} b ${secret}`, [secret, ""])).toBe("a *** b ***")
  })
})

/** A port nothing listens on. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const s = http.createServer()
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port
      s.close(() => resolve(port))
    })
  })

describe("Http.request", () => {
  it.live("returns non-2xx answers instead of failing, and logs the whole exchange without the key", () =>
    Effect.gen(function*() {
      const prompt = "A lighthouse at dawn, ".repeat(200) // long: the log must keep it whole
      const res = yield* request(`/echo?token=${secret}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${secret}` },
        json: { prompt, key: secret }
      })
      expect(res.status).toBe(200)
      expect(yield* res.json()).toMatchObject({ got: { prompt } })

      const entries = yield* IoLog.entries
      expect(entries).toHaveLength(1)
      const entry = entries[0]!
      expect(entry.requestHeaders["Authorization"]).toBe("Bearer ***")
      expect(entry.requestBody).toEqual({ prompt, key: "***" })
      expect(entry.url).toBe(`${server.url}/echo?token=***`)
      expect(entry.status).toBe(200)
      expect(entry.responseHeaders["x-echo"]).toBe("key=***")
      expect((entry.responseBody as any).got.prompt).toBe(prompt)
      expect(JSON.stringify(entries)).not.toContain(secret)
      expect(entry.endedAt).toBeGreaterThanOrEqual(entry.startedAt)
    }).pipe(Effect.provide(layer())))

  it.live("redacts a key it was never told about when it is in the Authorization header", () =>
    Effect.gen(function*() {
      const other = "fal-key-id:fal-key-secret-999"
      yield* request("/echo", { method: "POST", headers: { authorization: `Key ${other}` }, json: { echo: other } })
      const serialized = JSON.stringify(yield* IoLog.entries)
      expect(serialized).toContain("Key ***")
      expect(serialized).not.toContain("fal-key-secret-999")
    }).pipe(Effect.provide(Http.layer.pipe(Layer.provideMerge(IoLog.layerMemory)))))

  it.live("a raw PUT upload reaches the server intact and is logged as a file with its content-type", () =>
    Effect.gen(function*() {
      const res = yield* request("/upload", { method: "PUT", headers: { "content-type": "image/png" }, body: png })
      expect(res.status).toBe(200)
      expect(Buffer.from(server.requests[server.requests.length - 1]!.body).equals(Buffer.from(png))).toBe(true)
      const [entry] = yield* IoLog.entries
      expect(entry!.requestBody).toEqual({ file: png, contentType: "image/png" })
    }).pipe(Effect.provide(layer())))

  it.live("keep sees a 2xx answer's bytes before the log does, and the log says how long keeping took", () => {
    const logged: Array<IoEntry> = []
    const seen: Array<string> = []
    const keep = (answer: { status: number; body: Uint8Array }) => Effect.sync(() => void seen.push(`kept ${answer.status} ${answer.body.length}, ${logged.length} logged`))
    return Effect.gen(function*() {
      const res = yield* request("/file.png", { keep })
      expect(res.status).toBe(200)
      expect(seen).toEqual([`kept 200 ${png.length}, 0 logged`])
      expect(typeof logged[0]!.keptMs).toBe("number")
      // A refusal is not an answer to keep.
      server.inject({ kind: "serverError", status: 503 })
      yield* request("/file.png", { keep })
      expect(seen).toHaveLength(1)
    }).pipe(Effect.provide(Http.layerWith({ secrets: [] }).pipe(Layer.provide(Layer.succeed(IoLog, { log: (e) => Effect.sync(() => void logged.push(e)) })))))
  })

  it.live("a host that accepts the connection and never answers is known after the answer time-out", () =>
    Effect.gen(function*() {
      server.inject({ kind: "hang" })
      const error = yield* Effect.flip(request("/slow", { answerTimeoutMs: 300 }))
      expect(error.reason).toBe("no-answer")
      expect(error.detail).toContain("300 ms")
      const [entry] = yield* IoLog.entries
      expect(entry!.status).toBeUndefined()
      expect(entry!.error).toContain("300 ms")
    }).pipe(Effect.provide(layer())))

  it.live("a dead host that only accepts connections is known in seconds, not the call's own minutes", () =>
    Effect.gen(function*() {
      // A raw TCP server: accepts, reads, never writes a byte.
      const sockets: Array<net.Socket> = []
      const dead = net.createServer((s) => void sockets.push(s))
      const port = yield* Effect.promise(() => new Promise<number>((resolve) => dead.listen(0, "127.0.0.1", () => resolve((dead.address() as AddressInfo).port))))
      const error = yield* Effect.flip(
        Effect.flatMap(Http, (h) => h.request("testprov", { method: "GET", url: `http://127.0.0.1:${port}/models`, answerTimeoutMs: 1_000 }))
      )
      for (const s of sockets) s.destroy()
      dead.close()
      expect(error.reason).toBe("no-answer")
      expect(error.detail).toContain("no answer within 1 s")
    }).pipe(Effect.provide(layer())))

  it.live("a refused port is `refused` (nothing was sent); a connection reset before the answer is `dropped`", () =>
    Effect.gen(function*() {
      const closed = yield* Effect.promise(closedPort)
      const refused = yield* Effect.flip(
        Effect.flatMap(Http, (h) => h.request("testprov", { method: "GET", url: `http://127.0.0.1:${closed}/` }))
      )
      expect(refused.reason).toBe("refused")
      expect(refused.detail).toContain("ECONNREFUSED")

      server.inject({ kind: "reset" })
      expect((yield* Effect.flip(request("/x"))).reason).toBe("dropped")
    }).pipe(Effect.provide(layer())))

  it.live("a body cut short of its content-length is `cut-off`", () =>
    Effect.gen(function*() {
      server.inject({ kind: "truncated" })
      const error = yield* Effect.flip(request("/file.png"))
      expect(error.reason).toBe("cut-off")
      expect(error.detail).toMatch(/of \d+ bytes/)
    }).pipe(Effect.provide(layer())))

  it.live("malformed JSON is `garbled` from json()", () =>
    Effect.gen(function*() {
      server.inject({ kind: "malformedJson" })
      const res = yield* request("/x")
      expect(res.status).toBe(200)
      const error = yield* Effect.flip(res.json())
      expect(error).toMatchObject({ reason: "garbled", detail: expect.stringContaining("broken JSON") })
    }).pipe(Effect.provide(layer())))

  it.live("an answer larger than maxBytes is `too-large`", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(request("/big", { maxBytes: 1024 }))
      expect(error.reason).toBe("too-large")
    }).pipe(Effect.provide(layer())))
})

describe("download", () => {
  const dl = (path: string, opts: { maxBytes?: number; contentTypePrefix?: string } = {}) =>
    download("testprov", `${server.url}${path}`, { allowedBases: [`${server.url}/`], ...opts })

  it.live("downloads a file under an allowed base, following redirects", () =>
    Effect.gen(function*() {
      expect(Buffer.from((yield* dl("/file.png", { contentTypePrefix: "image/" })).bytes).equals(Buffer.from(png))).toBe(true)
      expect(Buffer.from((yield* dl("/moved")).bytes).equals(Buffer.from(png))).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.live("refuses plain http outside the allowed bases without sending anything", () =>
    Effect.gen(function*() {
      const before = server.requests.length
      const error = yield* Effect.flip(download("testprov", `${server.url}/file.png`, { allowedBases: ["http://127.0.0.1:1/v1"] }))
      expect(error.reason).toBe("rejected")
      expect(error.said).toContain("https")
      expect(server.requests.length).toBe(before)
      expect(yield* IoLog.entries).toHaveLength(0)
    }).pipe(Effect.provide(layer())))

  it.live("too large, cut short, the wrong content type and a provider's refusal each say so", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(dl("/big", { maxBytes: 1000 }))).reason).toBe("too-large")
      server.inject({ kind: "truncated" })
      expect((yield* Effect.flip(dl("/file.png"))).reason).toBe("cut-off")
      const wrongType = yield* Effect.flip(dl("/page.html", { contentTypePrefix: "image/" }))
      expect(wrongType.reason).toBe("garbled")
      expect(wrongType.said).toContain("text/html")
      expect(yield* Effect.flip(dl("/fal-detail"))).toMatchObject({ status: 422, reason: "rejected", said: "image_url: field required" })
      server.inject({ kind: "serverError", status: 503 })
      expect((yield* Effect.flip(dl("/file.png"))).reason).toBe("unavailable")
    }).pipe(Effect.provide(layer())))
})
