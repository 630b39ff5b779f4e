/// <reference lib="dom" />
// (the callbacks given to page.evaluate run in the browser)
/**
 * The final cut as a person gets it (real draft build, 160x90 @ 12 fps): out/final.mp4 lasts its sentences,
 * plays to its end in Chromium's <video>, is made again from the store with the same bytes, and an edit of one
 * sentence rebuilds that sentence and the cut, nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { hasChromium, launch } from "./browser.ts"
import { ffprobe, makeWorkspace, runBuild } from "./harness.ts"

const story = [
  "The keeper climbed the stairs.",
  "Far below, the sea rolled against the rocks, grey and slow, as the light turned above it.",
  "Then the lamp came alive."
]

let dir = ""
// This file checks the join without ffmpeg (opt-in: STORYSHOT_FINAL_JOIN=tables); the other e2e files build
// with the default, ffmpeg's concat.
const joinBefore = process.env.STORYSHOT_FINAL_JOIN
beforeAll(async () => {
  process.env.STORYSHOT_FINAL_JOIN = "tables"
  dir = makeWorkspace(story.join("\n\n"))
  const first = await runBuild(dir)
  expect(first.summary.failed).toEqual([])
}, 180_000)
afterAll(() => {
  if (joinBefore === undefined) delete process.env.STORYSHOT_FINAL_JOIN
  else process.env.STORYSHOT_FINAL_JOIN = joinBefore
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

const final = () => path.join(dir, "out", "final.mp4")
const seconds = (file: string) => Number(ffprobe(file).format.duration)
const sentenceFiles = () =>
  fs
    .readdirSync(path.join(dir, "out", "sentences"))
    .sort()
    .map((f) => path.join(dir, "out", "sentences", f))

/** Plays the film in headless Chromium, fast, to its end: what the element reports. */
const play = async (file: string) => {
  const page = path.join(path.dirname(file), "play.html")
  fs.writeFileSync(page, `<!doctype html><video id="v" src="${path.basename(file)}" muted></video>`)
  const { context, close } = await launch()
  try {
    const tab = await context.newPage()
    await tab.goto(`file://${page}`)
    return await tab.evaluate(async () => {
      const v = document.getElementById("v") as HTMLVideoElement
      await new Promise((ok, no) => {
        if (v.readyState >= 1) ok(0)
        v.onloadedmetadata = ok
        v.onerror = () => no(new Error(`media error ${v.error?.code}: ${v.error?.message}`))
      })
      v.playbackRate = 4
      await v.play()
      await new Promise((ok) => {
        v.onended = ok
        setTimeout(ok, 30_000)
      })
      return {
        duration: v.duration,
        ended: v.ended,
        width: v.videoWidth,
        height: v.videoHeight,
        frames: (v as unknown as { webkitDecodedFrameCount: number }).webkitDecodedFrameCount,
        audioBytes: (v as unknown as { webkitAudioDecodedByteCount: number }).webkitAudioDecodedByteCount,
        error: v.error?.code ?? null
      }
    })
  } finally {
    await close()
    fs.rmSync(page, { force: true })
  }
}

describe("the final cut", () => {
  it("lasts its sentences, to the frame, with sound and picture the same length", () => {
    const info = ffprobe(final())
    const v = info.streams.find((s) => s.codec_type === "video")!
    const a = info.streams.find((s) => s.codec_type === "audio")!
    const sum = sentenceFiles().reduce((acc, f) => acc + seconds(f), 0)
    expect(Math.abs(Number(v.duration) - sum)).toBeLessThanOrEqual(1 / 12)
    expect(Math.abs(Number(a.duration) - Number(v.duration))).toBeLessThan(0.001)
  })

  it.skipIf(!hasChromium())("plays to its end in Chromium's <video>, picture and sound", async () => {
    const r = await play(final())
    expect(r.error).toBeNull()
    expect(r.ended).toBe(true)
    expect(r.width).toBe(160)
    expect(r.height).toBe(90)
    expect(r.duration).toBeCloseTo(seconds(final()), 2)
    expect(r.frames).toBeGreaterThan(0)
    expect(r.audioBytes).toBeGreaterThan(0)
  }, 60_000)

  it("is made again from the store without building anything, byte for byte", async () => {
    const before = fs.readFileSync(final())
    fs.rmSync(path.join(dir, "out"), { recursive: true, force: true })
    const again = await runBuild(dir)
    expect(again.summary.built).toEqual([])
    expect(fs.readFileSync(final()).equals(before)).toBe(true)
  }, 120_000)

  it("an edit of one sentence rebuilds that sentence and the cut; the film still plays", async () => {
    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], story[1], "Then the lamp came alive at last."].join("\n\n"))
    const edit = await runBuild(dir)
    expect(edit.summary.failed).toEqual([])
    const built = new Set(edit.summary.built)
    expect(built.has("final")).toBe(true)
    expect(built.has("sentence:3:mux")).toBe(true)
    expect([...built].filter((id) => /^sentence:[12]:/.test(id))).toEqual([])
    const info = ffprobe(final())
    const sum = sentenceFiles().reduce((acc, f) => acc + seconds(f), 0)
    expect(Math.abs(Number(info.format.duration) - sum)).toBeLessThanOrEqual(1 / 12)
    if (hasChromium()) expect((await play(final())).ended).toBe(true)
  }, 180_000)
})
