/**
 * Issue 16, "what must be shown" 1–2, in the cloud profile against the fakes (test/fakes): a 6-sentence story
 * with 2 recurring characters. Requests are counted at the fakes, not by our own bookkeeping.
 * - `direct` asks the writer once for the bible; the sheets are bought once; every image of a shot that shows
 *   a character is an `/images/edits` request carrying that character's sheet (`image[]`) at input fidelity high.
 * - Editing one character's wardrobe re-pays that sheet and exactly the images and clips of the shots that show
 *   them, and makes no prompt call.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { editsOf } from "../fakes/openai.ts"
import { makeWorkspace, manifest, runBuild, smallConfig } from "../e2e/harness.ts"
import { direct, editCharacter, readBible } from "./run.ts"

const story = [
  "Mara climbed the lighthouse stairs at dusk.",
  "Down below, Tomas waited with the lantern and a flask of tea for the long night.",
  "The storm rolled in across the bay.",
  "Later, Mara lit the great lamp while Tomas held the door against the wind.",
  "The beam swept the black water.",
  "By morning, Mara and Tomas watched a calm sea."
]

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

/** Each shot's film number K and the cast its plan shows (bible ids), from the manifest. */
const castByShot = (dir: string): Map<number, ReadonlyArray<string>> => {
  const out = new Map<number, ReadonlyArray<string>>()
  for (const s of manifest(dir).sentences) for (const shot of s.shots) out.set(shot.k, shot.prompt?.cast ?? [])
  return out
}

/** The OpenAI requests since `from` (the fakes keep every request since they started). */
const openaiSince = (from: number) => fakes.openai.requests.slice(from)

const sheetGenerations = (from = 0) =>
  openaiSince(from).filter((r) => r.path.endsWith("/images/generations") && String((r.json as { prompt?: string }).prompt).startsWith("Character reference sheet"))

describe("the cast across shots (cloud profile, fakes)", () => {
  it("sheets bought once, each shot's image carries its cast's sheets; a wardrobe edit re-pays that sheet and its shots only", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud"`) })

    fakes.reset()
    const drafted = await direct(dir, {}, fakes.env)
    expect(fakes.counts()).toMatchObject({ chats: 1, images: 0, imageEdits: 0 })
    expect(drafted.bible?.cast.map((c) => c.name).sort()).toEqual(["Mara", "Tomas"])
    expect(readBible(dir).cast.map((c) => c.name).sort()).toEqual(["Mara", "Tomas"])

    fakes.reset()
    const first = await runBuild(dir, {}, fakes.env)
    expect(first.summary.failed).toEqual([])
    const cast = castByShot(dir)
    const showing = (id: string) => [...cast].filter(([, c]) => c.includes(id)).map(([k]) => k)
    const withCast = [...cast].filter(([, c]) => c.length > 0).map(([k]) => k)
    // The writer tagged every shot with who it shows: both characters recur, some shots show nobody.
    expect(showing("mara").length).toBeGreaterThanOrEqual(3)
    expect(showing("tomas").length).toBeGreaterThanOrEqual(3)
    expect(withCast.length).toBeLessThan(cast.size)

    const counts = fakes.counts()
    // 2 sheets + the shots that show nobody are plain generations; every shot with a cast is an edit.
    expect(sheetGenerations()).toHaveLength(2)
    expect(counts.images).toBe(2 + (cast.size - withCast.length))
    expect(counts.imageEdits).toBe(withCast.length)
    expect(counts.videoSubmits).toBe(cast.size)
    const edits = editsOf(fakes.openai.requests)
    // Each edit carries one image[] per character its shot shows, at input fidelity high.
    expect(edits.map((e) => e.images.length).sort()).toEqual(withCast.map((k) => cast.get(k)!.length).sort())
    expect(edits.every((e) => e.fields.input_fidelity === "high")).toBe(true)
    expect(edits.every((e) => e.images.every((i) => i.contentType === "image/png" && i.fileName !== undefined))).toBe(true)

    // A second build buys nothing.
    fakes.reset()
    const again = await runBuild(dir, {}, fakes.env)
    expect(fakes.counts().total).toBe(0)
    expect(again.summary.built).toEqual([])

    // Tomas changes his coat: his sheet and the shots that show him, nothing else, and no prompt call.
    editCharacter(dir, "Tomas", { wardrobe: "a red fisherman's jumper" })
    fakes.reset()
    const mark = fakes.openai.requests.length
    const edited = await runBuild(dir, {}, fakes.env)
    expect(edited.summary.failed).toEqual([])
    const tomas = showing("tomas")
    expect(fakes.counts()).toMatchObject({ chats: 0, ttsSubmits: 0, images: 1, imageEdits: tomas.length, videoSubmits: tomas.length })
    expect(sheetGenerations(mark).map((r) => String((r.json as { prompt: string }).prompt))).toEqual([expect.stringContaining("red fisherman's jumper")])
    const paid = edited.summary.built.filter((id) => /^(shot:\d+:(image|video)|character:[^:]+:sheet|sentence:\d+:prompts)$/.test(id)).sort()
    expect(paid).toEqual(["character:tomas:sheet", ...tomas.flatMap((k) => [`shot:${k}:image`, `shot:${k}:video`])].sort())
    // Every request for a shot with Tomas carried the new sheet: the edits all name the jumper in their prompt too.
    const after = editsOf(openaiSince(mark))
    expect(after).toHaveLength(tomas.length)
    expect(after.every((e) => e.fields.prompt!.includes("red fisherman's jumper"))).toBe(true)
  }, 240_000)
})
