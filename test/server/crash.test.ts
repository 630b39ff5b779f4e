/**
 * `kill -9` of the server in the middle of a cloud build (against the fake providers, which count every
 * request), then a restart: the killed run is listed as interrupted (by the API and by `storyshot runs`), and
 * the next build finishes the film paying for nothing a second time: one narration and one shot list per
 * sentence, one still and one clip per shot, whatever was in flight at the kill included.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { cli } from "../e2e/harness.ts"
import { request, smallSettings, startServer, tempRoot, waitFor, waitForJob, type Server } from "./harness.ts"

const transcript = [
  "The fox ran across the frozen river at dawn.",
  "Snow fell on the pines while the hunter watched from the ridge above the valley.",
  "The river cracked under the weight."
].join("\n")

let fakes: Fakes
let root = ""
let server: Server | undefined
beforeAll(async () => {
  // Clips take long enough that the kill lands while fal is making them; the rest answers at once.
  fakes = await startFakes({ workMs: { tts: 50, video: 2500 } })
  root = tempRoot()
}, 60_000)
afterAll(async () => {
  await server?.stop()
  await fakes?.close()
  if (root) fs.rmSync(root, { recursive: true, force: true })
})

describe("a server killed mid-build", () => {
  it("comes back, shows the run as interrupted, and the next build resumes without paying twice", async () => {
    const env = { ...fakes.env, STORYSHOT_TOKEN: "" }
    server = await startServer(["--root", root], env)
    const created = await request(`${server.url}/api/projects`, {
      method: "POST",
      json: { name: "Fox", profile: "cloud", transcript, settings: smallSettings }
    })
    expect(created.status, created.text).toBe(201)
    const project = created.json.id as string
    const started = await request(`${server.url}/api/projects/${project}/builds`, { method: "POST", json: {} })
    expect(started.status, started.text).toBe(202)
    const runId = started.json.id as string

    // Kill it once every still is made and fal is working on clips (paid requests in flight).
    const url = server.url
    await waitFor("clips in flight", async () => {
      const job = (await request(`${url}/api/projects/${project}/builds/${runId}`)).json
      const stage = (name: string) => job.progress.stages.find((s: any) => s.stage === name)
      const image = stage("image")
      const video = stage("video")
      const c = fakes.counts()
      return image && video && image.total > 0 && image.done === image.total && c.videoSubmits >= 1 && video.done < video.total ? true : undefined
    }, 120_000, 50)
    const atKill = fakes.counts()
    await server.kill9()
    server = undefined
    expect(atKill.videoSubmits).toBeGreaterThanOrEqual(1)

    // Back again: the run that was killed is listed as interrupted.
    server = await startServer(["--root", root], env)
    const runs = (await request(`${server.url}/api/projects/${project}/builds`)).json.runs
    expect(runs.map((r: any) => [r.id, r.status])).toEqual([[runId, "interrupted"]])
    const job = (await request(`${server.url}/api/projects/${project}/builds/${runId}`)).json
    expect(job.state).toBe("interrupted")
    expect(job.error).toMatch(/the server stopped during this build/)
    expect(job.spent.usd).toBeGreaterThan(0)
    const listed = cli(["runs", "--json"], { cwd: path.join(root, project) })
    expect(listed.code, listed.stderr).toBe(0)
    expect(JSON.parse(listed.stdout).runs.map((r: any) => [r.runId, r.status])).toEqual([[runId, "interrupted"]])

    // The next build finishes the film.
    const next = await request(`${server.url}/api/projects/${project}/builds`, { method: "POST", json: {} })
    expect(next.status, next.text).toBe(202)
    const done = await waitForJob(server.url, project, next.json.id)
    expect(done.state, JSON.stringify(done)).toBe("done")
    const story = (await request(`${server.url}/api/projects/${project}/story`)).json
    expect(story.stale).toBe(0)
    expect(story.final.status).toBe("fresh")
    const sentences = story.sentences.length
    const shots = story.shots

    // Counted at the fakes over both builds: each paid thing was asked for once.
    const total = fakes.counts()
    const paid = { tts: total.ttsSubmits, chats: total.chats, images: total.images, clips: total.videoSubmits }
    expect(paid).toEqual({ tts: sentences, chats: sentences, images: shots, clips: shots })
    // The resumed build bought only the clips that were not asked for before the kill.
    expect(total.videoSubmits - atKill.videoSubmits).toBe(shots - atKill.videoSubmits)
    expect(done.built.filter((id: string) => /:(audio|prompts|image)$/.test(id))).toEqual([])
    const record = JSON.parse(fs.readFileSync(path.join(root, project, ".storyshot", "runs", next.json.id, "run.json"), "utf8"))
    expect(record.status).toBe("ok")
    expect(record.repaid).toEqual([])
    console.log(
      `kill -9 with ${atKill.videoSubmits} of ${shots} clips asked for; after the restart and resume: ${sentences} narrations, ${sentences} shot lists, ${shots} stills, ${shots} clips paid once each (fake counts ${JSON.stringify(paid)})`
    )
  }, 300_000)
})
