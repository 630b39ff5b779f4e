/**
 * Free nodes that draw the text key on the exact text (issue 21 §5): "bell" → "BELL" alone redraws the draft
 * cards (free) and what is made from them, re-pays nothing (the narration, keyed on the normalized text, is
 * bought from fal here and is not bought again), and the film shows the new case: its cards are the ones a
 * fresh build of the new text draws.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { makeWorkspace, manifest, runBuild, smallConfig } from "./harness.ts"

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

const config = smallConfig(`providers: { audio: "fal" }`)
const before = "The keeper rang the bell twice at noon."
const after = "The keeper rang the BELL twice at noon."

/** The record the last build made for `id`. */
const recordOf = (dir: string, id: string) => {
  const store = path.join(dir, ".storyshot")
  const journal = path.join(store, "journal.jsonl")
  const state = JSON.parse(fs.readFileSync(path.join(store, "state.json"), "utf8"))
  const fp: string = fs.existsSync(journal)
    ? fs.readFileSync(journal, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).reverse().find((n) => n.id === id)?.fingerprint ?? state.nodes[id].fingerprint
    : state.nodes[id].fingerprint
  return JSON.parse(fs.readFileSync(path.join(store, "records", fp.slice(0, 2), `${fp}.json`), "utf8"))
}
const recipeOf = (dir: string, id: string) => recordOf(dir, id).data.recipe

const cards = (dir: string): Array<string> => manifest(dir).sentences.flatMap((s: any) => s.shots.map((shot: any) => shot.image))

describe("a change of case alone", () => {
  it("redraws the cards and the film, re-pays nothing, and the film shows the new case", async () => {
    const env = { FAL_KEY: fakes.env.FAL_KEY!, FAL_BASE_URL: fakes.env.FAL_BASE_URL!, FALAI_TTS_MODEL: fakes.env.FALAI_TTS_MODEL!, STORYSHOT_FAL_POLL_MS: "20" }
    const dir = makeWorkspace(before, { config })
    fakes.reset()
    expect((await runBuild(dir, {}, env)).summary.failed).toEqual([])
    expect(fakes.counts().ttsSubmits).toBe(1)
    const oldCards = cards(dir)
    const oldFilm = fs.readFileSync(path.join(dir, "out", "final.mp4"))

    fs.writeFileSync(path.join(dir, "transcript.txt"), after)
    fakes.reset()
    const edit = await runBuild(dir, {}, env)
    expect(edit.summary.failed).toEqual([])
    // Nothing paid again: the narration is keyed on the normalized text.
    expect(fakes.counts().total).toBe(0)
    expect(edit.summary.built).not.toContain("sentence:1:audio")
    expect(edit.summary.built).not.toContain("sentence:1:prompts")
    // The cards show the text, so they were drawn again, and everything made from them.
    expect(edit.summary.built).toEqual(expect.arrayContaining(["shot:1:image", "shot:1:video", "sentence:1:mux", "final", "subtitles"]))
    const newCards = cards(dir)
    expect(newCards).not.toEqual(oldCards)
    expect(Buffer.compare(fs.readFileSync(path.join(dir, "out", "final.mp4")), oldFilm)).not.toBe(0)

    // The film shows the new case: the card drew the sentence as written now, and the clip, the sentence's
    // mux and the final cut were made from that card.
    expect(recipeOf(dir, "shot:1:image").text).toBe(after)
    const image = manifest(dir).sentences[0].shots[0]
    expect(image.image).toBe(newCards[0])
    const card = recordOf(dir, "shot:1:image")
    expect(card.outputs.image.hash).toBe(path.basename(newCards[0]!).split(".")[0])
    // The clip moves the new card's plate under its new lettering.
    expect(recordOf(dir, "shot:1:video").data.deps.map((d: any) => d.hash)).toEqual(expect.arrayContaining([card.outputs.plate.hash, card.outputs.lettering.hash]))
  }, 120_000)
})
