/**
 * Stills from the user's own GPU (`providers: { image: "a1111" }`: an AUTOMATIC1111 / Forge server) against
 * a fake on 127.0.0.1: a film for $0; a rebuild asks nothing; the seed is part of the recipe (the same seed
 * and prompt find the same picture, a pinned seed is sent as it is and kept in the record) and `--force`
 * draws a new seed, a new take; the server's failures are retried (free) or fail with its words.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakes, type Fakes } from "../fakes/all.ts"
import * as A1111Fake from "../fakes/a1111.ts"
import { makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines."]

let fakes: Fakes
let gpu: A1111Fake.A1111Fake
let locked: A1111Fake.A1111Fake
beforeAll(async () => {
  ;[fakes, gpu, locked] = await Promise.all([startFakes(), A1111Fake.start(), A1111Fake.start({ auth: "artist:s3cret-pass-7788" })])
})
afterAll(() => Promise.all([fakes.close(), gpu.close(), locked.close()]))

// Everything else stays offline too: planned prompts, Ken Burns motion, espeak narration.
const local = (extra = "") => smallConfig(`providers: { image: "a1111" }${extra}`)
const env = (over: Record<string, string> = {}): Record<string, string> => ({ A1111_BASE_URL: gpu.baseUrl, STORYSHOT_RETRY_BASE_MS: "20", ...over })
describe("image/a1111: a self-hosted GPU server", () => {
  it("makes a film for $0; a rebuild asks nothing; seeds are sent and kept", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: local() })
    const before = gpu.txt2img()
    const first = await runBuild(dir, {}, env())
    expect(first.summary.failed).toEqual([])
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    const made = gpu.txt2img() - before
    expect(made).toBeGreaterThanOrEqual(2)
    expect(first.summary.cost).toMatchObject({ usd: 0, known: true })
    for (const s of gpu.seeds().slice(-made)) expect(s).toBeGreaterThanOrEqual(0) // never -1: each take is reproducible
    const mid = gpu.txt2img()
    const second = await runBuild(dir, {}, env())
    expect(second.summary.built).toEqual([])
    expect(gpu.txt2img()).toBe(mid)
    // An edit of sentence 2 draws its stills only.
    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], "Heavy snow fell on the old pines."].join("\n"))
    const third = await runBuild(dir, {}, env())
    expect(third.summary.failed).toEqual([])
    expect(third.summary.built.filter((id) => id.endsWith(":image"))).toEqual(third.summary.built.filter((id) => id.endsWith(":image") && id !== "shot:1:image"))
    expect(gpu.txt2img() - mid).toBe(third.summary.built.filter((id) => id.endsWith(":image")).length)
    expect(gpu.txt2img() - mid).toBeGreaterThanOrEqual(1)
  })

  it("the same seed and prompt find the same picture; --force draws a new seed (a new take)", async () => {
    const a = makeWorkspace(story[1]!, { config: local() })
    const b = makeWorkspace(story[1]!, { config: local() })
    await runBuild(a, {}, env())
    const seedA = gpu.seeds().at(-1)
    await runBuild(b, {}, env())
    const seedB = gpu.seeds().at(-1)
    expect(seedB).toBe(seedA) // derived from the same inputs on another machine
    const before = gpu.txt2img()
    const forced = await runBuild(a, { force: true, target: ["shot:1:image"] }, env())
    expect(forced.summary.failed).toEqual([])
    expect(gpu.txt2img() - before).toBe(1)
    expect(gpu.seeds().at(-1)).not.toBe(seedA)
  })

  it("a pinned seed is sent as it is and is the node's seed in the record", async () => {
    const dir = makeWorkspace(story[1]!, { config: local(`,\n  image: { seed: 4242 }`) })
    const r = await runBuild(dir, {}, env())
    expect(r.summary.failed).toEqual([])
    expect(gpu.seeds().at(-1)).toBe(4242)
    const records = path.join(dir, ".storyshot", "records")
    const all = fs.readdirSync(records).flatMap((d) => fs.readdirSync(path.join(records, d)).map((f) => fs.readFileSync(path.join(records, d, f), "utf8")))
    expect(all.some((t) => /"seed":\s*\{[^}]*"value":\s*4242/.test(t))).toBe(true)
  })

  it("a 503 while the model loads and a refused connection are retried (free); CUDA out of memory fails with its words", async () => {
    gpu.inject({ kind: "serverError", status: 503 })
    const r = await runBuild(makeWorkspace(story[1]!, { config: local() }), {}, env())
    expect(r.summary.failed).toEqual([])
    gpu.inject({ kind: "oom" }, { path: "/sdapi" })
    gpu.inject({ kind: "oom" }, { path: "/sdapi" })
    gpu.inject({ kind: "oom" }, { path: "/sdapi" })
    gpu.inject({ kind: "oom" }, { path: "/sdapi" })
    const oom = await runBuild(makeWorkspace("A hunter watched from the ridge.", { config: local() }), { keepGoing: true }, env())
    gpu.clearFaults()
    expect(oom.summary.failed[0]?.error).toMatch(/CUDA out of memory/)
    const down = await runBuild(makeWorkspace(story[1]!, { config: local(`,\n  retries: 1`) }), { keepGoing: true }, env({ A1111_BASE_URL: "http://127.0.0.1:9" }))
    expect(down.summary.failed[0]?.error).toMatch(/start it with --api, or set A1111_BASE_URL/)
  })

  it("an unknown sampler: the server's 404 'Sampler not found' says so", async () => {
    const r = await runBuild(makeWorkspace(story[1]!, { config: local() }), { keepGoing: true }, env({ A1111_SAMPLER: "Euler b" }))
    expect(r.summary.failed[0]?.error).toMatch(/Sampler not found/)
  })

  it("--api-auth: credentials sent as HTTP Basic; wrong ones name the variable and never show", async () => {
    const ok = await runBuild(makeWorkspace(story[1]!, { config: local() }), {}, env({ A1111_BASE_URL: locked.baseUrl, A1111_AUTH: "artist:s3cret-pass-7788" }))
    expect(ok.summary.failed).toEqual([])
    const bad = await runBuild(makeWorkspace(story[1]!, { config: local() }), { keepGoing: true }, env({ A1111_BASE_URL: locked.baseUrl, A1111_AUTH: "artist:wrong-pass-1234" }))
    expect(bad.summary.failed[0]?.error).toMatch(/check A1111_AUTH/)
    expect(JSON.stringify(bad.summary) + JSON.stringify(bad.events)).not.toContain("wrong-pass-1234")
  })
})
