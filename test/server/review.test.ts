/**
 * The studio's review, in the cloud profile against the fakes, from outside (the real `storyshot serve`):
 * - money on the wire is what a person reads: cents, or 4 significant digits under a cent, never float noise,
 *   and each figure is the exact sum rounded once (as the command line's own dry run adds it);
 * - approving a shot in the studio is `storyshot approve shot:K`: its sentence's plan is frozen in
 *   storyshot.shots.json (the same file the command line writes), so a later change of the writer's model
 *   re-plans and re-pays only the sentences not approved; taking it back is `approve --clear`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { cli } from "../e2e/harness.ts"
import { roundUsd } from "../../src/server/Schemas.ts"
import { request, smallSettings, startServer, tempRoot, waitForJob, type Server } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]

let fakes: Fakes
let root = ""
let server: Server | undefined
let project = ""
const env = () => ({ ...fakes.env, STORYSHOT_TOKEN: "" })

beforeAll(async () => {
  fakes = await startFakes()
  root = tempRoot()
  server = await startServer(["--root", root], env())
  const created = await request(`${server.url}/api/projects`, {
    method: "POST",
    json: { name: "Fox", profile: "cloud", transcript: story.join("\n"), settings: smallSettings }
  })
  expect(created.status, created.text).toBe(201)
  project = created.json.id
}, 120_000)
afterAll(async () => {
  await server?.stop()
  await fakes?.close()
  if (root) fs.rmSync(root, { recursive: true, force: true })
})

/** Every dollar figure in an answer (any `usd` that is a number), with where it is. */
const figures = (value: unknown, at = "", out: Array<[string, number]> = []): Array<[string, number]> => {
  if (Array.isArray(value)) value.forEach((v, i) => figures(v, `${at}[${i}]`, out))
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) {
      if (k === "usd" && typeof v === "number") out.push([`${at}.usd`, v])
      else figures(v, `${at}.${k}`, out)
    }
  return out
}

/** Rounded as a person reads it, with no float noise left in its decimal form. */
const shown = (usd: number) => usd === roundUsd(usd) && String(usd).length <= 10

const build = async () => {
  const started = await request(`${server!.url}/api/projects/${project}/builds`, { method: "POST", json: {} })
  expect(started.status, started.text).toBe(202)
  const done = await waitForJob(server!.url, project, started.json.id)
  expect(done.state, JSON.stringify(done)).toBe("done")
  return done
}

const editsFile = () => path.join(root, project, "storyshot.shots.json")
const edits = () => (fs.existsSync(editsFile()) ? JSON.parse(fs.readFileSync(editsFile(), "utf8")) : { version: 1, shots: [] })

describe("the studio's review", () => {
  it("shows money rounded (cents; 4 significant digits under a cent), each figure the exact sum rounded once", async () => {
    const plan = await request(`${server!.url}/api/projects/${project}/plan`)
    expect(plan.status, plan.text).toBe(200)
    const all = figures(plan.json)
    expect(all.length).toBeGreaterThan(3)
    for (const [where, usd] of all) expect(shown(usd), `${where} is ${usd}`).toBe(true)
    // The command line's dry run keeps the exact figures: each of the studio's is that, added up, then rounded.
    const dry = cli(["build", "--dry-run", "--json"], { cwd: path.join(root, project), env: env() })
    expect(dry.code, dry.stderr).toBe(0)
    const exact = JSON.parse(dry.stdout) as { wouldBuild: Array<{ id: string; stage: string; estimate: { usd: number } }>; estimate: { usd: number } }
    expect(plan.json.estimate.usd).toBe(roundUsd(exact.estimate.usd))
    const sums = new Map<string, number>()
    for (const w of exact.wouldBuild) sums.set(w.stage, (sums.get(w.stage) ?? 0) + (w.estimate.usd ?? 0))
    for (const s of plan.json.stages) expect(s.estimate.usd, s.stage).toBe(roundUsd(sums.get(s.stage)!))
    // The case this is about: a stage whose exact sum has float noise (the fakes' prices give one).
    expect([...sums.values()].some((x) => String(x).length > 10), JSON.stringify([...sums])).toBe(true)
    for (const n of plan.json.nodes) expect(n.estimate.usd).toBe(roundUsd(exact.wouldBuild.find((w) => w.id === n.id)!.estimate.usd))
    console.log(`plan: ${all.length} figures, e.g. ${plan.json.stages.map((s: any) => `${s.stage} ${s.estimate.usd} (exact ${sums.get(s.stage)})`).join(", ")}; total ${plan.json.estimate.usd} (exact ${exact.estimate.usd})`)

    // A build's status, its run row and the story show rounded figures too, as does the event stream.
    const job = await build()
    for (const [where, usd] of figures(job)) expect(shown(usd), `status ${where} is ${usd}`).toBe(true)
    const runs = await request(`${server!.url}/api/projects/${project}/builds`)
    for (const [where, usd] of figures(runs.json)) expect(shown(usd), `runs ${where} is ${usd}`).toBe(true)
    const storyAnswer = await request(`${server!.url}/api/projects/${project}/story`)
    for (const [where, usd] of figures(storyAnswer.json)) expect(shown(usd), `story ${where} is ${usd}`).toBe(true)
    const ctrl = new AbortController()
    const res = await fetch(`${server!.url}/api/projects/${project}/events`, { signal: ctrl.signal })
    const reader = res.body!.getReader()
    let text = ""
    while (!text.includes('"_tag":"Hello"') || !text.includes("\n\n", text.indexOf('"_tag":"Hello"'))) text += new TextDecoder().decode((await reader.read()).value)
    ctrl.abort()
    const hello = JSON.parse(/data: (\{"_tag":"Hello".*)\n/.exec(text)![1]!)
    expect(hello.jobs.length).toBeGreaterThan(0)
    for (const [where, usd] of figures(hello)) expect(shown(usd), `event ${where} is ${usd}`).toBe(true)
  }, 240_000)

  it("approve freezes the shot's sentence as `storyshot approve shot:K` does: a new writer model re-plans only the others", async () => {
    const storyNow = (await request(`${server!.url}/api/projects/${project}/story`)).json
    const first = storyNow.sentences[0].shots as Array<{ k: number; prompt: string }>
    expect(first.length).toBeGreaterThan(0)
    const k = first[0]!.k

    const approved = await request(`${server!.url}/api/projects/${project}/shots/${k}/approval`, { method: "PUT", json: { approved: true } })
    expect(approved.status, approved.text).toBe(200)
    expect(approved.json).toMatchObject({ k, approved: true })
    const byStudio = edits()
    const sentenceKey = story[0]!.toLowerCase()
    const entries = byStudio.shots.filter((e: any) => e.sentence === sentenceKey)
    expect(entries.map((e: any) => e.shot)).toEqual(first.map((_, j) => j + 1))
    for (const e of entries) expect(e).toMatchObject({ approved: true, frozen: { prompt: expect.any(String) } })
    expect(entries[0].frozen.prompt).toBe(first[0]!.prompt)
    const view = (await request(`${server!.url}/api/projects/${project}/story`)).json
    expect(view.sentences[0].shots.every((s: any) => s.approved)).toBe(true)
    expect(view.sentences[1].shots.some((s: any) => s.approved)).toBe(false)

    // Taken back, then approved from the command line: the same file as the studio wrote.
    const back = await request(`${server!.url}/api/projects/${project}/shots/${k}/approval`, { method: "PUT", json: { approved: false } })
    expect(back.status, back.text).toBe(200)
    expect(back.json.approved).toBe(false)
    expect(edits().shots.filter((e: any) => e.approved !== undefined || e.frozen !== undefined)).toEqual([])
    const byCli = cli(["approve", `shot:${k}`], { cwd: path.join(root, project), env: env() })
    expect(byCli.code, byCli.stderr).toBe(0)
    expect(edits()).toEqual(byStudio)

    // Another writer model (the server started again with it): sentence 1 is not re-planned, and none of its
    // shots is paid again; the other two are re-planned (one call each).
    await server!.stop()
    server = await startServer(["--root", root], { ...env(), OPENROUTER_MODEL: "google/gemini-2.5-flash" })
    fakes.reset()
    const started = await request(`${server.url}/api/projects/${project}/builds`, { method: "POST", json: {} })
    expect(started.status, started.text).toBe(202)
    // While it runs, approving would wait for it: refused, saying so.
    const busy = await request(`${server.url}/api/projects/${project}/shots/${k}/approval`, { method: "PUT", json: { approved: true } })
    expect(busy.status, busy.text).toBe(409)
    expect(busy.json.message).toMatch(/approve shot \d+ once it ends/)
    const done = await waitForJob(server.url, project, started.json.id)
    expect(done.state, JSON.stringify(done)).toBe("done")
    const paid = (done.built as Array<string>).filter((id) => /^(sentence:\d+:(audio|prompts)|shot:\d+:(image|video))$/.test(id))
    expect(paid).toContain("sentence:2:prompts")
    expect(paid).toContain("sentence:3:prompts")
    expect(paid.filter((id) => id === "sentence:1:prompts" || first.some((s) => id.startsWith(`shot:${s.k}:`)))).toEqual([])
    expect(fakes.counts().chats).toBe(2)
  }, 300_000)
})
