/**
 * `kill -9` of the server in the middle of a cloud build (against the fake providers, which count every
 * request), then a restart: the killed run is listed as interrupted (by the API and by `storyshot runs`), and
 * the next build finishes the film paying for nothing a second time unsaid: one narration and one shot list per
 * sentence, one still and one clip per shot, a clip fal was working on at the kill included (re-attached); a clip
 * whose submit answer was on the wire at the kill (sent, maybe billed, its id lost) is bought again and recorded
 * as `repaid`, and nothing else is.
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

    // Kill it once every still is made and fal has clips: the first clip's submit answered at once (its request
    // id kept: fal works on it, and the restarted server must re-attach to it, not buy it again), every later
    // one answered only after `holdMs`, so that at the kill at least one submit's answer is still on the wire.
    // That one was sent, maybe billed, and its id never reached the server: the next build buys it again, and
    // must say so (`repaid`). Deterministic: the kill waits for both cases to hold.
    const holdMs = 4000
    const isClipSubmit = (q: { method: string; path: string }) =>
      q.method === "POST" && /video|i2v/.test(q.path) && !q.path.startsWith("/storage/") && !q.path.split("?")[0]!.includes("/requests/")
    let clipSubmitsSeen = 0
    fakes.fal.setLatency((q) => (isClipSubmit(q) ? (clipSubmitsSeen++ === 0 ? 0 : holdMs) : 0))
    const clipSubmits = () => fakes.fal.received.filter(isClipSubmit)
    const polledClips = () => [...fakes.fal.requests.values()].filter((r) => /video|i2v/.test(r.model) && r.polls > 0).length
    const url = server.url
    await waitFor("a clip kept and another's answer on the wire", async () => {
      const job = (await request(`${url}/api/projects/${project}/builds/${runId}`)).json
      const image = job.progress.stages.find((s: any) => s.stage === "image")
      const now = Date.now()
      const clips = clipSubmits()
      // The server polls a request only once it has kept its id.
      const kept = polledClips() > 0
      const onTheWire = clips.slice(1).some((q) => now - q.at < holdMs - 1000)
      return image && image.total > 0 && image.done === image.total && kept && onTheWire ? true : undefined
    }, 120_000, 50)
    const atKill = fakes.counts()
    const keptAtKill = polledClips()
    await server.kill9()
    const killedAt = Date.now()
    server = undefined
    // Submits the server had noted as sent (about to go, or gone) without keeping their id: the most it may
    // call repaid after the restart (it cannot know whether fal got them).
    const inflight = path.join(root, project, ".storyshot", "inflight")
    const sentAtKill = fs
      .readdirSync(inflight)
      .map((f) => JSON.parse(fs.readFileSync(path.join(inflight, f), "utf8")))
      .filter((e) => typeof e.submitSentAt === "number" && e.requestId === undefined).length
    // Submits whose answers the fake had not sent when the server died (held past the kill).
    const unanswered = clipSubmits().filter((q, i) => i > 0 && q.at + holdMs > killedAt).length
    fakes.fal.setLatency(() => 0)
    expect(atKill.videoSubmits).toBeGreaterThanOrEqual(2)
    expect(unanswered).toBeGreaterThanOrEqual(1)

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

    // Counted at the fakes over both builds: each paid thing was asked for once, except the clips whose submit
    // answer was on the wire at the kill: those were bought again, and each one is recorded as repaid.
    const record = JSON.parse(fs.readFileSync(path.join(root, project, ".storyshot", "runs", next.json.id, "run.json"), "utf8"))
    expect(record.status).toBe("ok")
    const repaid = record.repaid as Array<{ id: string; why: string }>
    expect(repaid.every((r) => /^shot:\d+:video$/.test(r.id)), JSON.stringify(repaid)).toBe(true)
    for (const r of repaid) expect(r.why).toMatch(/stopped before its answer arrived/)
    const total = fakes.counts()
    const paid = { tts: total.ttsSubmits, chats: total.chats, images: total.images }
    expect(paid).toEqual({ tts: sentences, chats: sentences, images: shots })
    // Every clip bought twice is recorded as repaid; the ones held at the kill were bought twice; and repaid is
    // said only of a submit noted as sent with no id kept (one noted just before the kill may not have reached
    // fal: the server cannot tell, so it says so). Never of one whose id was kept (fal was polled for it).
    const twice = total.videoSubmits - shots
    expect(twice).toBeGreaterThanOrEqual(unanswered)
    expect(repaid.length).toBeGreaterThanOrEqual(twice)
    expect(repaid.length).toBeLessThanOrEqual(sentAtKill)
    expect(repaid.length).toBeLessThanOrEqual(shots - keptAtKill)
    expect(done.built.filter((id: string) => /:(audio|prompts|image)$/.test(id))).toEqual([])
    console.log(
      `kill -9 with ${atKill.videoSubmits} of ${shots} clips asked for, ${unanswered} of them unanswered; after the restart and resume: ${sentences} narrations, ${sentences} shot lists, ${shots} stills paid once each, ${shots} clips plus ${twice} bought twice, ${repaid.length} recorded as repaid (of ${sentAtKill} noted as sent with no id kept at the kill; fake counts ${JSON.stringify({ ...paid, clips: total.videoSubmits })})`
    )
  }, 300_000)
})
