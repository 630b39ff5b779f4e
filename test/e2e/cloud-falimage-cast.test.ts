/**
 * Contract 6 on fal (the byok × director merge): with a story bible, `image/fal` makes each character's sheet
 * with the text model, and sends every shot that shows characters to the edit member of its pair
 * (`fal-ai/flux-pro/kontext/multi`) with the sheets uploaded through fal storage as `image_urls`, one per
 * character the plan says the shot shows; shots that show nobody go to the text model. A rebuild buys
 * nothing. Requests are counted at the fake.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import { direct } from "../director/run.ts"
import { makeWorkspace, manifest, runBuild, smallConfig } from "./harness.ts"

const story = [
  "Mara climbed the lighthouse stairs at dusk.",
  "Down below, Tomas waited with the lantern and a flask of tea for the long night.",
  "The storm rolled in across the bay.",
  "Later, Mara lit the great lamp while Tomas held the door against the wind."
]
const editModel = "fal-ai/flux-pro/kontext/multi"

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

describe("image/fal with a cast (contract 6)", () => {
  it("sheets from the text model; shots with a cast go to the edit model with one image_url per character", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud",\n  providers: { image: "fal" }`) })
    fakes.reset()
    await direct(dir, {}, fakes.env)

    fakes.reset()
    const first = await runBuild(dir, {}, fakes.env)
    expect(first.summary.failed).toEqual([])
    const cast = new Map<number, ReadonlyArray<string>>()
    for (const s of manifest(dir).sentences) for (const shot of s.shots) cast.set(shot.k, shot.prompt?.cast ?? [])
    const withCast = [...cast.values()].filter((c) => c.length > 0)
    expect(withCast.length).toBeGreaterThan(0)

    const texts = fakes.fal.inputs(models.falImage)
    const sheets = texts.filter((i) => String(i.prompt).startsWith("Character reference sheet"))
    expect(sheets).toHaveLength(2)
    expect(texts.length - sheets.length).toBe(cast.size - withCast.length)
    const edits = fakes.fal.inputs(editModel)
    expect(edits).toHaveLength(withCast.length)
    expect(edits.map((i) => (i.image_urls as ReadonlyArray<string>).length).sort()).toEqual(withCast.map((c) => c.length).sort())

    fakes.reset()
    const again = await runBuild(dir, {}, fakes.env)
    expect(fakes.counts().total).toBe(0)
    expect(again.summary.built).toEqual([])
  })
})
