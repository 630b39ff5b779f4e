/**
 * Issue 16 §4, continuity by end frame (contract 8): with `continuity: "end-frames"` and a clip model that takes
 * one (Kling 1.6 pro's `tail_image_url`), each clip is asked to end on the next shot's image, and that image is
 * in its fingerprint (a new next image re-pays the clip before it, and `why` says so). A model without one is a
 * config error, exit 2, before anything is paid.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { cli, makeWorkspace, runBuild, smallConfig } from "../e2e/harness.ts"
import { refine } from "./run.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]
const pro = "fal-ai/kling-video/v1.6/pro/image-to-video"

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

const videoInputs = () =>
  fakes.fal.received
    .filter((r) => r.method === "POST" && r.path.includes("image-to-video") && !r.path.includes("/requests/"))
    .map((r) => r.json as { image_url?: string; tail_image_url?: string })

describe("continuity by end frame (cloud profile, fakes)", () => {
  it("each clip but the last is asked to end on the next shot's image; a new next image re-pays the clip before it", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud", continuity: "end-frames"`) })
    const env = { ...fakes.env, FALAI_VIDEO_MODEL: pro }
    fakes.reset()
    const first = await runBuild(dir, {}, env)
    expect(first.summary.failed).toEqual([])
    const inputs = videoInputs().slice(-3)
    expect(inputs).toHaveLength(3)
    expect(inputs.filter((i) => typeof i.tail_image_url === "string")).toHaveLength(2)

    // Shot 2's image changes: its clip and shot 1's (which ends on it) are made again, shot 3's is kept.
    await refine(dir, { shot: "shot:2", prompt: "snow on the pines, close, blue hour" }, env)
    const why = cli(["why", "shot:1:video"], { cwd: dir, env })
    expect(why.stdout).toContain("shot:2:image")
    fakes.reset()
    const again = await runBuild(dir, {}, env)
    expect(again.summary.built.filter((id) => /^shot:\d+:video$/.test(id)).sort()).toEqual(["shot:1:video", "shot:2:video"])
  }, 240_000)

  it("a clip model without an end frame is a one-line config error, exit 2, before anything is paid", () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud", continuity: "end-frames"`) })
    fakes.reset()
    const r = cli(["build"], { cwd: dir, env: fakes.env })
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
    expect(r.stderr).toContain("end frame")
    expect(fakes.counts().total).toBe(0)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(false)
  }, 120_000)
})
