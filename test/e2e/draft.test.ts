import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { ffprobe, makeWorkspace, runBuild } from "./harness.ts"

const story = [
  "The fox ran across the frozen river at dawn.",
  "Snow fell on the pines.",
  "A hunter watched from the ridge, silent and still, as the light grew over the valley."
]

describe("draft pipeline, end to end (real ffmpeg, 160x90 @ 12 fps)", () => {
  it("builds out/final.mp4 whose length is the narration's, then a second build runs nothing", async () => {
    const dir = makeWorkspace(story.join("\n"))
    const first = await runBuild(dir)
    expect(first.summary.failed).toEqual([])
    const final = path.join(dir, "out", "final.mp4")
    const info = ffprobe(final)
    expect(info.streams.map((s) => s.codec_type).sort()).toEqual(["audio", "video"])
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, ".storyshot", "story.json"), "utf8"))
    const narration = manifest.sentences.reduce((a: number, s: { durationSec: number }) => a + s.durationSec, 0)
    const video = Number(info.streams.find((s) => s.codec_type === "video")!.duration)
    expect(Math.abs(video - narration)).toBeLessThanOrEqual(story.length / 12)
    expect(manifest.sentences).toHaveLength(3)
    expect(fs.readdirSync(path.join(dir, "out", "sentences"))).toEqual(["001.mp4", "002.mp4", "003.mp4"])

    const second = await runBuild(dir)
    expect(second.summary.built).toEqual([])
  })
})
