/**
 * Stills through fal's queue (`providers: { image: "fal" }`, issue 17) in a cloud build against the fakes:
 * a film is made, a rebuild asks nothing, an edit of one sentence pays for that sentence's still only, the
 * price is known before paying (--dry-run), the seed is kept in the record, and each fault class is
 * recovered or fails with fal's words without buying the still twice. Requests are counted at the fake.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import { ffprobe, makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]
const falImages = smallConfig(`profile: "cloud",\n  providers: { image: "fal" }`)

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

const workspace = (lines: ReadonlyArray<string> = story) => makeWorkspace(lines.join("\n"), { config: falImages })

/** fal submits of the still model, with their inputs. */
const stillInputs = () => fakes.fal.inputs(models.falImage)

describe("image/fal: stills through the fal queue", () => {
  it("builds a film; a rebuild pays 0; an edit pays for its sentence's still only; the seed is recorded", async () => {
    const dir = workspace()
    fakes.reset()
    const first = await runBuild(dir, {}, fakes.env)
    expect(first.summary.failed).toEqual([])
    expect(ffprobe(path.join(dir, "out", "final.mp4")).streams.map((s) => s.codec_type).sort()).toEqual(["audio", "video"])
    const counts = fakes.counts()
    expect(counts).toMatchObject({ falImages: 3, images: 0, videoSubmits: 3, ttsSubmits: 3 })
    // Kontext at $0.04 a still: the cost is known.
    expect(first.summary.cost.known).toBe(true)
    // Every still was sent with a seed, and never with sync_mode (a data URI could not be collected after a crash).
    for (const input of stillInputs()) {
      expect(typeof input.seed).toBe("number")
      expect(input.sync_mode).toBeUndefined()
    }

    fakes.reset()
    const second = await runBuild(dir, {}, fakes.env)
    expect(fakes.counts().total).toBe(0)
    expect(second.summary.built).toEqual([])

    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], "Heavy snow fell on the old pines.", story[2]].join("\n"))
    fakes.reset()
    const third = await runBuild(dir, {}, fakes.env)
    expect(third.summary.failed).toEqual([])
    expect(fakes.counts()).toMatchObject({ falImages: 1, images: 0 })
    expect(third.summary.built.filter((id) => /image$/.test(id))).toEqual(["shot:2:image"])
  })

  it("--dry-run prices the still an edit would buy, before paying, and sends nothing", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    expect((await runBuild(dir, {}, fakes.env)).summary.failed).toEqual([])
    // Kontext's request carries no quality: changing it re-buys nothing.
    fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), smallConfig(`profile: "cloud",\n  providers: { image: "fal" },\n  image: { quality: "high" }`))
    fakes.reset()
    expect((await runBuild(dir, {}, fakes.env)).summary.built).toEqual([])
    expect(fakes.counts().total).toBe(0)
    // A pinned seed changes the request: the dry run prices the still from the last expansion.
    fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), smallConfig(`profile: "cloud",\n  providers: { image: "fal" },\n  image: { seed: 7 }`))
    const dry = await runBuild(dir, { dryRun: true }, fakes.env)
    expect(fakes.counts()).toMatchObject({ falImages: 0, ttsSubmits: 0, videoSubmits: 0, chats: 0 })
    const still = dry.summary.wouldBuild?.find((w) => w.id === "shot:1:image")
    expect(still?.estimate).toMatchObject({ usd: 0.04, source: "table" })
  })

  it("a pinned seed is sent as it is, and the record keeps it", async () => {
    const dir = makeWorkspace(story[1]!, { config: smallConfig(`profile: "cloud",\n  providers: { image: "fal" },\n  image: { seed: 1234 }`) })
    fakes.reset()
    const r = await runBuild(dir, {}, fakes.env)
    expect(r.summary.failed).toEqual([])
    expect(stillInputs().at(-1).seed).toBe(1234)
    const records = path.join(dir, ".storyshot", "records")
    const all = fs.readdirSync(records).flatMap((d) => fs.readdirSync(path.join(records, d)).map((f) => fs.readFileSync(path.join(records, d, f), "utf8")))
    const still = all.map((t) => JSON.parse(t)).find((rec) => rec.id === "shot:1:image" || rec.outputs?.seed !== undefined)
    expect(still?.outputs?.seed?.value).toBe(1234)
  })

  it("429 with Retry-After at submit: retried, one still paid", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.fal.inject({ kind: "rate-limit", retryAfterSec: 0 }, models.falImage)
    const r = await runBuild(dir, {}, fakes.env)
    expect(r.summary.failed).toEqual([])
    expect(fakes.fal.submits(models.falImage)).toBeGreaterThanOrEqual(2)
    // one request accepted (the 429 was refused before acceptance, not billed)
    expect([...fakes.fal.requests.values()].filter((q) => q.model === models.falImage && stillInputs().includes(q.input)).length).toBeGreaterThanOrEqual(1)
  })

  it("5xx at submit: retried and recovered", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.fal.inject({ kind: "server-error", status: 503 }, models.falImage)
    const r = await runBuild(dir, {}, fakes.env)
    expect(r.summary.failed).toEqual([])
    expect(fakes.counts().falImages).toBe(2)
  })

  it("moderation (has_nsfw_concepts): fails with fal's verdict, not a black frame, and is not bought again by itself", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.fal.inject({ kind: "nsfw" }, models.falImage)
    const r = await runBuild(dir, { keepGoing: true }, fakes.env)
    expect(r.summary.failed.map((f) => f.id)).toEqual(["shot:1:image"])
    expect(r.summary.failed[0]!.error).toMatch(/fal.*moderation blocked.*not safe for work/i)
    expect(fakes.counts().falImages).toBe(1)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(false)
  })

  it("out of credit (403 'Exhausted balance'): one line that says so, no retry", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.fal.inject({ kind: "out-of-credit" }, models.falImage)
    const r = await runBuild(dir, { keepGoing: true }, fakes.env)
    expect(r.summary.failed.map((f) => f.id)).toEqual(["shot:1:image"])
    expect(r.summary.failed[0]!.error).toMatch(/fal.*out of credit.*top up/i)
    expect(r.summary.failed[0]!.error).not.toContain(fakes.env.FAL_KEY)
    expect(fakes.counts().falImages).toBe(1)
  })

  it("an error inside a COMPLETED request: fails with the model's words", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.fal.inject({ kind: "completed-with-error", message: "prompt could not be parsed by the model" }, models.falImage)
    const r = await runBuild(dir, { keepGoing: true }, fakes.env)
    expect(r.summary.failed[0]?.id).toBe("shot:1:image")
    expect(r.summary.failed[0]!.error).toMatch(/prompt could not be parsed by the model/)
    expect(fakes.counts().falImages).toBe(1)
  })

  it("a truncated download of the still: fetched again (free), the still is not bought twice", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.fal.inject({ kind: "truncated-download" }, models.falImage)
    const r = await runBuild(dir, {}, fakes.env)
    expect(r.summary.failed).toEqual([])
    expect(fakes.counts().falImages).toBe(1)
  })

  it("malformed JSON at submit: not bought again by itself; the failure names fal and what to run", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.fal.inject({ kind: "malformed-json" }, models.falImage)
    const r = await runBuild(dir, { keepGoing: true }, fakes.env)
    expect(fakes.counts().falImages).toBe(1)
    expect(r.summary.failed.map((f) => f.id)).toEqual(["shot:1:image"])
    expect(r.summary.failed[0]!.error).toMatch(/fal/)
    // The next build, asked to, buys it once and reports the re-payment.
    fakes.reset()
    const again = await runBuild(dir, { target: ["shot:1:image"] }, fakes.env)
    expect(again.summary.failed).toEqual([])
    expect(fakes.counts().falImages).toBe(1)
    expect(again.summary.repaid.map((p) => p.id)).toEqual(["shot:1:image"])
  })

  it("a submit that hangs: times out and fails with fal named, without a second paid submit", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.fal.inject({ kind: "timeout" }, models.falImage)
    const r = await runBuild(dir, { keepGoing: true }, { ...fakes.env, STORYSHOT_HTTP_TIMEOUT_MS: "500" })
    expect(fakes.counts().falImages).toBe(1)
    expect(r.summary.failed.map((f) => f.id)).toEqual(["shot:1:image"])
    expect(r.summary.failed[0]!.error).toMatch(/fal/)
  })

  it("with FAL_KEY and no OpenAI key, the cloud profile makes its stills through fal", async () => {
    const dir = makeWorkspace(story[1]!, { config: smallConfig(`profile: "cloud"`) })
    const { OPENAI_KEY: _drop, ...env } = fakes.env
    void _drop
    fakes.reset()
    const r = await runBuild(dir, {}, env)
    expect(r.summary.failed).toEqual([])
    expect(fakes.counts()).toMatchObject({ falImages: 1, images: 0 })
  })
})
