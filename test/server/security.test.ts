/**
 * The server's guards, from outside: a token off loopback (every route, constant-time compare, never from the
 * query string), paths that try to leave the project (`..`, encoded separators, symlinks), writes from another
 * origin, Host names that are not loopback (DNS rebinding), bodies over the limit (413, not a dropped
 * connection), and no key in any answer, event or log line, even when a provider's error echoes one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { keys, startFakes, type Fakes } from "../fakes/all.ts"
import { cli } from "../e2e/harness.ts"
import { request, smallSettings, startServer, tempRoot, waitFor, waitForJob, type Server } from "./harness.ts"

const token = "s3cret-token-for-tests-5d41402abc4b2a76"

/** A raw request (fetch refuses to send some of these headers, e.g. Host). */
const raw = (port: number, options: http.RequestOptions & { body?: string }) =>
  new Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, ...options }, (res) => {
      let text = ""
      res.on("data", (c) => (text += String(c)))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }))
    })
    req.on("error", reject)
    if (options.body !== undefined) req.write(options.body)
    req.end()
  })

describe("bound off loopback: a token is required", () => {
  let server: Server
  let root = ""
  beforeAll(async () => {
    root = tempRoot()
    fs.mkdirSync(path.join(root, "film"))
    fs.writeFileSync(path.join(root, "film", "transcript.txt"), "One line.")
    server = await startServer(["--root", root, "--host", "0.0.0.0"], { STORYSHOT_TOKEN: token })
  }, 90_000)
  afterAll(async () => {
    await server?.stop()
    fs.rmSync(root, { recursive: true, force: true })
  })

  it("without STORYSHOT_TOKEN it does not start: exit 2, one line saying what to do", () => {
    const r = cli(["serve", "--host", "0.0.0.0", "--port", "0"], { cwd: root, env: { STORYSHOT_TOKEN: "" } })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/set STORYSHOT_TOKEN/)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
  })

  it("every route without the token gets 401 (the page gets a sign-in form), with it 200", async () => {
    const routes = ["/", "/app.js", "/app.css", "/docs", "/openapi.json", "/api/projects", "/api/projects/film", "/api/projects/film/story", "/api/projects/film/events", "/api/projects/film/out/final.mp4", "/nothing"]
    for (const r of routes) {
      const none = await request(`${server.url}${r}`)
      expect(none.status, r).toBe(401)
      expect(none.text).not.toContain(token)
      expect((await request(`${server.url}${r}`, { headers: { authorization: "Bearer wrong-token-wrong-token" } })).status, r).toBe(401)
      // A token in the query string would end up in logs and traces: never taken.
      expect((await request(`${server.url}${r}?token=${token}`)).status, r).toBe(401)
    }
    expect((await request(`${server.url}/api/projects`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    const page = await request(`${server.url}/`, { headers: { accept: "text/html" } })
    expect(page.status).toBe(401)
    expect(page.text).toContain('<form method="post" action="/api/session">')
    // A write without the token is refused before its body is read.
    const write = await request(`${server.url}/api/projects`, { method: "POST", json: { name: "x", transcript: "y" } })
    expect(write.status).toBe(401)
    expect(fs.readdirSync(root)).toEqual(["film"])
  })

  it("signing in sets a session cookie (not the token) that opens every route; a wrong token gets 401", async () => {
    const wrong = await request(`${server.url}/api/session`, { method: "POST", json: { token: "nope-nope-nope-nope" } })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get("set-cookie")).toBe(null)
    const form = await fetch(`${server.url}/api/session`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `token=${encodeURIComponent(token)}`,
      redirect: "manual"
    })
    expect(form.status).toBe(303)
    expect(form.headers.get("location")).toBe("/")
    const cookie = form.headers.get("set-cookie")!
    expect(cookie).toMatch(/^storyshot_session=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/$/)
    expect(cookie).not.toContain(token)
    const session = cookie.split(";")[0]!
    for (const r of ["/", "/app.js", "/api/projects/film"]) expect((await request(`${server.url}${r}`, { headers: { cookie: session } })).status, r).toBe(200)
    expect((await request(`${server.url}/api/projects`, { headers: { cookie: "storyshot_session=" + "0".repeat(64) } })).status).toBe(401)
  })
})

describe("on loopback (no token)", () => {
  let server: Server
  let root = ""
  let fakes: Fakes
  const project = "film"
  let sse = ""
  let sseDone: Promise<void>
  const ctrl = new AbortController()

  beforeAll(async () => {
    fakes = await startFakes()
    root = tempRoot()
    server = await startServer(["--root", root], { ...fakes.env, STORYSHOT_TOKEN: "" })
    const created = await request(`${server.url}/api/projects`, {
      method: "POST",
      json: { name: "Film", profile: "cloud", transcript: "The fox ran across the frozen river at dawn. Snow fell on the pines.", settings: smallSettings }
    })
    expect(created.status, created.text).toBe(201)
    // Listen to the events of the build below, as the page does.
    const events = await fetch(`${server.url}/api/projects/${project}/events`, { signal: ctrl.signal })
    sseDone = (async () => {
      const reader = events.body!.getReader()
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          sse += new TextDecoder().decode(value)
        }
      } catch {}
    })()
    // A provider error that echoes the key in full (as a careless gateway might): it must not reach a client.
    fakes.openai.inject({ kind: "status", status: 400, json: { error: { message: `invalid request for key ${keys.openai}`, type: "invalid_request_error", code: "bad" } } }, { times: 1 })
    const started = await request(`${server.url}/api/projects/${project}/builds`, { method: "POST", json: { keepGoing: true } })
    expect(started.status, started.text).toBe(202)
    const job = await waitForJob(server.url, project, started.json.id)
    expect(job.state).toBe("failed")
    await waitFor("the events of the end", () => (sse.includes('"state":"failed"') ? true : undefined))
    // A symlink in out/ to a file outside the project, and one to the project's own .env.
    fs.writeFileSync(path.join(root, project, ".env"), `OPENAI_KEY=${keys.openai}\n`)
    fs.symlinkSync("/etc/hostname", path.join(root, project, "out", "host.txt"))
    fs.symlinkSync(path.join(root, project, ".env"), path.join(root, project, "out", "env.txt"))
    fs.symlinkSync(path.join(root, project), path.join(root, "linked"))
  }, 180_000)

  afterAll(async () => {
    ctrl.abort()
    await sseDone
    await server?.stop()
    await fakes?.close()
    fs.rmSync(root, { recursive: true, force: true })
  })

  it("asset routes cannot leave the project: .., encoded separators, symlinks, odd names are all 404", async () => {
    const base = `${server.url}/api/projects/${project}`
    const tries = [
      "/out/..%2F.env",
      "/out/..%2F..%2F..%2Fetc%2Fpasswd",
      "/out/%2E%2E%2F.env",
      "/out/..%5C.env",
      "/out/.env",
      "/out/sentences/..%2F..%2F.env",
      "/out/sentences/..%5C..%5Cstoryshot.config.mjs",
      "/out/host.txt",
      "/out/env.txt",
      "/out/final.mp4%00.txt",
      "/.storyshot/objects/..%2F..%2F/.env",
      "/.storyshot/objects/..%2F../.env",
      "/.storyshot/objects/../../.env",
      "/.storyshot/records/ab/x.json",
      "/.storyshot/runs/x/io.jsonl",
      "/transcript.txt",
      "/.env"
    ]
    for (const t of tries) {
      const r = await request(`${base}${t}`)
      expect(r.status, t).toBe(404)
      expect(r.text, t).not.toContain(keys.openai)
      expect(r.text, t).not.toMatch(/localhost|\/etc\/|root:/)
    }
    // The same paths sent raw (no client-side normalisation of the dots).
    for (const t of ["/api/projects/film/out/../.env", "/api/projects/film/../../etc/passwd", "/api/projects/..%2F..%2Fetc/out/passwd", "/api/projects/linked/out/final.mp4"]) {
      const r = await raw(server.port, { path: t })
      expect(r.status, t).toBe(404)
    }
    // What is there is served.
    expect((await request(`${base}/out/final.srt`)).status).toBe(200)
  })

  it("writes from another origin are refused; the same origin and scripts without Origin are not", async () => {
    const body = JSON.stringify({ name: "Sneaky", transcript: "Hello there." })
    const evil = await raw(server.port, { method: "POST", path: "/api/projects", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), origin: "http://evil.example", host: `127.0.0.1:${server.port}` }, body })
    expect(evil.status).toBe(403)
    expect(JSON.parse(evil.text).message).toMatch(/another origin/)
    const site = await raw(server.port, { method: "POST", path: "/api/projects/film/builds", headers: { "content-type": "application/json", "content-length": 2, "sec-fetch-site": "cross-site", host: `127.0.0.1:${server.port}` }, body: "{}" })
    expect(site.status).toBe(403)
    const nullOrigin = await raw(server.port, { method: "PUT", path: "/api/projects/film/shots/1/approval", headers: { "content-type": "application/json", "content-length": 17, origin: "null", host: `127.0.0.1:${server.port}` }, body: '{"approved":true}' })
    expect(nullOrigin.status).toBe(403)
    expect(fs.readdirSync(root).sort()).toEqual(["film", "linked"])
    const same = await raw(server.port, { method: "PUT", path: "/api/projects/film/shots/1/approval", headers: { "content-type": "application/json", "content-length": 17, origin: `http://127.0.0.1:${server.port}`, host: `127.0.0.1:${server.port}` }, body: '{"approved":true}' })
    expect(same.status).toBe(200)
  })

  it("a Host that is not loopback is refused (DNS rebinding)", async () => {
    for (const host of ["evil.example", "evil.example:4477", "192.168.1.20"]) {
      const r = await raw(server.port, { path: "/api/projects", headers: { host } })
      expect(r.status, host).toBe(403)
    }
    expect((await raw(server.port, { path: "/api/projects", headers: { host: `localhost:${server.port}` } })).status).toBe(200)
  })

  it("a body over the limit gets 413 (JSON), not a dropped connection; one without a length gets 411", async () => {
    const big = JSON.stringify({ name: "Big", transcript: "word ".repeat(1_000_000) })
    const r = await raw(server.port, { method: "POST", path: "/api/projects", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(big) }, body: big })
    expect(r.status).toBe(413)
    expect(JSON.parse(r.text).message).toMatch(/over this server's limit/)
    const chunked = await raw(server.port, { method: "POST", path: "/api/projects", headers: { "content-type": "application/json", "transfer-encoding": "chunked" }, body: "{}" })
    expect(chunked.status).toBe(411)
  })

  it("no key in any answer, event or log line, even when a provider's error carried one", async () => {
    const base = `${server.url}/api/projects/${project}`
    const story = await request(`${base}/story`)
    const failedImage = story.json.sentences.flatMap((s: any) => s.shots).find((s: any) => s.image.status === "failed" || s.image.status === "stale")
    expect(failedImage, story.text.slice(0, 400)).toBeDefined()
    const runs = await request(`${base}/builds`)
    const answers = [
      await request(`${server.url}/api/projects`),
      await request(base),
      await request(`${base}/plan`),
      runs,
      await request(`${base}/builds/${runs.json.runs[0].id}`),
      story,
      await request(`${base}/shots/1/reroll/quote`, { method: "POST", json: {} }),
      await request(`${server.url}/`),
      await request(`${server.url}/app.js`),
      await request(`${server.url}/openapi.json`)
    ]
    const everything = [...answers.map((a) => a.text), sse, server.output()].join("\n")
    // The build did meet the echoing error: its message is there, with the key masked.
    expect(sse).toMatch(/invalid request for key \*\*\*/)
    for (const key of [keys.fal, keys.openai, keys.openrouter]) {
      expect(everything).not.toContain(key)
      // Nor a part long enough to use (fal keys are id:secret).
      for (const part of key.split(":")) if (part.length >= 12) expect(everything).not.toContain(part)
    }
  })
})
