/**
 * A provider's slot is held only while the provider works (issue 14), seen at the fake fal: with one fal slot,
 * the next request is submitted while the last one's clip is still downloading; and a request is first polled
 * at the typical time the last build recorded for its kind, not a poll interval after its submit. Counted and
 * ordered at the fake, never timed. Polling is what a build falls back to when fal's status stream is not
 * there or breaks (test/e2e/cloud-stream.test.ts): these builds poll from the start (STORYSHOT_FAL_STREAM=0).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import { makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]

// The fake answers a download this long after it arrives: long enough that a loaded machine still sends the
// next submit inside the window (at 400 ms a run under load 12 once sent none there).
const DOWNLOAD_MS = 1200

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes({ workMs: { tts: 50, video: 400 }, latency: { falFiles: DOWNLOAD_MS } })
})
afterAll(() => fakes.close())

const polling = () => ({ ...fakes.env, STORYSHOT_FAL_STREAM: "0" })

const isSubmit = (path: string) => !path.includes("/requests/") && !path.startsWith("/storage/") && !path.startsWith("/files/") && !path.startsWith("/upload")

describe("fal's slot is held only while fal works", () => {
  it("with one fal slot, a request is submitted while the one before it is still being downloaded; polls start at the typical time", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud", pools: { fal: 1 }`) })
    fakes.reset()
    const from = fakes.fal.received.length
    const built = await runBuild(dir, {}, polling())
    expect(built.summary.failed).toEqual([])
    const seen = fakes.fal.received.slice(from)
    const downloads = seen.filter((r) => r.method === "GET" && r.path.startsWith("/files/"))
    const submits = seen.filter((r) => r.method === "POST" && isSubmit(r.path))
    expect(downloads.length).toBeGreaterThanOrEqual(4)
    // The fake answers a download DOWNLOAD_MS after it arrives: a submit arriving in that window was sent while
    // the download held no fal slot.
    const overlapping = submits.filter((s) => downloads.some((d) => s.at > d.at && s.at < d.at + DOWNLOAD_MS))
    expect(overlapping.length).toBeGreaterThan(0)
    // No record yet: the first clip was polled from its submit at the fakes' interval (20 ms, growing 1.5× a
    // poll: about 7 polls in fal's 400 ms, fewer when the machine is loaded and each poll answers late). Each
    // clip after it (one fal slot: submitted once the one before was seen done) was first polled at about the
    // time the first took.
    const clips = [...fakes.fal.requests.values()].filter((r) => r.model === models.video).sort((a, b) => a.submittedAt - b.submittedAt)
    expect(clips[0]!.polls).toBeGreaterThanOrEqual(3)
    expect(clips[clips.length - 1]!.polls).toBeLessThan(clips[0]!.polls)
  }, 120_000)

  it("a request is first polled at the typical time (this build's first requests, else the last build's), not at once", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud"`) })
    fakes.reset()
    await runBuild(dir, {}, polling())
    // An edit: one new clip, whose kind now has a typical time (fal took ~400 ms). Polling starts then.
    const fs = await import("node:fs")
    const path = await import("node:path")
    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], story[1], "A hunter waited on the ridge."].join("\n"))
    fakes.reset()
    const before = new Set(fakes.fal.requests.keys())
    const edit = await runBuild(dir, {}, polling())
    expect(edit.summary.failed).toEqual([])
    const fresh = [...fakes.fal.requests.entries()].filter(([id, r]) => !before.has(id) && r.model === models.video).map(([, r]) => r.polls)
    expect(fresh.length).toBe(1)
    expect(fresh[0]).toBeLessThanOrEqual(3)
  }, 120_000)
})
