/**
 * Jobs on one server: builds of two projects run at once and share the provider pools (the OpenAI pool's 3
 * slots hold across both: the fake never sees more than 3 image requests at a time), and two builds of one
 * project queue behind its workspace lock (never both running).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { request, smallSettings, startServer, tempRoot, waitFor, type Server } from "./harness.ts"

const imageMs = 400
const transcript = (subject: string) =>
  [
    `The ${subject} crossed the frozen river at dawn while the snow kept falling on the pines.`,
    `A hunter watched the ${subject} from the ridge above the valley for a long time.`,
    `Then the ${subject} was gone into the trees.`
  ].join("\n")

let fakes: Fakes
let server: Server
let root = ""
beforeAll(async () => {
  fakes = await startFakes({ latency: { image: imageMs } })
  root = tempRoot()
  server = await startServer(["--root", root], { ...fakes.env, STORYSHOT_TOKEN: "" })
}, 90_000)
afterAll(async () => {
  await server?.stop()
  await fakes?.close()
  if (root) fs.rmSync(root, { recursive: true, force: true })
})

const create = async (name: string, profile: "draft" | "cloud", text: string) => {
  const r = await request(`${server.url}/api/projects`, { method: "POST", json: { name, profile, transcript: text, settings: smallSettings } })
  expect(r.status, r.text).toBe(201)
  return r.json.id as string
}

const start = async (project: string) => {
  const r = await request(`${server.url}/api/projects/${project}/builds`, { method: "POST", json: {} })
  expect(r.status, r.text).toBe(202)
  return r.json.id as string
}

const status = async (project: string, id: string) => (await request(`${server.url}/api/projects/${project}/builds/${id}`)).json

/** Polls jobs until all have ended; returns every state seen at each poll. */
const watch = async (jobs: ReadonlyArray<{ project: string; id: string }>) => {
  const seen: Array<Array<string>> = []
  await waitFor("the builds", async () => {
    const states = await Promise.all(jobs.map((j) => status(j.project, j.id).then((s) => s.state as string)))
    seen.push(states)
    return states.every((s) => s !== "queued" && s !== "running") ? true : undefined
  }, 240_000, 50)
  return seen
}

describe("jobs", () => {
  it("builds of two projects run at once and share the provider pools", async () => {
    const a = await create("Fox", "cloud", transcript("fox"))
    const b = await create("Wolf", "cloud", transcript("wolf"))
    fakes.reset()
    const jobs = [{ project: a, id: await start(a) }, { project: b, id: await start(b) }]
    const seen = await watch(jobs)
    expect(seen.at(-1)).toEqual(["done", "done"])
    expect(seen.some((s) => s[0] === "running" && s[1] === "running")).toBe(true)
    // Each image request holds its slot for `imageMs`: count how many were open at each arrival.
    const arrivals = fakes.openai.requests.filter((r) => r.path.endsWith("/images/generations")).map((r) => r.at).sort((x, y) => x - y)
    expect(arrivals.length).toBeGreaterThanOrEqual(8)
    const overlap = Math.max(...arrivals.map((t) => arrivals.filter((u) => u <= t && u > t - imageMs + 20).length))
    expect(overlap).toBe(3)
  }, 300_000)

  it("two builds of one project queue behind the workspace lock", async () => {
    const p = await create("Owl", "draft", transcript("owl"))
    const first = await start(p)
    const second = await start(p)
    expect((await status(p, second)).state).toBe("queued")
    const seen = await watch([{ project: p, id: first }, { project: p, id: second }])
    expect(seen.at(-1)).toEqual(["done", "done"])
    expect(seen.some((s) => s[0] === "running" && s[1] === "queued")).toBe(true)
    expect(seen.some((s) => s[0] === "running" && s[1] === "running")).toBe(false)
    // The second found everything built by the first.
    expect((await status(p, second)).built).toEqual([])
  }, 300_000)
})
