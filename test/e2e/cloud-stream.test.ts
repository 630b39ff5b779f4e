/**
 * fal's status stream (`status_url/stream`, server-sent events) in a cloud build against the fakes: it
 * tells when each narration and clip is done, so nothing is polled; and when streams break (drop half-way,
 * or answer and then say nothing), the requests are polled instead: the film is made, nothing is paid
 * twice, and the next build pays nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import { makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines."]
const cloud = smallConfig(`profile: "cloud"`)

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

const pathOf = (p: string) => p.split("?")[0]!
const polls = () => fakes.fal.received.filter((r) => r.method === "GET" && pathOf(r.path).endsWith("/status")).length
const streams = () => fakes.fal.received.filter((r) => r.method === "GET" && pathOf(r.path).endsWith("/status/stream")).length
/** fal requests of this build (narrations and clips), by id. */
const falRequests = (since: ReadonlySet<string>) => [...fakes.fal.requests.values()].filter((r) => !since.has(r.id))

describe("fal's status stream in a cloud build", () => {
  it("tells each narration and clip is done: no status is polled, one stream per request; a rebuild pays nothing", async () => {
    fakes.reset()
    const before = new Set(fakes.fal.requests.keys())
    const polled = polls()
    const opened = streams()
    const dir = makeWorkspace(story.join("\n"), { config: cloud })
    const r = await runBuild(dir, {}, fakes.env)
    expect(r.summary.failed).toEqual([])
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    const made = falRequests(before)
    const clips = r.summary.built.filter((id) => id.endsWith(":video")).length
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 2, videoSubmits: clips })
    expect(made).toHaveLength(2 + clips)
    expect(streams() - opened).toBe(made.length)
    expect(polls() - polled).toBe(0)

    fakes.reset()
    const again = await runBuild(dir, {}, fakes.env)
    expect(again.summary.built).toEqual([])
    expect(fakes.counts().total).toBe(0)
  })

  it("streams that drop or hang: every request is polled instead; nothing is paid twice, and the rebuild pays nothing", async () => {
    fakes.reset()
    const before = new Set(fakes.fal.requests.keys())
    // Each fault is taken by one submit: both narrations' streams drop after their first event, every
    // clip's stream answers and then never says anything.
    for (let i = 0; i < 2; i++) fakes.fal.inject({ kind: "stream-drops", afterEvents: 1 }, models.tts)
    for (let i = 0; i < 12; i++) fakes.fal.inject({ kind: "stream-hangs" }, models.video)
    const dir = makeWorkspace(story.join("\n"), { config: cloud })
    const r = await runBuild(dir, {}, fakes.env)
    expect(r.summary.failed).toEqual([])
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    expect(r.summary.repaid).toEqual([])
    const made = falRequests(before)
    const clips = r.summary.built.filter((id) => id.endsWith(":video")).length
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 2, videoSubmits: clips })
    expect(made).toHaveLength(2 + clips)
    expect(made.filter((q) => q.fault?.kind === "stream-drops")).toHaveLength(2)
    expect(made.filter((q) => q.fault?.kind === "stream-hangs")).toHaveLength(clips)
    // Every one was collected by polling after its stream broke.
    for (const q of made) expect(fakes.fal.received.some((x) => pathOf(x.path).endsWith(`/requests/${q.id}/status`))).toBe(true)

    fakes.reset()
    const again = await runBuild(dir, {}, fakes.env)
    expect(again.summary.built).toEqual([])
    expect(fakes.counts().total).toBe(0)
  })
})
