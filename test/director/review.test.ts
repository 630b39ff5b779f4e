/**
 * Issue 16, "what must be shown" 3, and approval, in the cloud profile against the fakes: refining one shot
 * re-pays 1 prompt call (the refine), 1 image and 1 clip; inserting a sentence before it keeps the refined
 * prompt (and pays nothing for that shot); an approved plan is not re-planned when the writer's model changes.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { makeWorkspace, manifest, runBuild, smallConfig } from "../e2e/harness.ts"
import { approve, refine } from "./run.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

const promptOf = (dir: string, k: number): string => {
  for (const s of manifest(dir).sentences) for (const shot of s.shots) if (shot.k === k) return shot.prompt.prompt
  throw new Error(`no shot ${k}`)
}

const paidIds = (built: ReadonlyArray<string>) => built.filter((id) => /^(sentence:\d+:(audio|prompts)|shot:\d+:(image|video|refine))$/.test(id)).sort()

describe("review before paying (cloud profile, fakes)", () => {
  it("refining one shot re-pays 1 prompt call, 1 image and 1 clip; a sentence inserted before it keeps the refinement", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud"`) })
    fakes.reset()
    expect((await runBuild(dir, {}, fakes.env)).summary.failed).toEqual([])

    fakes.reset()
    const r = await refine(dir, { shot: "shot:2", feedback: "closer, dusk light" }, fakes.env)
    expect(r).toMatchObject({ k: 2, n: 2, j: 1 })
    expect(fakes.counts()).toMatchObject({ chats: 1, images: 0, imageEdits: 0, videoSubmits: 0, ttsSubmits: 0 })
    const chat = fakes.openrouter.requests.at(-1)!.json as { messages: Array<{ role: string; content: string }> }
    expect(chat.messages.find((m) => m.role === "user")!.content).toContain("The director's feedback: closer, dusk light")
    expect(r.after).not.toBe(r.before)
    const edits = JSON.parse(fs.readFileSync(path.join(dir, "storyshot.shots.json"), "utf8"))
    expect(edits.shots).toEqual([expect.objectContaining({ sentence: "snow fell on the pines.", shot: 1, prompt: r.after, feedback: ["closer, dusk light"] })])

    fakes.reset()
    const after = await runBuild(dir, {}, fakes.env)
    expect(after.summary.failed).toEqual([])
    expect(fakes.counts()).toMatchObject({ chats: 0, images: 1, videoSubmits: 1, ttsSubmits: 0 })
    expect(paidIds(after.summary.built)).toEqual(["shot:2:image", "shot:2:video"])
    expect(promptOf(dir, 2)).toBe(r.after)
    expect((fakes.openai.requests.at(-1)!.json as { prompt: string }).prompt).toContain(r.after)

    // A sentence inserted first: the refined shot is now shot 3, with the same prompt, and costs nothing again.
    fs.writeFileSync(path.join(dir, "transcript.txt"), ["An owl called twice.", ...story].join("\n"))
    fakes.reset()
    const inserted = await runBuild(dir, {}, fakes.env)
    expect(inserted.summary.failed).toEqual([])
    expect(promptOf(dir, 3)).toBe(r.after)
    expect(paidIds(inserted.summary.built)).toEqual(["sentence:1:audio", "sentence:1:prompts", "shot:1:image", "shot:1:video"])
    expect(fakes.counts()).toMatchObject({ chats: 1, images: 1, videoSubmits: 1, ttsSubmits: 1 })
  }, 240_000)

  it("a pinned prompt by hand is free and re-pays that shot's image and clip only", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud"`) })
    expect((await runBuild(dir, {}, fakes.env)).summary.failed).toEqual([])
    fakes.reset()
    await refine(dir, { shot: "shot:3", prompt: "a hunter in silhouette on a ridge, moonlight" }, fakes.env)
    expect(fakes.counts().total).toBe(0)
    const after = await runBuild(dir, {}, fakes.env)
    expect(paidIds(after.summary.built)).toEqual(["shot:3:image", "shot:3:video"])
    expect(promptOf(dir, 3)).toBe("a hunter in silhouette on a ridge, moonlight")
  }, 240_000)

  it("an approved plan is not re-planned when the writer's model changes; --clear lets it be", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud"`) })
    expect((await runBuild(dir, {}, fakes.env)).summary.failed).toEqual([])
    fakes.reset()
    const a = await approve(dir, { ids: ["sentence:1", "sentence:2"] }, fakes.env)
    expect(a).toMatchObject({ sentences: [1, 2], shots: 2, cleared: false })
    expect(fakes.counts().total).toBe(0)

    // Another writer model: only the sentence not approved is planned again (and its shot paid again).
    const other = { ...fakes.env, OPENROUTER_MODEL: "google/gemini-2.5-flash" }
    fakes.reset()
    const changed = await runBuild(dir, {}, other)
    expect(changed.summary.failed).toEqual([])
    const paid = paidIds(changed.summary.built)
    expect(paid).toContain("sentence:3:prompts")
    expect(paid.filter((id) => /^sentence:[12]:|^shot:[12]:/.test(id))).toEqual([])
    expect(fakes.counts().chats).toBe(1)

    // A spelling fix in an approved sentence re-voices it and re-pays nothing visual: its frozen plan is kept.
    await approve(dir, { ids: ["sentence:3"] }, other)
    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], story[1], "A huntr watched from the ridge."].join("\n"))
    fakes.reset()
    const respelled = await runBuild(dir, {}, other)
    expect(respelled.summary.failed).toEqual([])
    expect(paidIds(respelled.summary.built)).toEqual(["sentence:3:audio"])
    expect(fakes.counts()).toMatchObject({ chats: 0, images: 0, videoSubmits: 0, ttsSubmits: 1 })
    fs.writeFileSync(path.join(dir, "transcript.txt"), story.join("\n"))

    await approve(dir, { ids: ["sentence:1"], clear: true }, other)
    fakes.reset()
    const cleared = await runBuild(dir, {}, other)
    expect(paidIds(cleared.summary.built)).toContain("sentence:1:prompts")
    expect(fakes.counts().chats).toBe(1)
  }, 240_000)
})
