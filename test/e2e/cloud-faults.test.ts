/**
 * One test per provider fault, in a cloud build against the fakes: a transient fault is retried and the
 * film is made; a permanent one fails its node with the provider's own words while, under --keep-going,
 * every node that does not depend on it still completes. The fakes' speed settings (test/fakes/all.ts:
 * STORYSHOT_RETRY_BASE_MS, STORYSHOT_HTTP_TIMEOUT_MS, STORYSHOT_FAL_POLL_MS) keep each test short.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import type { BuildEvent } from "../../src/engine/Events.ts"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import type { FakeRequest } from "../fakes/server.ts"
import { makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines."]
const cloud = smallConfig(`profile: "cloud"`)

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

const build = async (over: { keepGoing?: boolean } = {}, env: Record<string, string> = {}) => {
  const dir = makeWorkspace(story.join("\n"), { config: cloud })
  const result = await runBuild(dir, over, { ...fakes.env, ...env })
  return { ...result, dir }
}

const retries = (events: ReadonlyArray<BuildEvent>) =>
  events.flatMap((e) => (e._tag === "Retrying" ? [e] : []))

/** The film was made, nothing failed. */
const recovered = (r: Awaited<ReturnType<typeof build>>) => {
  expect(r.summary.failed).toEqual([])
  expect(fs.existsSync(path.join(r.dir, "out", "final.mp4"))).toBe(true)
}

/** Only `id` failed; sentence 2 (which does not depend on it) was still built, and the film was not. */
const failedAlone = (r: Awaited<ReturnType<typeof build>>, id: string, message: RegExp) => {
  expect(r.summary.failed.map((f) => f.id)).toEqual([id])
  expect(r.summary.failed[0]!.error).toMatch(message)
  expect(r.summary.built).toEqual(expect.arrayContaining(["sentence:2:audio", "sentence:2:prompts", "shot:2:image", "shot:2:video", "sentence:2:mux"]))
  expect(r.summary.skipped.map((s) => s.id)).toEqual(expect.arrayContaining(["sentence:1:mux", "final"]))
}

let cut = false
/** True the first time only: one submit's answer is cut off. */
const cutOnce = () => (cut ? false : (cut = true))

/** Sentence 1's user message is the only one that says it is the first sentence. */
const firstSentence = (req: FakeRequest) => JSON.stringify(req.json ?? "").includes("This is the first sentence.")

describe("cloud faults, each retried and recovered or failed alone under --keep-going", () => {
  it("429 with Retry-After (OpenAI Images): waits as long as asked, then recovers", async () => {
    fakes.reset()
    fakes.openai.inject({ kind: "rateLimit", retryAfter: "0.4" })
    const r = await build()
    recovered(r)
    const [retry, ...more] = retries(r.events)
    expect(more).toEqual([])
    expect(retry!.error).toMatch(/Rate limit reached/)
    expect(retry!.delayMs).toBeGreaterThanOrEqual(400)
    expect(fakes.counts().images).toBe(3)
  })

  it("500 (OpenRouter): retried, recovers", async () => {
    fakes.reset()
    fakes.openrouter.inject({ kind: "serverError", status: 500 }, { path: "/api/v1/chat" })
    const r = await build()
    recovered(r)
    expect(retries(r.events).map((e) => e.error)).toEqual([expect.stringMatching(/server had an error/)])
    expect(fakes.counts().chats).toBe(3)
  })

  it("a fal submit that never answers may have been queued: not sent again by itself; the node says so and what to run", async () => {
    fakes.reset()
    fakes.fal.inject({ kind: "timeout" }, models.tts)
    const r = await build({ keepGoing: true }, { STORYSHOT_HTTP_TIMEOUT_MS: "500" })
    expect(r.summary.failed.map((f) => f.id)).toHaveLength(1)
    const [failed] = r.summary.failed
    expect(failed!.id).toMatch(/^sentence:[12]:audio$/)
    expect(failed!.error).toMatch(/^fal submit sent no answer in time: no answer within 500 ms .*fal may have billed it; not bought again by itself: `storyshot build --target sentence:[12]:audio` pays for a new one/)
    expect(retries(r.events)).toEqual([])
    expect(fakes.counts().ttsSubmits).toBe(2)
    // The next build pays for it again, and says so.
    fakes.reset()
    const again = await runBuild(r.dir, {}, fakes.env)
    expect(again.summary.failed).toEqual([])
    expect(fakes.counts().ttsSubmits).toBe(1)
    expect(again.summary.repaid).toEqual([{ id: failed!.id, usd: expect.any(Number), why: expect.stringContaining("fal submit sent no answer in time") }])
  })

  it("a cut-off fal submit answer (accepted, then lost) is not re-bought by default; with retryPaid: 1 it is, once, and reported", async () => {
    fakes.reset()
    fakes.fal.injectAny((req) => (req.method === "POST" && req.path === `/${models.video}` && cutOnce() ? { kind: "truncated" } : undefined))
    const r = await build({ keepGoing: true })
    expect(r.summary.failed.map((f) => f.id)).toEqual([expect.stringMatching(/^shot:[12]:video$/)])
    expect(r.summary.failed[0]!.error).toMatch(/^fal submit answer was cut off: .*may have billed it/)
    expect(fakes.counts().videoSubmits).toBe(2)

    fakes.reset()
    cut = false
    fakes.fal.injectAny((req) => (req.method === "POST" && req.path === `/${models.video}` && cutOnce() ? { kind: "truncated" } : undefined))
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud", retryPaid: 1`) })
    const paidTwice = await runBuild(dir, {}, fakes.env)
    expect(paidTwice.summary.failed).toEqual([])
    expect(fakes.counts().videoSubmits).toBe(3)
    expect(paidTwice.summary.repaid).toEqual([{ id: expect.stringMatching(/^shot:[12]:video$/), usd: 0.225, why: expect.stringContaining("fal submit answer was cut off") }])
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
  })

  it("a garbled OpenAI Images 200 was billed: not bought again by itself; the next build pays once more and reports it", async () => {
    fakes.reset()
    fakes.openai.inject((req) => (firstSentence(req) ? { kind: "malformedJson" } : undefined), { times: 1 })
    const r = await build({ keepGoing: true })
    failedAlone(r, "shot:1:image", /^OpenAI image generation answer is garbled: broken JSON .*OpenAI billed it and the answer is lost; not bought again by itself: `storyshot build --target shot:1:image` pays for a new one/)
    expect(retries(r.events)).toEqual([])
    expect(fakes.counts().images).toBe(2)
    fakes.reset()
    const again = await runBuild(r.dir, {}, fakes.env)
    expect(again.summary.failed).toEqual([])
    expect(fakes.counts().images).toBe(1)
    expect(again.summary.repaid.map((p) => p.id)).toEqual(["shot:1:image"])
  })

  it("COMPLETED with an error (fal video): fails with the model's message, not retried; the rest completes", async () => {
    fakes.reset()
    fakes.fal.inject({ kind: "completed-with-error", message: "Image dimensions are too small: minimum is 300x300" }, models.video)
    const r = await build({ keepGoing: true })
    // Which shot's submit took the fault depends on timing; one of the two did.
    const failed = r.summary.failed.map((f) => f.id)
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatch(/^shot:[12]:video$/)
    expect(r.summary.failed[0]!.error).toMatch(/Image dimensions are too small: minimum is 300x300/)
    const n = failed[0]!.split(":")[1]
    const other = n === "1" ? "2" : "1"
    expect(r.summary.built).toEqual(expect.arrayContaining([`shot:${other}:video`, `sentence:${other}:mux`]))
    expect(r.summary.skipped.map((s) => s.id)).toEqual(expect.arrayContaining([`sentence:${n}:mux`, "final"]))
    expect(retries(r.events)).toEqual([])
    expect(fakes.counts().videoSubmits).toBe(2)
  })

  it("a truncated download (fal narration): fetched again without paying for a new request, recovers", async () => {
    fakes.reset()
    const before = fakes.fal.received.length
    fakes.fal.inject({ kind: "truncated-download" }, models.tts)
    const r = await build()
    recovered(r)
    expect(fakes.counts().ttsSubmits).toBe(2)
    // Two narrations, one of them fetched twice.
    const downloads = fakes.fal.received.slice(before).filter((q) => q.method === "GET" && q.path.startsWith("/files/") && q.path.endsWith(".mp3"))
    expect(downloads.length).toBe(3)
  })

  it("a moderation block (OpenAI Images): fails with OpenAI's words, not retried; the rest completes", async () => {
    fakes.reset()
    fakes.openai.inject((req) => (firstSentence(req) ? { kind: "moderation" } : undefined), { times: 1 })
    const r = await build({ keepGoing: true })
    failedAlone(r, "shot:1:image", /moderation blocked.*rejected as a result of our safety system/)
    expect(retries(r.events)).toEqual([])
    expect(fakes.counts().images).toBe(2)
  })

  it("402 out of credit (OpenRouter): fails with OpenRouter's words, not retried; the rest completes", async () => {
    fakes.reset()
    fakes.openrouter.inject((req) => (firstSentence(req) ? { kind: "outOfCredit" } : undefined), { times: 1 })
    const r = await build({ keepGoing: true })
    failedAlone(r, "sentence:1:prompts", /out of credit.*Insufficient credits/)
    expect(retries(r.events)).toEqual([])
    expect(fakes.counts().chats).toBe(2)
  })
})
