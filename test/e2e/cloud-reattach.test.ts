/**
 * The crash test of issue 17 for the re-attachable routes: the real command is spawned against the fakes,
 * killed with SIGKILL while stills (fal queue) or clips (Replicate predictions) are being made, and started
 * again. Afterwards: every request in flight at the kill was collected (polled again) and never submitted
 * anew, no input was paid for twice, and a last build pays for nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import * as ElevenFake from "../fakes/elevenlabs.ts"
import { cliAsync, makeWorkspace, smallConfig } from "./harness.ts"

const lines = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge.", "Birds rose from the reeds."]

let fakes: Fakes
beforeAll(async () => {
  // Stills take 1.5 s of fal work: a kill lands while several are in fal's hands.
  fakes = await startFakes({ workMs: { image: 1500, tts: 50, video: 200 } })
  // Replicate's predictions take 1.5 s of GPU work each.
  fakes.replicate.setOptions({ workMs: 1500 })
})
afterAll(() => fakes?.close())

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const run = (cwd: string, env: Record<string, string>, killWhen?: () => boolean) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = cliAsync(["build", "--json"], { cwd, env })
    let stderr = ""
    child.stderr!.on("data", (c) => (stderr += String(c)))
    child.stdout!.resume()
    let timer: NodeJS.Timeout | undefined
    if (killWhen)
      timer = setInterval(() => {
        if (killWhen()) {
          clearInterval(timer)
          child.kill("SIGKILL")
        }
      }, 10)
    child.on("close", (code, signal) => {
      if (timer) clearInterval(timer)
      resolve({ code, signal, stderr })
    })
  })

/** How many times each distinct input was submitted to a model. */
const duplicates = (inputs: ReadonlyArray<unknown>) => {
  const seen = new Map<string, number>()
  for (const i of inputs) seen.set(JSON.stringify(i), (seen.get(JSON.stringify(i)) ?? 0) + 1)
  return [...seen.values()].filter((n) => n > 1).length
}

describe("kill -9 with paid requests in flight, then resume: nothing paid twice", () => {
  it("fal stills: the requests in flight at the kill are collected, none submitted again", async () => {
    const dir = makeWorkspace(lines.join("\n"), { config: smallConfig(`profile: "cloud",\n  providers: { image: "fal" }`) })
    fakes.reset()
    const stills = () => [...fakes.fal.requests.values()].filter((r) => r.model === models.falImage)
    const killed = await run(dir, fakes.env, () => stills().filter((r) => r.state === "IN_PROGRESS").length >= 2)
    expect(killed.signal).toBe("SIGKILL")
    // Polled at least once: the build had kept its id. Never polled: its submit answer may have been on its way.
    const inFlight = stills().filter((r) => r.state !== "COMPLETED" && r.polls > 0).map((r) => r.id)
    const inTransit = stills().filter((r) => r.polls === 0).length
    expect(inFlight.length).toBeGreaterThanOrEqual(2)
    const pollsBefore = new Map(stills().map((r) => [r.id, r.polls]))

    const resumed = await run(dir, fakes.env)
    expect(resumed.code).toBe(0)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    // Collected: each request left in flight was polled again by the resumed build...
    for (const id of inFlight) expect(fakes.fal.requests.get(id)!.polls).toBeGreaterThan(pollsBefore.get(id)!)
    // ...and no still was paid for twice.
    const twice = duplicates(stills().map((r) => r.input))
    expect(twice).toBeLessThanOrEqual(inTransit)
    expect(stills().length).toBe(lines.length + twice)
    if (inTransit > 0) console.log(`fal: ${inTransit} submit answer(s) were on their way at the kill`)

    fakes.reset()
    const last = await run(dir, fakes.env)
    expect(last.code).toBe(0)
    expect(fakes.counts().total).toBe(0)
    await sleep(0)
  })

  it("Replicate clips: the predictions processing at the kill are collected, none created again", async () => {
    const dir = makeWorkspace(lines.join("\n"), { config: smallConfig(`profile: "cloud",\n  providers: { video: "replicate" }`) })
    fakes.reset()
    const preds = () => [...fakes.replicate.predictions.values()]
    const before = new Set(preds().map((p) => p.id))
    const mine = () => preds().filter((p) => !before.has(p.id))
    const killed = await run(dir, fakes.env, () => mine().filter((p) => p.status === "processing").length >= 2)
    expect(killed.signal).toBe("SIGKILL")
    // A prediction already polled was known to the build (its id kept before the first poll). One never
    // polled may have been created while its answer was on its way when the kill came: that id is lost.
    const inFlight = mine().filter((p) => (p.status === "processing" || p.status === "starting") && p.polls > 0).map((p) => p.id)
    const inTransit = mine().filter((p) => p.polls === 0).length
    expect(inFlight.length).toBeGreaterThanOrEqual(2)
    const pollsBefore = new Map(mine().map((p) => [p.id, p.polls]))

    const inflightDir = path.join(dir, ".storyshot", "inflight")
    void inflightDir
    const resumed = await run(dir, fakes.env)
    expect(resumed.code).toBe(0)
    for (const id of inFlight) expect(fakes.replicate.predictions.get(id)!.polls).toBeGreaterThan(pollsBefore.get(id)!)
    expect(duplicates(mine().map((p) => p.input))).toBeLessThanOrEqual(inTransit)
    expect(mine().length).toBe(lines.length + Math.min(inTransit, duplicates(mine().map((p) => p.input))))
    if (inTransit > 0) console.log(`replicate: ${inTransit} create answer(s) were on their way at the kill`)
    expect(mine().filter((p) => p.status === "canceled").length).toBe(0)

    fakes.reset()
    expect((await run(dir, fakes.env)).code).toBe(0)
    expect(fakes.counts().total).toBe(0)
  })

  it("Ctrl-C: predictions Replicate is processing are kept (not canceled), the command says so, the next build collects them", async () => {
    const dir = makeWorkspace(lines.slice(0, 3).join("\n"), { config: smallConfig(`profile: "cloud",\n  providers: { video: "replicate" }`) })
    fakes.reset()
    fakes.replicate.setOptions({ workMs: 10 * 60_000 })
    const before = new Set(fakes.replicate.predictions.keys())
    const mine = () => [...fakes.replicate.predictions.values()].filter((p) => !before.has(p.id))
    const child = cliAsync(["build"], { cwd: dir, env: fakes.env })
    let stderr = ""
    child.stderr!.on("data", (c) => (stderr += String(c)))
    child.stdout!.resume()
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    const end = Date.now() + 90_000
    while (mine().filter((p) => p.status === "processing").length < 2 && Date.now() < end) await sleep(20)
    const processing = mine().filter((p) => p.status === "processing").map((p) => p.id)
    expect(processing.length).toBeGreaterThanOrEqual(2)
    child.kill("SIGINT")
    expect(await exited).toBe(130)
    expect(mine().filter((p) => p.status === "canceled" && processing.includes(p.id))).toEqual([])
    expect(stderr).toMatch(/clips? still being made by Replicate (is|are) kept; the next build collects (it|them)/)
    fakes.replicate.setOptions({ workMs: 0 })
    const created = mine().length
    const again = await run(dir, fakes.env)
    expect(again.code, again.stderr).toBe(0)
    void created
    expect(mine().length).toBe(3)
    expect(duplicates(mine().map((p) => p.input))).toBe(0)
    for (const id of processing) expect(fakes.replicate.predictions.get(id)!.status).toBe("succeeded")
  }, 180_000)

  it("a kill while a paid answer is on its way (ElevenLabs, a Replicate create): the next build pays again and says so (repaid)", async () => {
    const eleven = await ElevenFake.start()
    try {
      const dir = makeWorkspace(lines[1]!, { config: smallConfig(`profile: "cloud",\n  providers: { audio: "elevenlabs", video: "replicate" }`) })
      const env = { ...fakes.env, ELEVENLABS_BASE_URL: eleven.baseUrl, ELEVENLABS_API_KEY: eleven.apiKey }
      fakes.reset()
      fakes.replicate.setOptions({ workMs: 0 })
      // The narration takes 2 s to come back: the kill lands while it is on its way.
      eleven.setLatency(() => 2000)
      const first = await run(dir, env, () => eleven.speeches() >= 1)
      expect(first.signal).toBe("SIGKILL")
      eleven.setLatency(() => 0)
      // The Replicate create takes 2 s to come back: the second kill lands while it is on its way.
      fakes.replicate.setLatency((req) => (req.method === "POST" && /\/predictions$/.test(req.path) ? 2000 : 0))
      const creates = fakes.replicate.creates()
      const second = await run(dir, env, () => fakes.replicate.creates() > creates)
      expect(second.signal).toBe("SIGKILL")
      fakes.replicate.setLatency(() => 0)
      await sleep(2200) // the fake makes the prediction nobody will collect
      const child = cliAsync(["build", "--json"], { cwd: dir, env })
      let out = ""
      child.stdout!.on("data", (c) => (out += String(c)))
      child.stderr!.resume()
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
      expect(code).toBe(0)
      const summary = JSON.parse(out)
      const repaid = Object.fromEntries(summary.repaid.map((r: { id: string; why: string }) => [r.id, r.why]))
      expect(repaid["shot:1:video"]).toMatch(/stopped before Replicate's answer arrived: that prediction may be running unseen/)
      // The narration was paid again by the second run (killed later, but its record was written): the record says so.
      expect(eleven.speeches()).toBe(2)
      const records = path.join(dir, ".storyshot", "records")
      const text = fs.readdirSync(records).flatMap((d) => fs.readdirSync(path.join(records, d)).map((f) => fs.readFileSync(path.join(records, d, f), "utf8"))).join("\n")
      expect(text).toMatch(/"repaid":\s*"an earlier build sent this request and stopped before its answer arrived/)
    } finally {
      await eleven.close()
    }
  }, 180_000)
})
