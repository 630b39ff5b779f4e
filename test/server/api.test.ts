/**
 * The API against its own OpenAPI document, from outside: the real `storyshot serve`, a draft project made and
 * built through the API, then every operation the document lists called and its answer checked against what
 * the document says (a status it documents, a body its schema accepts, the content type it names), and the
 * document itself validated against the OpenAPI 3.1 schema.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Validator } from "@seriousme/openapi-schema-validator"
import { Ajv2020 } from "ajv/dist/2020.js"
import { request, smallSettings, startServer, tempRoot, waitForJob, type Server } from "./harness.ts"

let server: Server
let root = ""
let doc: any
const project = "the-lighthouse"
const transcript = "The keeper climbed the stairs with a lantern. The light turned slowly over the dark sea, again and again."

beforeAll(async () => {
  root = tempRoot()
  server = await startServer(["--root", root])
  const created = await request(`${server.url}/api/projects`, {
    method: "POST",
    json: { name: "The Lighthouse", transcript, settings: smallSettings }
  })
  expect(created.status, created.text).toBe(201)
  const started = await request(`${server.url}/api/projects/${project}/builds`, { method: "POST", json: {} })
  expect(started.status, started.text).toBe(202)
  const job = await waitForJob(server.url, project, started.json.id)
  expect(job.state, JSON.stringify(job)).toBe("done")
  doc = (await request(`${server.url}/openapi.json`)).json
}, 240_000)

afterAll(async () => {
  await server?.stop()
  if (root) fs.rmSync(root, { recursive: true, force: true })
})

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false })

/** Checks an answer against the document: a documented status, its content type, and its schema. */
const conforms = (op: any, answer: { status: number; headers: Headers; text: string; json: unknown }, where: string) => {
  const documented = op.responses[String(answer.status)]
  expect(documented, `${where}: status ${answer.status} is not documented (${Object.keys(op.responses).join(", ")}): ${answer.text.slice(0, 300)}`).toBeDefined()
  const content = documented.content as Record<string, { schema: object }> | undefined
  if (!content) {
    expect(answer.text, `${where}: ${answer.status} is documented without a body`).toBe("")
    return
  }
  const type = (answer.headers.get("content-type") ?? "").split(";")[0]!.trim()
  const media = content[type]
  expect(media, `${where}: content type ${type} is not documented for ${answer.status} (${Object.keys(content).join(", ")})`).toBeDefined()
  if (type === "application/json") {
    const validate = ajv.compile({ ...media!.schema, components: doc.components })
    const ok = validate(answer.json)
    expect(ok, `${where}: the body does not match the documented schema: ${ajv.errorsText(validate.errors)}\n${answer.text.slice(0, 500)}`).toBe(true)
  }
}

const operation = (method: string, p: string) => {
  const op = doc.paths[p]?.[method]
  expect(op, `${method.toUpperCase()} ${p} is not in the document`).toBeDefined()
  return op
}

describe("the OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document, titled and versioned, every operation with a summary", async () => {
    const validator = new Validator()
    const result = await validator.validate(doc)
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)?.slice(0, 2000)).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe("3.1")
    expect(doc.info.title).toBe("storyshot")
    for (const [p, item] of Object.entries<any>(doc.paths))
      for (const [m, op] of Object.entries<any>(item)) expect(op.summary, `${m} ${p}`).toBeTruthy()
  })

  it("Swagger UI at /docs works offline: one page, no external script, style or font", async () => {
    const page = await request(`${server.url}/docs`)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toMatch(/text\/html/)
    const external = [...page.text.matchAll(/<(?:script|link)[^>]+(?:src|href)=["'](https?:)?\/\/[^"']+/g)].map((m) => m[0])
    expect(external).toEqual([])
    expect(page.text).toContain("SwaggerUIBundle")
  })
})

describe("every documented operation answers as documented", () => {
  it("each one, called as a client would from the document", async () => {
    const base = server.url
    const story = (await request(`${base}/api/projects/${project}/story`)).json
    const image = story.sentences[0].shots[0].image.url as string
    const [prefix, file] = image.split("/").slice(-2)
    const runs = (await request(`${base}/api/projects/${project}/builds`)).json.runs
    const runId = runs[0].id as string
    const called = new Set<string>()
    const call = async (method: string, template: string, init: RequestInit & { json?: unknown } = {}, params: Record<string, string> = {}, query = "") => {
      const op = operation(method, template)
      const url = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ""))
      const answer = await request(`${base}${url}${query}`, { method: method.toUpperCase(), ...init })
      conforms(op, answer, `${method.toUpperCase()} ${url}${query}`)
      called.add(`${method} ${template}`)
      return answer
    }
    const p = { id: project }

    // projects
    expect((await call("get", "/api/projects")).json.projects.map((x: any) => x.id)).toEqual([project])
    expect((await call("get", "/api/projects/{id}", {}, p)).status).toBe(200)
    expect((await call("get", "/api/projects/{id}", {}, { id: "nope" })).status).toBe(404)
    const created = await call("post", "/api/projects", { json: { name: "Second", transcript: "One short line.", settings: smallSettings } })
    expect(created.status).toBe(201)
    expect((await call("post", "/api/projects", { json: { name: "Bad", transcript: "Fine.", settings: { shotSeconds: "two" } } })).status).toBe(400)
    expect((await call("post", "/api/projects", { json: { name: "Typo", transcript: "Fine.", settings: { shotSecond: 2 } } })).status).toBe(400)
    expect((await call("post", "/api/projects", { json: { name: "Empty", transcript: "   " } })).status).toBe(422)
    const form = new FormData()
    form.append("name", "Uploaded")
    form.append("profile", "draft")
    form.append("transcript", new Blob(["An uploaded sentence."], { type: "text/plain" }), "story.txt")
    expect((await call("post", "/api/projects/upload", { body: form })).status).toBe(201)

    // builds
    const plan = await call("get", "/api/projects/{id}/plan", {}, p)
    expect(plan.json.nodes).toEqual([])
    expect(plan.json.upToDate).toBeGreaterThan(0)
    const forced = await call("get", "/api/projects/{id}/plan", {}, p, "?target=shot:1:image&force=true")
    expect(forced.json.nodes.map((n: any) => n.id)).toEqual(["shot:1:image"])
    expect((await call("get", "/api/projects/{id}/plan", {}, p, "?target=shot:99:image")).status).toBe(422)
    expect((await call("get", "/api/projects/{id}/builds", {}, p)).json.runs.length).toBeGreaterThan(0)
    expect((await call("get", "/api/projects/{id}/builds/{run}", {}, { ...p, run: runId })).json.state).toBe("done")
    expect((await call("get", "/api/projects/{id}/builds/{run}", {}, { ...p, run: "nope" })).status).toBe(404)
    expect((await call("post", "/api/projects/{id}/builds/{run}/cancel", {}, { ...p, run: runId })).status).toBe(409)
    expect((await call("post", "/api/projects/{id}/builds", { json: { targets: ["shot:99:image"] } }, p)).status).toBe(422)
    // A build to cancel: the second project has not been built.
    const second = created.json.id as string
    const started = await call("post", "/api/projects/{id}/builds", { json: {} }, { id: second })
    expect(started.status).toBe(202)
    const cancelled = await call("post", "/api/projects/{id}/builds/{run}/cancel", {}, { id: second, run: started.json.id })
    expect(cancelled.status).toBe(200)
    expect((await waitForJob(base, second, started.json.id)).state).toBe("cancelled")
    // The event stream: its documented content type, and the Hello it always starts with.
    const ctrl = new AbortController()
    const events = await fetch(`${base}/api/projects/${project}/events`, { signal: ctrl.signal })
    expect(events.status).toBe(200)
    expect(events.headers.get("content-type")).toMatch(/^text\/event-stream/)
    expect(Object.keys(operation("get", "/api/projects/{id}/events").responses["200"].content)).toEqual(["text/event-stream"])
    const reader = events.body!.getReader()
    let sse = ""
    while (!sse.includes('"_tag":"Hello"')) sse += new TextDecoder().decode((await reader.read()).value)
    ctrl.abort()
    called.add("get /api/projects/{id}/events")
    expect((await call("get", "/api/projects/{id}/events", {}, { id: "nope" })).status).toBe(404)

    // story and shot actions
    const s = await call("get", "/api/projects/{id}/story", {}, p)
    expect(s.json.sentences.length).toBe(2)
    expect(s.json.stale).toBe(0)
    const k = { ...p, k: "1" }
    const rq = await call("post", "/api/projects/{id}/shots/{k}/reroll/quote", { json: {} }, k)
    expect(rq.json.nodes.map((n: any) => n.id)).toContain("shot:1:image")
    expect((await call("post", "/api/projects/{id}/shots/{k}/reroll/quote", { json: {} }, { ...p, k: "99" })).status).toBe(404)
    expect((await call("post", "/api/projects/{id}/shots/{k}/reroll/quote", { json: {} }, { ...p, k: "x" })).status).toBe(400)
    const pq = await call("post", "/api/projects/{id}/shots/{k}/prompt/quote", { json: { prompt: "A lantern on a spiral stair, seen from below" } }, k)
    expect(pq.json.nodes.map((n: any) => n.id)).toContain("shot:1:image")
    expect((await call("post", "/api/projects/{id}/shots/{k}/prompt/quote", { json: { prompt: "" } }, k)).status).toBe(400)
    const reroll = await call("post", "/api/projects/{id}/shots/{k}/reroll", { json: {} }, k)
    expect(reroll.status).toBe(202)
    expect((await waitForJob(base, project, reroll.json.id)).state).toBe("done")
    const pinned = await call("put", "/api/projects/{id}/shots/{k}/prompt", { json: { prompt: "A lantern on a spiral stair, seen from below", build: false } }, k)
    expect(pinned.json).toMatchObject({ k: 1, prompt: "A lantern on a spiral stair, seen from below", job: null })
    expect(JSON.parse(fs.readFileSync(path.join(root, project, "storyshot.shots.json"), "utf8")).shots).toHaveLength(1)
    const approved = await call("put", "/api/projects/{id}/shots/{k}/approval", { json: { approved: true } }, k)
    expect(approved.json).toMatchObject({ k: 1, approved: true })
    const unpinned = await call("put", "/api/projects/{id}/shots/{k}/prompt", { json: { prompt: null } }, k)
    expect(unpinned.json.prompt).toBe(null)
    expect((await waitForJob(base, project, unpinned.json.job.id)).state).toBe("done")

    // files
    const film = await call("get", "/api/projects/{id}/out/{file}", {}, { ...p, file: "final.mp4" })
    expect(film.headers.get("content-type")).toBe("video/mp4")
    const part = await call("get", "/api/projects/{id}/out/{file}", { headers: { range: "bytes=0-99" } }, { ...p, file: "final.mp4" })
    expect(part.status).toBe(206)
    expect(part.headers.get("content-range")).toMatch(/^bytes 0-99\/\d+$/)
    expect(Number(part.headers.get("content-length"))).toBe(100)
    expect((await call("get", "/api/projects/{id}/out/{file}", { headers: { range: "bytes=99999999-" } }, { ...p, file: "final.mp4" })).status).toBe(416)
    expect((await call("get", "/api/projects/{id}/out/{file}", {}, { ...p, file: "final.vtt" })).text).toMatch(/^WEBVTT/)
    expect((await call("get", "/api/projects/{id}/out/{file}", {}, { ...p, file: "nope.mp4" })).status).toBe(404)
    expect((await call("get", "/api/projects/{id}/out/sentences/{file}", {}, { ...p, file: "001.mp4" })).status).toBe(200)
    const still = await call("get", "/api/projects/{id}/.storyshot/objects/{prefix}/{file}", {}, { ...p, prefix: prefix!, file: file! })
    expect(still.headers.get("content-type")).toBe("image/png")
    expect(still.headers.get("cache-control")).toMatch(/immutable/)
    const download = await call("get", "/api/projects/{id}/out/{file}", {}, { ...p, file: "final.srt" }, "?download=1")
    expect(download.headers.get("content-disposition")).toBe('attachment; filename="final.srt"')

    // session (no token on loopback: a no-op)
    expect((await call("post", "/api/session", { json: { token: "anything" } })).status).toBe(204)

    // Every operation in the document was called.
    const all = Object.entries<any>(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`))
    expect(all.filter((o) => !called.has(o))).toEqual([])
  }, 240_000)

  it("errors are JSON that say what to do, never an empty body or a stack trace", async () => {
    const base = server.url
    const cases = [
      await request(`${base}/api/projects`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":' }),
      await request(`${base}/no/such/route`),
      await request(`${base}/api/projects/nope/story`),
      await request(`${base}/api/projects/${project}/shots/1/prompt`, { method: "PUT", json: { prompt: 5 } }),
      await request(`${base}/api/projects/${project}/builds`, { method: "POST", json: { targets: ["shot:1:imag"] } })
    ]
    expect(cases.map((c) => c.status)).toEqual([400, 404, 404, 400, 422])
    for (const c of cases) {
      expect(typeof c.json?.message, c.text).toBe("string")
      expect(c.json.message.length).toBeGreaterThan(10)
      expect(c.text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/)
    }
    expect(cases[4]!.json.message).toMatch(/did you mean "shot:1:image"/)
  })
})
