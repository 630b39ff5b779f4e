/**
 * Clips through Replicate's predictions API (`providers: { video: "replicate" }`, issue 17) in a cloud build
 * against the fakes: a film is made, a rebuild asks nothing, an edit pays for that sentence's clip only, the
 * price is known before paying, and each fault class is recovered or fails with Replicate's words without
 * paying twice. Requests are counted at the fake.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { ffprobe, makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]
const config = smallConfig(`profile: "cloud",\n  providers: { video: "replicate" }`)

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

const workspace = (lines: ReadonlyArray<string> = story) => makeWorkspace(lines.join("\n"), { config })
const creates = () => fakes.replicate.requests.filter((r) => r.method === "POST" && /\/predictions$/.test(r.path))

describe("video/replicate: Stable Video Diffusion through Replicate's predictions", () => {
  it("builds a film; a rebuild pays 0; an edit pays for its sentence's clip only", async () => {
    const dir = workspace()
    fakes.reset()
    const first = await runBuild(dir, {}, fakes.env)
    expect(first.summary.failed).toEqual([])
    expect(ffprobe(path.join(dir, "out", "final.mp4")).streams.map((s) => s.codec_type).sort()).toEqual(["audio", "video"])
    expect(fakes.counts()).toMatchObject({ predictions: 3, videoSubmits: 0, images: 3 })
    expect(first.summary.cost.known).toBe(true)
    // Never `Prefer: wait` (a kill during the hold would lose the id); a seed on every create; a version.
    for (const c of creates().slice(-3)) {
      expect(c.headers["prefer"]).toBeUndefined()
      expect(typeof (c.json as any).input.seed).toBe("number")
      expect((c.json as any).version).toMatch(/^[0-9a-f]{64}$/)
    }

    fakes.reset()
    const second = await runBuild(dir, {}, fakes.env)
    expect(fakes.counts().total).toBe(0)
    expect(second.summary.built).toEqual([])

    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], "Heavy snow fell on the old pines.", story[2]].join("\n"))
    fakes.reset()
    const third = await runBuild(dir, {}, fakes.env)
    expect(third.summary.failed).toEqual([])
    expect(fakes.counts()).toMatchObject({ predictions: 1 })
    expect(third.summary.built.filter((id) => /video$/.test(id))).toEqual(["shot:2:video"])
  })

  it("the price: GPU seconds reported by the prediction x the hardware's rate; estimated before paying", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    const r = await runBuild(dir, {}, fakes.env)
    expect(r.summary.failed).toEqual([])
    // 42.5 s of A100 time at $0.0014/s
    const records = path.join(dir, ".storyshot", "records")
    const all = fs.readdirSync(records).flatMap((d) => fs.readdirSync(path.join(records, d)).map((f) => JSON.parse(fs.readFileSync(path.join(records, d, f), "utf8"))))
    const requests = JSON.stringify(all).match(/\{[^{}]*"provider":"replicate"[^{}]*\{[^{}]*\}[^{}]*\}/g) ?? []
    expect(requests.length).toBe(1)
    expect(requests[0]).toMatch(/"usd":0\.0595/)
    fs.writeFileSync(path.join(dir, "transcript.txt"), "Heavy snow fell on the old pines.")
    fakes.reset()
    await runBuild(dir, { target: ["sentence:1:audio"] }, fakes.env)
    fakes.reset()
    const dry = await runBuild(dir, { dryRun: true }, fakes.env)
    expect(fakes.counts().predictions).toBe(0)
    expect(dry.summary.wouldBuild?.find((w) => w.id === "shot:1:video")?.estimate).toMatchObject({ usd: 0.084, source: "table" })
  })

  it("429 with Retry-After at create: retried, one prediction made", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.replicate.inject({ kind: "rateLimit", retryAfter: "0" })
    const r = await runBuild(dir, {}, fakes.env)
    expect(r.summary.failed).toEqual([])
    expect(fakes.counts().predictions).toBe(2)
    expect(r.summary.repaid).toEqual([])
  })

  it("503 while polling: read again (free), recovered, one prediction", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.replicate.inject({ kind: "serverError", status: 503 }, { path: /\/v1\/predictions\/[^/]+$/ })
    const r = await runBuild(dir, {}, fakes.env)
    expect(r.summary.failed).toEqual([])
    expect(fakes.counts().predictions).toBe(1)
  })

  it("5xx at create: not sent again by itself (it may have started), and the failure says where to look", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.replicate.inject({ kind: "serverError", status: 502 })
    const r = await runBuild(dir, { keepGoing: true }, fakes.env)
    expect(fakes.counts().predictions).toBe(1)
    expect(r.summary.failed.map((f) => f.id)).toEqual(["shot:1:video"])
    expect(r.summary.failed[0]!.error).toMatch(/Replicate.*502.*replicate\.com\/predictions/)
  })

  it("a failed prediction (an error inside a 200): fails with the model's words", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.replicate.inject({ kind: "failed", error: "CUDA out of memory. Tried to allocate 2.00 GiB" })
    const r = await runBuild(dir, { keepGoing: true }, fakes.env)
    expect(r.summary.failed[0]?.id).toBe("shot:1:video")
    expect(r.summary.failed[0]!.error).toMatch(/Replicate prediction .* failed: CUDA out of memory/)
    expect(fakes.counts().predictions).toBe(1)
  })

  it("moderation (NSFW input): fails with Replicate's words", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.replicate.inject({ kind: "nsfw" })
    const r = await runBuild(dir, { keepGoing: true }, fakes.env)
    expect(r.summary.failed[0]!.error).toMatch(/NSFW content detected/)
    expect(fakes.counts().predictions).toBe(1)
  })

  it("402 out of credit: one line that says so, no retry", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.replicate.inject({ kind: "out-of-credit" })
    const r = await runBuild(dir, { keepGoing: true }, fakes.env)
    expect(r.summary.failed[0]!.error).toMatch(/Replicate.*payment required.*insufficient credit.*add credit/i)
    expect(fakes.counts().predictions).toBe(1)
  })

  it("a wrong token (401, echoed back by the server): says Replicate refused it, never prints it", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    const wrong = "r8_wrong-token-the-user-pasted-9f8e7d6c"
    const r = await runBuild(dir, { keepGoing: true }, { ...fakes.env, REPLICATE_API_TOKEN: wrong })
    expect(r.summary.failed[0]!.error).toMatch(/Replicate refused the token: check REPLICATE_API_TOKEN/)
    expect(JSON.stringify(r.summary)).not.toContain(wrong)
    for (const e of r.events) expect(JSON.stringify(e)).not.toContain(wrong)
  })

  it("a missing token names the variable and the provider before anything is paid", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    const { REPLICATE_API_TOKEN: _t, ...env } = fakes.env
    void _t
    await expect(runBuild(dir, {}, env)).rejects.toThrow(/missing REPLICATE_API_TOKEN.*REPLICATE_API_TOKEN for video "replicate"/)
    expect(fakes.counts().total).toBe(0)
  })

  it("malformed JSON from create: not bought again by itself; asked to, it pays once and reports it", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.replicate.inject({ kind: "malformedJson" })
    const r = await runBuild(dir, { keepGoing: true }, fakes.env)
    expect(fakes.counts().predictions).toBe(1)
    expect(r.summary.failed.map((f) => f.id)).toEqual(["shot:1:video"])
    expect(r.summary.failed[0]!.error).toMatch(/Replicate/)
    fakes.reset()
    const again = await runBuild(dir, { target: ["shot:1:video"] }, fakes.env)
    expect(again.summary.failed).toEqual([])
    expect(fakes.counts().predictions).toBe(1)
    expect(again.summary.repaid.map((p) => p.id)).toEqual(["shot:1:video"])
  })

  it("a create that never answers: times out, fails naming Replicate, not sent twice", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.replicate.inject({ kind: "hang" })
    const r = await runBuild(dir, { keepGoing: true }, { ...fakes.env, STORYSHOT_HTTP_TIMEOUT_MS: "500" })
    expect(fakes.counts().predictions).toBe(1)
    expect(r.summary.failed[0]!.error).toMatch(/Replicate/)
  })

  it("a truncated clip download: fetched again (free), one prediction", async () => {
    const dir = workspace([story[1]!])
    fakes.reset()
    fakes.replicate.inject({ kind: "truncated" }, { path: "/v1/deliveries/" })
    const r = await runBuild(dir, {}, fakes.env)
    expect(r.summary.failed).toEqual([])
    expect(fakes.counts().predictions).toBe(1)
  })

  it("a prediction Replicate no longer holds (404, or its output deleted after an hour): said so; the next build buys it once, reported as repaid", async () => {
    for (const fault of [{ kind: "gone" as const }, { kind: "data-removed" as const }]) {
      const dir = workspace([story[1]!])
      fakes.reset()
      fakes.replicate.inject(fault)
      const r = await runBuild(dir, { keepGoing: true }, fakes.env)
      expect(r.summary.failed.map((f) => f.id)).toEqual(["shot:1:video"])
      expect(r.summary.failed[0]!.error).toMatch(/Replicate prediction .*(no longer knows|deleted)/)
      fakes.reset()
      const again = await runBuild(dir, {}, fakes.env)
      expect(again.summary.failed).toEqual([])
      expect(fakes.counts().predictions).toBe(1)
      expect(again.summary.repaid.map((p) => p.id)).toEqual(["shot:1:video"])
      expect(again.summary.repaid[0]!.why).toMatch(/Replicate no longer held prediction/)
    }
  })
})
