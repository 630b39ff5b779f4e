/**
 * Ctrl-C in a cloud build, with the real command against the fakes (issue 12, "Ctrl-C and cancellation").
 *
 * - Clips fal is already making (IN_PROGRESS) are never cancelled: their handles stay in `.storyshot/inflight/`,
 *   the command says so ("3 clips still being made by fal are kept; the next build collects them"), and the
 *   next build collects them: 0 cancelled, 0 bought again, the film complete.
 * - An image OpenAI is making (a synchronous call, billed once made) is waited for: the command says so, keeps
 *   the answer, exits 130, and the next build uses it without paying again.
 * Counts are taken at the fakes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import { cliAsync, makeWorkspace, manifest, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]
const cloud = smallConfig(`profile: "cloud"`)

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

const until = async (what: () => boolean, timeoutMs: number, why: string) => {
  const end = Date.now() + timeoutMs
  while (!what()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${why}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const run = (dir: string) => {
  const child = cliAsync(["build"], { cwd: dir, env: fakes.env })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (c) => (stdout += String(c)))
  child.stderr!.on("data", (c) => (stderr += String(c)))
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  return { child, exited, output: () => ({ stdout, stderr }) }
}

const inflight = (dir: string) => {
  const d = path.join(dir, ".storyshot", "inflight")
  return fs.existsSync(d) ? fs.readdirSync(d).map((f) => JSON.parse(fs.readFileSync(path.join(d, f), "utf8"))) : []
}

describe("Ctrl-C in a cloud build", () => {
  it("keeps the clips fal is making (0 cancelled), says so, and the next build collects them (0 bought again)", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: cloud })
    fakes.reset()
    // Clips stay IN_PROGRESS (fal is working on them) until the test lets them finish.
    fakes.fal.setOptions({ workMs: (model) => (/video|i2v/.test(model) ? 10 * 60_000 : 0) })
    const build = run(dir)
    const working = () => [...fakes.fal.requests.values()].filter((r) => r.model === models.video && r.state === "IN_PROGRESS")
    await until(() => working().length >= 2, 90_000, `two clips IN_PROGRESS (${build.output().stderr})`)
    const making = working().map((r) => r.id)
    build.child.kill("SIGINT")
    expect(await build.exited).toBe(130)
    const { stderr } = build.output()
    const clips = [...fakes.fal.requests.values()].filter((r) => r.model === models.video)

    // None that fal was making is cancelled. A clip submitted just before the Ctrl-C, still waiting in fal's
    // queue at the build's last look (its status stream had not told it started), may be: that one was never
    // billed, and the next build submits it again (a first payment, not a second).
    expect(fakes.fal.cancelsInProgress).toBe(0)
    const queued = clips.filter((r) => r.cancelled)
    for (const r of queued) expect(r.cancelledWhile).toBe("IN_QUEUE")
    for (const id of making) expect(queued.map((r) => r.id)).not.toContain(id)
    if (queued.length === 0) expect(stderr).toContain(`${clips.length} clips still being made by fal are kept; the next build collects them`)
    else expect(stderr).toMatch(/still being made by fal (are|is) kept; the next build collects/)
    // Their handles are on disk for the next build.
    expect(inflight(dir).map((h) => h.requestId).sort()).toEqual(expect.arrayContaining(making.sort()))

    fakes.fal.setOptions({ workMs: () => 0 })
    const before = fakes.counts()
    const falSeen = fakes.fal.received.length
    const again = run(dir)
    expect(await again.exited, again.output().stderr).toBe(0)
    const after = fakes.counts()
    // Over both builds, each narration, still, upload and clip was bought exactly once. On a loaded machine the
    // Ctrl-C may come before the last clip was submitted; the second build then submits that one for the first
    // time, which is not a second payment. A clip kept at the Ctrl-C must never be submitted again.
    const shots = manifest(dir).sentences.reduce((n: number, s: { shots: Array<unknown> }) => n + s.shots.length, 0)
    expect(after.videoSubmits).toBe(shots + queued.length)
    expect(after.videoSubmits - before.videoSubmits).toBe(shots - clips.length + queued.length)
    expect(after.uploads).toBe(shots + queued.length)
    expect(after.images).toBe(shots)
    expect(after.ttsSubmits).toBe(story.length)
    expect(after.cancels).toBe(queued.length)
    // Each kept clip was collected: polled again by the second build.
    for (const id of making) expect(fakes.fal.received.slice(falSeen).some((q) => q.path.includes(`/requests/${id}/status`))).toBe(true)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    expect(inflight(dir)).toEqual([])
    console.log(`ctrl-c test (clips): ${JSON.stringify({ inProgressAtCtrlC: making.length, clipsSubmitted: clips.length, cancelled: fakes.fal.cancels, cancelledInProgress: fakes.fal.cancelsInProgress, submittedNextBuild: after.videoSubmits - before.videoSubmits, collected: making.length })}`)
  }, 180_000)

  it("a second Ctrl-C quits at once and still keeps the handles: the next build collects the clips", async () => {
    const dir = makeWorkspace(story.slice(0, 2).join("\n"), { config: cloud })
    fakes.reset()
    fakes.fal.setOptions({ workMs: (model) => (/video|i2v/.test(model) ? 10 * 60_000 : 0) })
    const build = run(dir)
    const working = () => [...fakes.fal.requests.values()].filter((r) => r.model === models.video && r.state === "IN_PROGRESS")
    await until(() => working().length >= 2, 90_000, `two clips IN_PROGRESS (${build.output().stderr})`)
    const making = working().map((r) => r.id)
    // The first Ctrl-C looks at each request's status before deciding; make that look slow, so the second
    // Ctrl-C comes while the build is still stopping.
    fakes.fal.setLatency((req) => (req.path.includes("/status") ? 2_000 : 0))
    await new Promise((r) => setTimeout(r, 100))
    build.child.kill("SIGINT")
    await new Promise((r) => setTimeout(r, 300))
    build.child.kill("SIGINT")
    expect(await build.exited).toBe(130)
    expect(build.output().stderr).toContain("stopped at once")
    // Only a clip still in fal's queue may be cancelled (not billed; submitted again next time), never one fal makes.
    expect(fakes.fal.cancelsInProgress).toBe(0)
    const queued = [...fakes.fal.requests.values()].filter((r) => r.model === models.video && r.cancelled)
    for (const r of queued) expect(r.cancelledWhile).toBe("IN_QUEUE")
    expect(inflight(dir).map((h) => h.requestId)).toEqual(expect.arrayContaining(making))

    fakes.fal.setLatency(() => 0)
    fakes.fal.setOptions({ workMs: () => 0 })
    const before = fakes.counts()
    const again = run(dir)
    expect(await again.exited, again.output().stderr).toBe(0)
    expect(fakes.counts().videoSubmits - before.videoSubmits).toBe(queued.length)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
  }, 180_000)

  it("waits for an image OpenAI is making (it is billed), keeps it, and the next build uses it", async () => {
    const dir = makeWorkspace(story.slice(0, 2).join("\n"), { config: cloud })
    fakes.reset()
    fakes.fal.setOptions({ workMs: () => 0 })
    fakes.openai.setLatency(() => 1_500)
    const build = run(dir)
    await until(() => fakes.counts().images >= 1, 90_000, "an image request on its way")
    await new Promise((r) => setTimeout(r, 200))
    const atCtrlC = fakes.counts().images
    build.child.kill("SIGINT")
    expect(await build.exited).toBe(130)
    // Every image asked for before the build stopped (one may have started as the Ctrl-C came) was waited for.
    const asked = fakes.counts().images
    const { stderr } = build.output()
    expect(stderr).toMatch(/wait {4}shot:\d+:image: OpenAI is making this image and it is paid for: waiting for it before stopping/)
    fakes.openai.setLatency(() => 0)

    const before = fakes.counts()
    const again = run(dir)
    expect(await again.exited, again.output().stderr).toBe(0)
    const after = fakes.counts()
    // The images asked for before Ctrl-C were all received and kept: none is asked for again.
    expect(after.images - before.images).toBe(2 - asked)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    console.log(`ctrl-c test (images): ${JSON.stringify({ inFlightAtCtrlC: atCtrlC, askedBeforeStopping: asked, askedAgain: after.images - before.images - (2 - asked) })}`)
  }, 180_000)
})
