/**
 * Two things a person meets first, from outside: Ctrl-C stops the server even while a page holds the event
 * stream open (Node's server.close() waits for open connections, and an event stream never ends by itself),
 * and a request that does not match the API is told what is wrong in one line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { request, startServer, tempRoot, type Server } from "./harness.ts"

describe("storyshot serve from outside", () => {
  let server: Server
  let root = ""
  beforeAll(async () => {
    root = tempRoot()
    fs.mkdirSync(path.join(root, "film"))
    fs.writeFileSync(path.join(root, "film", "transcript.txt"), "One line.")
    server = await startServer(["--root", root])
  }, 90_000)
  afterAll(async () => {
    if (server.child.exitCode === null) await server.kill9()
    fs.rmSync(root, { recursive: true, force: true })
  })

  it("a request that does not match the API gets a 400 whose message is one line naming the field", async () => {
    const missing = await request(`${server.url}/api/projects`, { method: "POST", json: { name: "x" } })
    expect(missing.status).toBe(400)
    expect(missing.json.message).toBe("the request does not match the API: transcript: is missing (the shapes are at /docs)")
    const wrong = await request(`${server.url}/api/projects`, { method: "POST", json: { name: "x", transcript: "Hi.", profile: "gold" } })
    expect(wrong.status).toBe(400)
    expect(wrong.json.message).toBe('the request does not match the API: profile: expected "draft" or "cloud", got "gold" (the shapes are at /docs)')
    // The issues stay there for programs.
    expect(wrong.json.issues.length).toBeGreaterThan(0)
    const typo = await request(`${server.url}/api/projects`, { method: "POST", json: { name: "x", transcript: "Hi.", settings: { heigth: 3 } } })
    expect(typo.status).toBe(400)
    expect(typo.json.message).toMatch(/^the request does not match the API: settings\.heigth: is unexpected, expected: .*"height"/)
    for (const r of [missing, wrong, typo]) expect(r.json.message).not.toContain("\n")
  })

  it("Ctrl-C stops it while an event stream is open, and the stream ends", async () => {
    const res = await fetch(`${server.url}/api/projects/film/events`)
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    const first = await reader.read()
    expect(new TextDecoder().decode(first.value)).toMatch(/retry:|Hello/)
    const streamEnded = (async () => {
      try {
        for (;;) if ((await reader.read()).done) return true
      } catch {
        return true
      }
    })()
    const code = await server.stop()
    expect(code).not.toBeNull()
    expect(await streamEnded).toBe(true)
  }, 60_000)
})
