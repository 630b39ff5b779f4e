/**
 * The `cloud` profile end to end against the fake providers (test/fakes/all.ts): a film is built, a second
 * build asks nothing of anyone, and an edit re-pays exactly the edited sentence. Requests are counted at
 * the fakes, not by our own bookkeeping.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import { ffprobe, makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]
const cloud = smallConfig(`profile: "cloud"`)

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

const streams = (file: string) => ffprobe(file).streams.map((s) => s.codec_type).sort()

describe("cloud profile against the fakes", () => {
  it("builds out/final.mp4; a second build makes 0 requests; an edit pays for that sentence only", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: cloud })
    fakes.reset()
    const first = await runBuild(dir, {}, fakes.env)
    expect(first.summary.failed).toEqual([])
    expect(streams(path.join(dir, "out", "final.mp4"))).toEqual(["audio", "video"])
    // The fake narrates ~0.4 s a word: each of these short sentences is one shot.
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 3, chats: 3, images: 3, videoSubmits: 3, uploads: 3, cancels: 0, modelLists: 1 })
    expect(first.summary.cost.known).toBe(true)
    expect(first.summary.cost.usd).toBeGreaterThan(0)

    fakes.reset()
    const second = await runBuild(dir, {}, fakes.env)
    expect(fakes.counts().total).toBe(0)
    expect(second.summary.built).toEqual([])
    expect(second.summary.cost.usd).toBe(0)

    const edited = "Heavy snow fell on the old pines."
    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], edited, story[2]].join("\n"))
    fakes.reset()
    const third = await runBuild(dir, {}, fakes.env)
    expect(third.summary.failed).toEqual([])
    const counts = fakes.counts()
    expect(counts).toMatchObject({ ttsSubmits: 1, chats: 1, images: 1, videoSubmits: 1, uploads: 1, modelLists: 0 })
    // ...and they were for the edited sentence.
    expect(fakes.fal.inputs(models.tts).at(-1).text).toBe(edited)
    const chat = fakes.openrouter.requests.at(-1)!.json as { messages: Array<{ role: string; content: string }> }
    expect(chat.messages.find((m) => m.role === "user")!.content).toContain(`Sentence: ${edited}`)
    const paid = third.summary.built.filter((id) => /^(sentence:\d+:(audio|prompts)|shot:\d+:(image|video))$/.test(id))
    expect(paid.sort()).toEqual(["sentence:2:audio", "sentence:2:prompts", "shot:2:image", "shot:2:video"])
    // The new narration and clip reach the sentence's mux and the final cut; the other muxes are kept.
    expect(third.summary.built).toEqual(expect.arrayContaining(["sentence:2:mux", "final"]))
    expect(third.summary.built).not.toContain("sentence:1:mux")
    expect(third.summary.built).not.toContain("sentence:3:mux")
    expect(streams(path.join(dir, "out", "final.mp4"))).toEqual(["audio", "video"])
  })

  it("mixes providers per stage: fal narration with draft cards needs only FAL_KEY", async () => {
    const dir = makeWorkspace(story.slice(0, 2).join("\n"), { config: smallConfig(`providers: { audio: "fal" }`) })
    fakes.reset()
    const { FAL_KEY, FAL_BASE_URL, FALAI_TTS_MODEL, STORYSHOT_FAL_POLL_MS } = fakes.env
    const { summary } = await runBuild(dir, {}, { FAL_KEY, FAL_BASE_URL, FALAI_TTS_MODEL, STORYSHOT_FAL_POLL_MS })
    expect(summary.failed).toEqual([])
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 2, chats: 0, images: 0, videoSubmits: 0, uploads: 0, modelLists: 0 })
    expect(streams(path.join(dir, "out", "final.mp4"))).toEqual(["audio", "video"])
  })

  it("saves OpenRouter's model list in .storyshot/models.json and prices prompt estimates with it", async () => {
    const dir = makeWorkspace(story[0]!, { config: cloud })
    fakes.reset()
    await runBuild(dir, {}, fakes.env)
    const saved = JSON.parse(fs.readFileSync(path.join(dir, ".storyshot", "models.json"), "utf8"))
    const info = saved.models.find((m: { id: string }) => m.id === models.chat)
    expect(info.pricing).toEqual({ prompt: 0.00000015, completion: 0.0000006 })

    fs.writeFileSync(path.join(dir, "transcript.txt"), "An owl called twice.")
    const dry = await runBuild(dir, { dryRun: true }, fakes.env)
    const prompts = dry.summary.wouldBuild!.find((w) => w.id === "sentence:1:prompts")!
    expect(prompts.estimate.source).toBe("table")
    expect(prompts.estimate.usd).toBeCloseTo(450 * 0.00000015 + 150 * 0.0000006, 12)
  })

  it("a model list that cannot be fetched is a warning, and the build goes on", async () => {
    const dir = makeWorkspace(story[0]!, { config: cloud })
    fakes.reset()
    // Every try fails: the list is optional, so after a few seconds at most the build warns and goes on.
    fakes.openrouter.inject((req) => (req.path.startsWith("/api/v1/models") ? { kind: "serverError", status: 500 } : undefined))
    const { summary, events } = await runBuild(dir, {}, fakes.env)
    expect(summary.failed).toEqual([])
    const warnings = events.flatMap((e) => (e._tag === "Warning" ? [e.message] : []))
    expect(warnings).toEqual([expect.stringMatching(/^could not fetch OpenRouter's model list \(OpenRouter model list answered 500 \(server error\) after \d+ tries: .*\); prompt costs are estimated roughly$/)])
    expect(fs.existsSync(path.join(dir, ".storyshot", "models.json"))).toBe(false)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
  })
})
