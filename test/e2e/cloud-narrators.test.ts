/**
 * The new narrators (issue 17) in cloud builds against their fakes: ElevenLabs directly
 * (`providers: { audio: "elevenlabs" }`) and OpenAI's `/audio/speech` (`providers: { audio: "openai" }`).
 * Each makes a film, pays 0 on a rebuild and one narration for an edited sentence; each fault is recovered or
 * fails with the provider's words, never buying a narration twice by itself; a wrong key never shows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakes, type Fakes } from "../fakes/all.ts"
import * as ElevenFake from "../fakes/elevenlabs.ts"
import { makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]
type Who = "elevenlabs" | "openai"

let fakes: Fakes
let eleven: ElevenFake.ElevenLabsFake
beforeAll(async () => {
  ;[fakes, eleven] = await Promise.all([startFakes(), ElevenFake.start()])
})
afterAll(() => Promise.all([fakes.close(), eleven.close()]))

const env = (over: Record<string, string> = {}): Record<string, string> => ({
  ...fakes.env,
  ELEVENLABS_BASE_URL: eleven.baseUrl,
  ELEVENLABS_API_KEY: eleven.apiKey,
  OPENAI_TTS_MODEL: "gpt-4o-mini-tts",
  ...over
})
const configFor = (who: Who) => smallConfig(`profile: "cloud",\n  providers: { audio: "${who}" }`)
const speeches = (who: Who) =>
  who === "elevenlabs" ? eleven.speeches() : fakes.openai.requests.filter((r) => r.method === "POST" && r.path.startsWith("/v1/audio/speech")).length
const serverOf = (who: Who): { inject: (fault: any) => void; requests: ReadonlyArray<{ json: unknown; headers: Record<string, unknown> }> } =>
  who === "elevenlabs" ? eleven : (fakes.openai as any)
const speechRequests = (who: Who) => serverOf(who).requests.filter((r: any) => /text-to-speech|audio\/speech/.test(r.path))

const one = async (who: Who, over: { keepGoing?: boolean } = {}, extra: Record<string, string> = {}) => {
  const dir = makeWorkspace(story[1]!, { config: configFor(who) })
  const before = speeches(who)
  const r = await runBuild(dir, over, env(extra))
  return { ...r, dir, calls: speeches(who) - before }
}

describe.each(["elevenlabs", "openai"] as const)("audio %s", (who) => {
  it("makes a film; a rebuild pays 0; an edit pays one narration", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: configFor(who) })
    fakes.reset()
    const before = speeches(who)
    const first = await runBuild(dir, {}, env())
    expect(first.summary.failed).toEqual([])
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    expect(speeches(who) - before).toBe(3)
    expect(fakes.counts().ttsSubmits).toBe(0)
    expect(first.summary.cost.known).toBe(true)
    const mid = speeches(who)
    fakes.reset()
    const second = await runBuild(dir, {}, env())
    expect(second.summary.built).toEqual([])
    expect(speeches(who) - mid).toBe(0)
    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], "Heavy snow fell on the old pines.", story[2]].join("\n"))
    const third = await runBuild(dir, {}, env())
    expect(third.summary.failed).toEqual([])
    expect(speeches(who) - mid).toBe(1)
    expect(JSON.stringify(speechRequests(who).at(-1)!.json)).toContain("Heavy snow fell on the old pines.")
  })

  it("429 with Retry-After: retried, recovered", async () => {
    serverOf(who).inject(who === "elevenlabs" ? { kind: "tooManyConcurrent" } : { kind: "rateLimit", retryAfter: "0" })
    const r = await one(who)
    expect(r.summary.failed).toEqual([])
    expect(r.calls).toBe(2)
  })

  it("a 5xx: retried, recovered", async () => {
    serverOf(who).inject({ kind: "serverError", status: 503 })
    const r = await one(who)
    expect(r.summary.failed).toEqual([])
    expect(r.calls).toBe(2)
  })

  it("a 200 that holds no audio: not used, not bought again by itself; asked to, pays once more and says so", async () => {
    serverOf(who).inject(who === "elevenlabs" ? { kind: "notAudio" } : { kind: "notAnImage" })
    const r = await one(who, { keepGoing: true })
    expect(r.summary.failed.map((f) => f.id)).toEqual(["sentence:1:audio"])
    expect(r.summary.failed[0]!.error).toMatch(who === "elevenlabs" ? /ElevenLabs/ : /OpenAI/)
    expect(r.calls).toBe(1)
    const before = speeches(who)
    const again = await runBuild(r.dir, { target: ["sentence:1:audio"] }, env())
    expect(again.summary.failed).toEqual([])
    expect(speeches(who) - before).toBe(1)
    expect(again.summary.repaid.map((p) => p.id)).toEqual(["sentence:1:audio"])
  })

  it("a truncated answer and a hang: fail naming the provider, nothing bought twice by itself", async () => {
    serverOf(who).inject({ kind: "truncated" })
    const t = await one(who, { keepGoing: true })
    expect(t.summary.failed[0]?.error).toMatch(who === "elevenlabs" ? /ElevenLabs/ : /OpenAI/)
    expect(t.calls).toBe(1)
    serverOf(who).inject({ kind: "hang" })
    const h = await one(who, { keepGoing: true }, { STORYSHOT_HTTP_TIMEOUT_MS: "400" })
    expect(h.summary.failed[0]?.error).toMatch(who === "elevenlabs" ? /ElevenLabs/ : /OpenAI/)
    expect(h.calls).toBe(1)
  })

  it("moderation: fails with the provider's words", async () => {
    serverOf(who).inject(who === "elevenlabs" ? { kind: "policy" } : { kind: "moderation" })
    const r = await one(who, { keepGoing: true })
    expect(r.summary.failed[0]!.error).toMatch(who === "elevenlabs" ? /Terms of Service/ : /safety system/)
    expect(r.calls).toBe(1)
  })
})

describe("narrators: money and keys", () => {
  it("ElevenLabs out of quota (a 401 quota_exceeded): says the key is fine and credits are spent, no retry", async () => {
    eleven.inject({ kind: "quotaExceeded" })
    const r = await one("elevenlabs", { keepGoing: true })
    expect(r.summary.failed[0]!.error).toMatch(/ElevenLabs.*out of credit.*exceeds your quota.*the key is fine/i)
    expect(r.calls).toBe(1)
  })

  it("ElevenLabs wrong key, echoed back: names ElevenLabs, never prints the key", async () => {
    const wrong = "sk_WRONGKEY_pasted_by_the_user_22223333"
    const r = await one("elevenlabs", { keepGoing: true }, { ELEVENLABS_API_KEY: wrong })
    expect(r.summary.failed[0]!.error).toMatch(/ElevenLabs refused the key: check ELEVENLABS_API_KEY/)
    expect(JSON.stringify(r.summary) + JSON.stringify(r.events)).not.toContain(wrong)
  })

  it("ElevenLabs busy inside a 200: retried, recovered; the billed characters are what its header says", async () => {
    eleven.inject({ kind: "errorIn200" })
    const r = await one("elevenlabs")
    expect(r.summary.failed).toEqual([])
    expect(r.calls).toBe(2)
    // "Snow fell on the pines." is 23 characters at $0.10 per 1,000 (multilingual v2).
    const records = path.join(r.dir, ".storyshot", "records")
    const text = fs.readdirSync(records).flatMap((d) => fs.readdirSync(path.join(records, d)).map((f) => fs.readFileSync(path.join(records, d, f), "utf8"))).join("\n")
    expect(text.replace(/\s/g, "")).toMatch(/"provider":"elevenlabs"[^}]*"cost":\{"usd":0\.0023/)
  })

  it("OpenAI speech out of quota (429 insufficient_quota): out of credit, no retry", async () => {
    fakes.openai.inject({ kind: "status", status: 429, json: { error: { message: "You exceeded your current quota, please check your plan and billing details.", type: "insufficient_quota", param: null, code: "insufficient_quota" } } })
    const r = await one("openai", { keepGoing: true })
    expect(r.summary.failed[0]!.error).toMatch(/OpenAI.*exceeded your current quota/)
    expect(r.calls).toBe(1)
  })

  it("a missing ElevenLabs key names the variable before anything is paid", async () => {
    const dir = makeWorkspace(story[1]!, { config: configFor("elevenlabs") })
    const before = eleven.speeches()
    await expect(runBuild(dir, {}, env({ ELEVENLABS_API_KEY: "" }))).rejects.toThrow(/missing ELEVENLABS_API_KEY.*ELEVENLABS_API_KEY for audio "elevenlabs"/)
    expect(eleven.speeches()).toBe(before)
  })
})
