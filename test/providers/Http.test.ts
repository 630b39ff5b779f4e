import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Schedule } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll } from "vitest"
import { isTransient, retryAfterMs } from "../../src/engine/Transient.ts"
import { classify, download, Http, makeResponse, redact } from "../../src/providers/Http.ts"
import { IoLog } from "../../src/providers/IoLog.ts"
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
  makeResponse("testprov", {
    status,
    headers,
    body: new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body))
  })

describe("classify", () => {
  it("accepts 2xx", () => {
    expect(classify("p", response(200, {}, { ok: 1 }))).toBeUndefined()
    expect(classify("p", response(202, {}, ""))).toBeUndefined()
  })

  it("429 is transient and carries Retry-After seconds, HTTP dates and retry-after-ms", () => {
    const secs = classify("openai", response(429, { "retry-after": "7" }, { error: { message: "Rate limit reached", code: "rate_limit_exceeded" } }))!
    expect(secs).toMatchObject({ transient: true, retryAfterMs: 7000, status: 429, code: "rate_limit_exceeded", message: "Rate limit reached" })
    expect(isTransient(secs)).toBe(true)
    expect(retryAfterMs(secs)).toBe(7000)

    const date = new Date(Date.now() + 30_000).toUTCString()
    const dated = classify("p", response(503, { "retry-after": date }, "busy"))!
    expect(dated.transient).toBe(true)
    expect(dated.retryAfterMs).toBeGreaterThan(25_000)
    expect(dated.retryAfterMs).toBeLessThanOrEqual(30_000)

    const ms = classify("p", response(429, { "retry-after-ms": "250", "retry-after": "9" }, "slow down"))!
    expect(ms.retryAfterMs).toBe(250)
  })

  it.each([408, 409, 429, 500, 502, 503, 504])("%i is transient", (status) => {
    expect(classify("p", response(status, {}, { error: { message: "try later" } }))!.transient).toBe(true)
  })

  it.each([400, 401, 402, 403, 404, 422])("%i is permanent with the provider's own message", (status) => {
    const error = classify("p", response(status, {}, { error: { message: `the provider says ${status}`, code: "x" } }))!
    expect(error).toMatchObject({ transient: false, status, message: `the provider says ${status}`, provider: "p" })
  })

  it("reads fal's {detail} (string or array of {msg}) and plain text", () => {
    expect(classify("fal", response(422, {}, { detail: [{ loc: ["body", "prompt"], msg: "field required", type: "missing" }] }))!).toMatchObject({
      message: "prompt: field required",
      code: "missing",
      transient: false
    })
    expect(classify("fal", response(404, {}, { detail: "Request not found" }))!.message).toBe("Request not found")
    expect(classify("p", response(502, {}, "<html>Bad Gateway</html>"))!.message).toBe("<html>Bad Gateway</html>")
    expect(classify("p", response(500, {}, ""))!.message).toContain("HTTP 500")
  })

  it("x-fal-retryable overrides the status; moderation is permanent", () => {
    expect(classify("fal", response(503, { "x-fal-retryable": "false" }, { detail: "no" }))!.transient).toBe(false)
    expect(classify("fal", response(400, { "x-fal-retryable": "true" }, { detail: "try again" }))!.transient).toBe(true)
    expect(classify("openai", response(400, {}, { error: { message: "blocked", code: "moderation_blocked" } }))!.transient).toBe(false)
  })

  it("keeps the request id", () => {
    expect(classify("openai", response(500, { "x-request-id": "req_1" }, "x"))!.requestId).toBe("req_1")
  })
})

describe("redact", () => {
  it("replaces every occurrence of every secret", () => {
    expect(redact(`a ${secret} b ${secret}`, [secret, ""])).toBe("a *** b ***")
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

  it.live("a time-out is transient and says how long it waited", () =>
    Effect.gen(function*() {
      server.inject({ kind: "hang" })
      const error = yield* Effect.flip(request("/slow", { timeoutMs: 200 }))
      expect(error).toMatchObject({ transient: true, provider: "testprov" })
      expect(error.message).toContain("200 ms")
      const [entry] = yield* IoLog.entries
      expect(entry!.status).toBeUndefined()
      expect(entry!.error).toContain("200 ms")
    }).pipe(Effect.provide(layer())))

  it.live("a reset connection and a refused port are transient", () =>
    Effect.gen(function*() {
      server.inject({ kind: "reset" })
      expect((yield* Effect.flip(request("/x"))).transient).toBe(true)

      const closed = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const s = http.createServer()
          s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as AddressInfo).port
            s.close(() => resolve(port))
          })
        })
      )
      const refused = yield* Effect.flip(
        Effect.flatMap(Http, (h) => h.request("testprov", { method: "GET", url: `http://127.0.0.1:${closed}/` }))
      )
      expect(refused.transient).toBe(true)
      expect(refused.message).toContain("network error talking to testprov")
    }).pipe(Effect.provide(layer())))

  it.live("a body cut short of its content-length is transient", () =>
    Effect.gen(function*() {
      server.inject({ kind: "truncated" })
      const error = yield* Effect.flip(request("/file.png"))
      expect(error.transient).toBe(true)
      expect(error.message).toContain("cut short")
    }).pipe(Effect.provide(layer())))

  it.live("malformed JSON is a transient error from json()", () =>
    Effect.gen(function*() {
      server.inject({ kind: "malformedJson" })
      const res = yield* request("/x")
      expect(res.status).toBe(200)
      const error = yield* Effect.flip(res.json())
      expect(error).toMatchObject({ transient: true, message: expect.stringContaining("malformed JSON from testprov") })
    }).pipe(Effect.provide(layer())))

  it.live("an answer larger than maxBytes is permanent", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(request("/big", { maxBytes: 1024 }))
      expect(error.transient).toBe(false)
      expect(error.message).toContain("1024-byte limit")
    }).pipe(Effect.provide(layer())))

  it.live("an Effect.retry that retries only transient errors gets past a 429", () =>
    Effect.gen(function*() {
      server.inject({ kind: "rateLimit", retryAfter: "1" })
      const attempt = Effect.flatMap(request("/ok"), (res) => {
        const error = classify("testprov", res)
        return error === undefined ? Effect.succeed(res) : Effect.fail(error)
      })
      const res = yield* attempt.pipe(Effect.retry({ while: isTransient, times: 2, schedule: Schedule.spaced("10 millis") }))
      expect(res.status).toBe(200)
      expect((yield* IoLog.entries).map((e) => e.status)).toEqual([429, 200])
    }).pipe(Effect.provide(layer())))
})

describe("download", () => {
  const dl = (path: string, opts: { maxBytes?: number; contentTypePrefix?: string } = {}) =>
    download("testprov", `${server.url}${path}`, { allowedBases: [`${server.url}/`], ...opts })

  it.live("downloads a file under an allowed base, following redirects", () =>
    Effect.gen(function*() {
      expect(Buffer.from(yield* dl("/file.png", { contentTypePrefix: "image/" })).equals(Buffer.from(png))).toBe(true)
      expect(Buffer.from(yield* dl("/moved")).equals(Buffer.from(png))).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.live("refuses plain http outside the allowed bases without sending anything", () =>
    Effect.gen(function*() {
      const before = server.requests.length
      const error = yield* Effect.flip(download("testprov", `${server.url}/file.png`, { allowedBases: ["http://127.0.0.1:1/v1"] }))
      expect(error.transient).toBe(false)
      expect(error.message).toContain("https")
      expect(server.requests.length).toBe(before)
      expect(yield* IoLog.entries).toHaveLength(0)
    }).pipe(Effect.provide(layer())))

  it.live("fails over maxBytes (permanent), when truncated (transient) and on a wrong content-type (permanent)", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(dl("/big", { maxBytes: 1000 }))).transient).toBe(false)
      server.inject({ kind: "truncated" })
      expect((yield* Effect.flip(dl("/file.png"))).transient).toBe(true)
      const wrongType = yield* Effect.flip(dl("/page.html", { contentTypePrefix: "image/" }))
      expect(wrongType.transient).toBe(false)
      expect(wrongType.message).toContain("text/html")
    }).pipe(Effect.provide(layer())))

  it.live("a provider error while downloading is classified", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(dl("/fal-detail"))
      expect(error).toMatchObject({ status: 422, transient: false, message: "image_url: field required" })
      server.inject({ kind: "serverError", status: 503 })
      expect((yield* Effect.either(dl("/file.png"))).pipe(Either.isLeft)).toBe(true)
    }).pipe(Effect.provide(layer())))
})
