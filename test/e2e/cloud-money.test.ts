/**
 * The money rule against the fake providers: a paid node's fingerprint holds only what changes the request
 * it sends. Re-voicing keeps the shot counts, so it re-pays the narration and nothing else; the exact
 * durations reach only the (free) muxes. Requests are counted at the fakes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { ffprobe, makeWorkspace, runBuild, smallConfig } from "./harness.ts"

// The fake narrates ~0.4 s a word: the first sentence gets 3 shots (7.2 s), the second 1.
const story = [
  "A hunter watched from the ridge, silent and still, as the light grew over the valley and the river.",
  "Snow fell on the pines."
]

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

describe("the money rule (cloud profile, fakes)", () => {
  it("a long sentence gets several shots, each bought once; re-voicing re-pays only the narration", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud", voice: { fal: "Calm_Woman" }`) })
    fakes.reset()
    const first = await runBuild(dir, {}, fakes.env)
    expect(first.summary.failed).toEqual([])
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 2, chats: 2, images: 4, videoSubmits: 4 })
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, ".storyshot", "story.json"), "utf8"))
    expect(manifest.sentences.map((s: { shots: Array<unknown> }) => s.shots.length)).toEqual([3, 1])
    // Each 5 s clip is cut to its shot in the mux: the film lasts the narration, not 4 × 5 s.
    const video = Number(ffprobe(path.join(dir, "out", "final.mp4")).streams.find((s) => s.codec_type === "video")!.duration)
    expect(video).toBeGreaterThan(8.5)
    expect(video).toBeLessThan(10)

    fs.writeFileSync(
      path.join(dir, "storyshot.config.mjs"),
      smallConfig(`profile: "cloud", voice: { fal: "Deep_Voice_Man" }`)
    )
    fakes.reset()
    const revoiced = await runBuild(dir, {}, fakes.env)
    expect(revoiced.summary.failed).toEqual([])
    // Two narrations bought again; no shot list, image or clip.
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 2, chats: 0, images: 0, videoSubmits: 0, uploads: 0 })
    const rebuilt = revoiced.summary.built
    expect(rebuilt).toEqual(expect.arrayContaining(["sentence:1:audio", "sentence:2:audio", "sentence:1:mux", "sentence:2:mux", "final"]))
    expect(rebuilt.filter((id) => /prompts|image|video/.test(id))).toEqual([])
  })
})
