/**
 * Transient faults at 10% per request, over every fault class, in a default cloud build against the fakes
 * (issue 12, "two kinds of retry"). Each request any fake receives gets a fault with probability 0.1:
 * - a paid request (fal submit, OpenAI image, OpenRouter chat): 429 with Retry-After, or a 500 before the
 *   request is accepted (nothing is billed for either);
 * - a free one (fal status polls, results, storage uploads, downloads, the model list): 429, 500, a hang,
 *   an answer cut off half-way, or a garbled answer (broken JSON, or an HTML page from a proxy).
 * The build, with default settings, must finish in one run; no paid request may be repeated except those
 * refused before acceptance; every fault is recovered (the film is made) or named in one line. Counted at the
 * fakes. The seed is printed; STORYSHOT_FAULT_SEED replays a run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import type { CommonFault, FakeRequest } from "../fakes/server.ts"
import { seeded } from "../random.ts"
import { makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = [
  "A hunter watched from the ridge, silent and still, as the light grew over the valley and the river.",
  "The fox ran across the frozen river at dawn.",
  "Snow fell on the pines.",
  "Birds rose from the reeds when the ice cracked.",
  "The keeper climbed the spiral stairs with the lantern raised above his head, counting every step aloud.",
  "Night came early that day.",
  "Far below, a small boat fought the waves and the wind.",
  "Morning found fresh tracks in the snow by the door."
]

const seed = Number(process.env.STORYSHOT_FAULT_SEED ?? 20261201)
const random = seeded(seed)

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

type Endpoint = "fal submit" | "status poll" | "result" | "upload" | "download" | "image" | "chat" | "model list" | "other"

const pathOf = (req: FakeRequest) => req.path.split("?")[0]!

const falEndpoint = (req: FakeRequest): Endpoint => {
  const p = pathOf(req)
  if (p.startsWith("/storage/") || p.startsWith("/upload/")) return "upload"
  if (p.startsWith("/files/")) return "download"
  if (p.includes("/requests/")) return p.endsWith("/status") ? "status poll" : p.endsWith("/cancel") ? "other" : "result"
  return req.method === "POST" ? "fal submit" : "other"
}

const paidEndpoints = new Set<Endpoint>(["fal submit", "image", "chat"])

const refusals: ReadonlyArray<CommonFault> = [{ kind: "rateLimit", retryAfter: "0.1" }, { kind: "serverError", status: 500 }]
const readFaults: ReadonlyArray<CommonFault> = [
  ...refusals,
  { kind: "hang" },
  { kind: "truncated" },
  { kind: "malformedJson" },
  { kind: "wrongContent" }
]

const injected: Array<{ endpoint: Endpoint; fault: string; req: FakeRequest }> = []

/** Which request gets a fault is random (10%), except that each endpoint's first request gets one, so every
 *  endpoint is played; the class goes round the classes, so each one is played too. */
let turn = 0
const seen = new Set<Endpoint>()
const injector = (endpointOf: (req: FakeRequest) => Endpoint) => (req: FakeRequest): CommonFault | undefined => {
  const endpoint = endpointOf(req)
  if (endpoint === "other") return undefined
  const first = !seen.has(endpoint)
  seen.add(endpoint)
  if (!first && random() >= 0.1) return undefined
  const classes = paidEndpoints.has(endpoint) ? refusals : readFaults
  const fault = classes[turn++ % classes.length]!
  injected.push({ endpoint, fault: fault.kind, req })
  return fault
}

describe("10% transient faults on every request", () => {
  it("the default build finishes in one run, pays once for everything the providers accepted, and every fault is recovered", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud"`) })
    fakes.reset()
    injected.length = 0
    seen.clear()
    fakes.fal.injectAny(injector(falEndpoint))
    fakes.openai.inject(injector((req) => (req.method === "POST" ? "image" : "other")))
    fakes.openrouter.inject(injector((req) => (pathOf(req).endsWith("/models") ? "model list" : req.method === "POST" ? "chat" : "other")))

    // A hang costs one answer time-out; keep that short so the test is quick (the defaults are longer).
    const { summary, events } = await runBuild(dir, {}, { ...fakes.env, STORYSHOT_HTTP_TIMEOUT_MS: "800" })
    fakes.reset()

    const faulted = new Set(injected.map((i) => i.req))
    // Paid requests the providers accepted (answered without an injected fault), per input.
    const accepted = new Map<string, number>()
    const count = (key: string) => accepted.set(key, (accepted.get(key) ?? 0) + 1)
    for (const r of fakes.fal.requests.values()) count(`fal ${r.model} ${JSON.stringify(r.model === models.tts ? r.input.text : r.input.prompt)}`)
    for (const q of fakes.openai.requests) if (q.method === "POST" && !faulted.has(q)) count(`image ${(q.json as any).prompt}`)
    for (const q of fakes.openrouter.requests)
      if (q.method === "POST" && !faulted.has(q)) count(`chat ${JSON.stringify((q.json as any).messages)}`)
    const repeated = [...accepted].filter(([, n]) => n > 1)

    const byClass: Record<string, number> = {}
    const byEndpoint: Record<string, Record<string, number>> = {}
    for (const i of injected) {
      byClass[i.fault] = (byClass[i.fault] ?? 0) + 1
      const e = (byEndpoint[i.endpoint] ??= {})
      e[i.fault] = (e[i.fault] ?? 0) + 1
    }
    const requests = fakes.fal.received.length + fakes.openai.requests.length + fakes.openrouter.requests.length
    const refusedPaid = injected.filter((i) => paidEndpoints.has(i.endpoint)).length
    const retried = events.filter((e) => e._tag === "Retrying").length
    const warnings = events.flatMap((e) => (e._tag === "Warning" ? [e.message] : []))
    console.log(
      `fault test: ${JSON.stringify({
        seed,
        requests,
        faultsInjected: injected.length,
        byClass,
        byEndpoint,
        paidAccepted: accepted.size,
        paidRepeated: repeated.length,
        paidRefusedThenRetried: refusedPaid,
        nodeRetries: retried,
        failed: summary.failed,
        retriedNodes: events.flatMap((e) => (e._tag === "Retrying" ? [`${e.id}#${e.attempt}: ${e.error.slice(0, 60)}`] : [])),
        chatsAtFake: fakes.openrouter.requests.filter((q) => q.method === "POST").length,
        warnings
      })}`
    )
    // Every fault was either recovered (the film is made) or named in one line (a failure or a warning).
    expect(summary.failed, `seed ${seed}`).toEqual([])
    for (const w of warnings) expect(w.split("\n")).toHaveLength(1)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    expect(injected.length).toBeGreaterThan(10)
    expect(new Set(injected.map((i) => i.fault)).size).toBe(6)
    for (const endpoint of ["status poll", "result", "upload", "download"]) expect(byEndpoint[endpoint], endpoint).toBeDefined()
    expect(repeated, `seed ${seed}`).toEqual([])
    // A paid request the provider refused before accepting it is the only kind sent again.
    expect(retried).toBe(refusedPaid)
  }, 300_000)
})
