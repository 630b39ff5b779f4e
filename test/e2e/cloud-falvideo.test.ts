/**
 * fal video models beyond Kling 1.6 (issue 17) in cloud builds against the fake fal: Kling 2.6 pro (its
 * `start_image_url`, sound off), Hailuo 2.3 (6 s clips) and Wan 2.5 each make a film; a rebuild pays 0; an edit
 * pays one clip; the cost is known from the table (unknown for Wan 2.5, whose price was not found).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines."]

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

describe.each([
  ["fal-ai/kling-video/v2.6/pro/image-to-video", { generate_audio: false, duration: "5" }, "start_image_url", true],
  ["fal-ai/minimax/hailuo-2.3/standard/image-to-video", { prompt_optimizer: false, duration: "6" }, "image_url", true],
  // No price page was read for Wan 2.5: its cost is unknown, never $0.
  ["fal-ai/wan-25-preview/image-to-video", { enable_prompt_expansion: false, resolution: "480p" }, "image_url", false]
] as const)("FALAI_VIDEO_MODEL=%s", (model, fields, imageField, priced) => {
  it("makes a film with the model's own fields; a rebuild pays 0; an edit pays one clip", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud"`) })
    const env = { ...fakes.env, FALAI_VIDEO_MODEL: model }
    fakes.reset()
    const first = await runBuild(dir, {}, env)
    expect(first.summary.failed).toEqual([])
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    expect(first.summary.cost.known).toBe(priced)
    const input = fakes.fal.inputs(model).at(-1)
    expect(input).toMatchObject(fields)
    expect(typeof input[imageField]).toBe("string")
    expect(fakes.counts().videoSubmits).toBe(2)
    fakes.reset()
    expect((await runBuild(dir, {}, env)).summary.built).toEqual([])
    expect(fakes.counts().total).toBe(0)
    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], "Heavy snow fell on the old pines."].join("\n"))
    fakes.reset()
    const third = await runBuild(dir, {}, env)
    expect(third.summary.failed).toEqual([])
    expect(fakes.counts().videoSubmits).toBe(1)
  })
})
