/**
 * Ctrl-C while fal requests wait in the queue: the real command sends `PUT cancel_url` for each of them
 * (nothing is billed for a cancelled queued request) and exits 130.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import { cliAsync, makeWorkspace, runBuild, smallConfig } from "./harness.ts"

let fakes: Fakes
beforeAll(async () => {
  // Requests stay IN_QUEUE until cancelled.
  fakes = await startFakes({ pollsInQueue: 1_000_000 })
})
afterAll(() => fakes.close())

const until = async (what: () => boolean, timeoutMs: number) => {
  const end = Date.now() + timeoutMs
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out waiting")
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe("interrupting a cloud build", () => {
  it("sends PUT cancel for every queued fal request and exits 130", async () => {
    const dir = makeWorkspace("The fox ran across the frozen river at dawn.\nSnow fell on the pines.", {
      config: smallConfig(`profile: "cloud"`)
    })
    fakes.reset()
    const child = cliAsync(["build"], { cwd: dir, env: fakes.env })
    let stderr = ""
    child.stderr!.on("data", (c) => (stderr += String(c)))
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    // Both narrations submitted and polled at least once (so they are known to be waiting in the queue).
    await until(() => {
      const queued = [...fakes.fal.requests.values()].filter((r) => r.model === models.tts && r.polls > 0)
      return queued.length === 2
    }, 60_000)
    child.kill("SIGINT")
    const code = await exited
    expect(code).toBe(130)
    expect(stderr).toMatch(/stopping/)
    const tts = [...fakes.fal.requests.values()].filter((r) => r.model === models.tts)
    expect(tts).toHaveLength(2)
    expect(tts.every((r) => r.cancelled)).toBe(true)
    // One PUT per request, at its own cancel_url.
    const puts = fakes.fal.received.filter((q) => q.method === "PUT" && q.path.endsWith("/cancel"))
    expect(puts.map((q) => q.path).sort()).toEqual(tts.map((r) => `/fal-ai/minimax/requests/${r.id}/cancel`).sort())
    expect(fakes.counts().cancels).toBe(2)

    // The next build does not re-attach to the cancelled requests: it submits anew and finishes.
    fakes.fal.setOptions({ pollsInQueue: 1 })
    fakes.reset()
    const again = await runBuild(dir, {}, fakes.env)
    expect(again.summary.failed).toEqual([])
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 2, cancels: 0 })
  })
})
