import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { cli, ffprobe, makeWorkspace, manifest, runBuild, sentenceNodes, shotNumbers, sorted, writeTranscript } from "./harness.ts"

const story = [
  "The fox ran across the frozen river at dawn.",
  "Snow fell on the pines.",
  "A hunter watched from the ridge, silent and still, as the light grew over the valley."
]

/** What the film's edits also refresh: the free storyboard page and subtitles. */
const pages = ["final", "storyboard", "subtitles"]

describe("draft pipeline, end to end (real ffmpeg, 160x90 @ 12 fps)", () => {
  it("builds out/final.mp4 whose length is the narration's, then a second build runs nothing", async () => {
    const dir = makeWorkspace(story.join("\n"))
    const first = await runBuild(dir)
    expect(first.summary.failed).toEqual([])
    const info = ffprobe(path.join(dir, "out", "final.mp4"))
    expect(info.streams.map((s) => s.codec_type).sort()).toEqual(["audio", "video"])
    const m = manifest(dir)
    const narration = m.sentences.reduce((a: number, s: { durationSec: number }) => a + s.durationSec, 0)
    const video = Number(info.streams.find((s) => s.codec_type === "video")!.duration)
    // Within one frame per sentence.
    expect(Math.abs(video - narration)).toBeLessThanOrEqual(story.length / 12)
    expect(m.sentences).toHaveLength(3)
    for (const s of m.sentences) {
      expect(s.shots.length).toBe(Math.max(1, Math.floor(s.durationSec / 2)))
      for (const shot of s.shots) {
        expect(fs.existsSync(path.join(dir, shot.image))).toBe(true)
        expect(fs.existsSync(path.join(dir, shot.video))).toBe(true)
      }
    }
    expect(fs.readdirSync(path.join(dir, "out", "sentences"))).toEqual(["001.mp4", "002.mp4", "003.mp4"])

    const second = await runBuild(dir)
    expect(second.summary.built).toEqual([])
    expect(second.summary.cached.length).toBe(first.summary.built.length)
  })

  it("editing one sentence rebuilds only that sentence's nodes and final; case and spacing alone voice and plan nothing again", async () => {
    const dir = makeWorkspace(story.join("\n"))
    await runBuild(dir)
    writeTranscript(dir, [story[0]!, "  SNOW fell   on the pines. ", story[2]!])
    // Nothing is voiced or planned again (keyed on the normalized text); the free nodes that show the text
    // follow the new case: the card (keyed on the exact text, issue 21 §5) and what is made from it.
    expect(sorted((await runBuild(dir)).summary.built)).toEqual(["final", "sentence:2:mux", "shot:2:image", "shot:2:video", "storyboard", "subtitles"])
    // Spacing alone changes nothing the film shows.
    writeTranscript(dir, [story[0]!, "SNOW   fell on the pines.", story[2]!])
    expect(sorted((await runBuild(dir)).summary.built)).toEqual([])

    writeTranscript(dir, [story[0]!, "Snow fell softly on the tall pines.", story[2]!])
    const edited = await runBuild(dir)
    expect(sorted(edited.summary.built)).toEqual(sorted([...sentenceNodes(2, shotNumbers(dir, 2)), ...pages]))
  })

  it("inserting a sentence in the middle rebuilds only the new sentence's nodes and final", async () => {
    const dir = makeWorkspace(story.join("\n"))
    await runBuild(dir)
    writeTranscript(dir, [story[0]!, "An owl called twice from the dark wood.", story[1]!, story[2]!])
    const inserted = await runBuild(dir)
    expect(sorted(inserted.summary.built)).toEqual(sorted([...sentenceNodes(2, shotNumbers(dir, 2)), ...pages]))
    expect(manifest(dir).sentences).toHaveLength(4)
    expect(fs.readdirSync(path.join(dir, "out", "sentences"))).toHaveLength(4)
  })

  it("--target shot:3:image builds shot 3's card and what it needs, nothing else", async () => {
    // Sentence 1 is short (one shot); sentence 2 is long (three or more), so shot 3 is its second shot.
    const dir = makeWorkspace(
      [
        "Snow fell.",
        "Far away, beyond the grey horizon, a storm was gathering its strength, turning slowly towards the sleeping coast and the little harbour town."
      ].join("\n")
    )
    const r = await runBuild(dir, { target: ["shot:3:image"] })
    expect(r.summary.failed).toEqual([])
    // Numbering shot 3 needs sentence 1's shot count; the card needs sentence 2's prompts and timing.
    expect(sorted(r.summary.built)).toEqual(
      sorted([
        "sentence:1:audio",
        "sentence:1:shots",
        "sentence:2:audio",
        "sentence:2:shots",
        "sentence:2:timing",
        "sentence:2:prompts",
        "sentence:2:plan",
        "shot:3:image"
      ])
    )
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(false)
  })

  it("clean --stage video, then build, remakes only the clips and what their outputs reach", async () => {
    const dir = makeWorkspace(story.join("\n"))
    const first = await runBuild(dir)
    const clean = cli(["clean", "--stage", "video"], { cwd: dir })
    expect(clean.code).toBe(0)
    expect(clean.stdout).toMatch(/Dropped \d+ stored results/)
    const again = await runBuild(dir)
    const clips = first.summary.built.filter((id) => id.endsWith(":video"))
    // Ken Burns is deterministic: the clips come back byte-identical, so early cutoff keeps the muxes.
    expect(sorted(again.summary.built)).toEqual(sorted(clips))
    expect(again.summary.cached).toContain("final")
  })

  it("changing a setting and changing it back finds the first results again", async () => {
    const dir = makeWorkspace(story.slice(0, 2).join("\n"))
    await runBuild(dir)
    const film = () => fs.readFileSync(path.join(dir, "out", "final.mp4"))
    const firstFilm = film()
    const cfg = path.join(dir, "storyshot.config.mjs")
    const original = fs.readFileSync(cfg, "utf8")
    fs.writeFileSync(cfg, original.replace('"test style"', '"noir, rain"'))
    const restyled = await runBuild(dir)
    // The style reaches the prompts; a draft card prints only their panel line, so the cards and clips come
    // out the same and early cutoff keeps the muxes and the film.
    expect(restyled.summary.built.some((id) => id.endsWith(":prompts"))).toBe(true)
    expect(restyled.summary.built.some((id) => id.endsWith(":mux") || id.endsWith(":audio"))).toBe(false)
    expect(film().equals(firstFilm)).toBe(true)
    // A setting the film shows: the frame size reaches the cards, clips, muxes and the final cut.
    fs.writeFileSync(cfg, original.replace("height: 90", "height: 120"))
    const changed = await runBuild(dir)
    expect(changed.summary.built.some((id) => id.endsWith(":video"))).toBe(true)
    expect(changed.summary.built.some((id) => id.endsWith(":audio"))).toBe(false)
    expect(film().equals(firstFilm)).toBe(false)
    fs.writeFileSync(cfg, original)
    const back = await runBuild(dir)
    expect(back.summary.built).toEqual([])
    // out/ follows the store back to the first results, without rebuilding.
    expect(film().equals(firstFilm)).toBe(true)
  })

  it("--force re-takes the named target and keeps the profile's other results", async () => {
    const dir = makeWorkspace(story.slice(0, 1).join("\n"))
    await runBuild(dir)
    const forced = await runBuild(dir, { target: ["shot:1:image"], force: true })
    expect(forced.summary.built).toEqual(["shot:1:image"])
    // A card renders the same bytes again: the new take has the same hash, so nothing downstream rebuilds.
    expect(sorted(forced.summary.cached)).toEqual(sorted([
      "sentence:1:audio",
      "sentence:1:shots",
      "sentence:1:timing",
      "sentence:1:prompts",
      "sentence:1:plan"
    ]))
  })
})
