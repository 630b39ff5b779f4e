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
import { cliAsync, makeWorkspace, smallConfig } from "./harness.ts"

const lines = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge.", "Birds rose from the reeds."]

let fakes: Fakes
beforeAll(async () => {
  // Stills take 1.5 s of fal work: a kill lands while several are in fal's hands.
  fakes = await startFakes({ workMs: { image: 1500, tts: 50, video: 200 } })
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
    const inFlight = stills().filter((r) => r.state !== "COMPLETED").map((r) => r.id)
    expect(inFlight.length).toBeGreaterThanOrEqual(2)
    const pollsBefore = new Map(stills().map((r) => [r.id, r.polls]))

    const resumed = await run(dir, fakes.env)
    expect(resumed.code).toBe(0)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    // Collected: each request left in flight was polled again by the resumed build...
    for (const id of inFlight) expect(fakes.fal.requests.get(id)!.polls).toBeGreaterThan(pollsBefore.get(id)!)
    // ...and no still was paid for twice.
    expect(duplicates(fakes.fal.inputs(models.falImage))).toBe(0)
    expect(stills().length).toBe(lines.length)

    fakes.reset()
    const last = await run(dir, fakes.env)
    expect(last.code).toBe(0)
    expect(fakes.counts().total).toBe(0)
    await sleep(0)
  })
})
