/**
 * The queue measured from outside, as a team would run it (not a test: `node bin/run-ts.js test/queue/measure.ts`):
 * Debian's redis-server, s3rver as the shared remote cache, the cloud fakes as the providers, then the real
 * commands `storyshot serve --root DIR --queue redis://…` and two `storyshot worker` processes. Four projects
 * that share two sentences are queued through the HTTP API; one worker is killed with -9 while a clip of its
 * project is at fal. Prints: what was paid at the fakes and how many repeats, the peak of requests at once per
 * provider against the limit, the jobs' end states and time, and lines of /metrics.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bin, cli, smallConfig } from "../e2e/harness.ts"
import { startFakes } from "../fakes/all.ts"
import type { FakeRequest } from "../fakes/server.ts"
import { startS3 } from "../cache/s3.ts"
import { startRedis } from "./redis.ts"

const projectsN = Number(process.env.PROJECTS ?? 4)
const videoMs = 2_000
const imageMs = 500
const shared = ["The lighthouse keeper climbed the stairs at dusk.", "Waves broke against the black rocks."]
const own = ["A gull circled the lantern twice.", "The fog rolled in from the west.", "A ship's bell rang far away.", "Rain drummed on the iron roof.", "The keeper wrote one line in his log.", "Morning came grey and quiet."]

const t0 = Date.now()
const say = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}`)

const [redis, s3, fakes] = await Promise.all([startRedis(), startS3(), startFakes({ workMs: { video: videoMs } })])
let openImages = 0
let peakImages = 0
fakes.openai.setLatency((req) => {
  if (!req.path.includes("/images/")) return 0
  openImages++
  peakImages = Math.max(peakImages, openImages)
  setTimeout(() => openImages--, imageMs)
  return imageMs
})
await cli(["--version"], { cwd: os.tmpdir() })

const root = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-measure-"))
const projects = own.slice(0, projectsN).map((line, i) => {
  const dir = path.join(root, `p${i + 1}`)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, "transcript.txt"), [...shared, line].join("\n"))
  fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), smallConfig(`profile: "cloud",\n  pools: { openai: 2, fal: 2, openrouter: 2 }`))
  return `p${i + 1}`
})
const env = {
  ...process.env,
  CI: "true",
  ...fakes.env,
  ...s3.env("team"),
  STORYSHOT_QUEUE_LOCK_MS: "3000",
  STORYSHOT_QUEUE_STALLED_MS: "1000",
  STORYSHOT_QUEUE_LEASE_MS: "4000"
}

const started = (args: ReadonlyArray<string>, ready: RegExp) =>
  new Promise<{ child: ChildProcess; out: () => string; match: RegExpExecArray }>((resolve, reject) => {
    say(`$ storyshot ${args.join(" ")}`)
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    const on = (c: Buffer) => {
      out += String(c)
      const m = ready.exec(out)
      if (m) resolve({ child, out: () => out, match: m })
    }
    child.stdout!.on("data", on)
    child.stderr!.on("data", on)
    child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)))
    setTimeout(() => reject(new Error(`no start: ${out}`)), 60_000)
  })

const workers = await Promise.all([1, 2].map(() => started(["worker", "--queue", redis.url, "--metrics-port", "0"], /metrics at (\S+)[\s\S]*taking builds/)))
const server = await started(["serve", "--port", "0", "--root", root, "--queue", redis.url], /storyshot serve: http:\/\/127\.0\.0\.1:(\d+)\//)
const base = `http://127.0.0.1:${server.match[1]}`
say(`redis-server at ${redis.url}, s3rver at ${s3.endpoint}, serve at ${base}, workers' metrics at ${workers.map((w) => w.match[1]).join(", ")}`)

fakes.reset()
const jobs: Array<{ project: string; id: string }> = []
for (const p of projects) {
  const r = await fetch(`${base}/api/projects/${p}/builds`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
  const j = (await r.json()) as { id: string; state: string }
  say(`POST /api/projects/${p}/builds → ${r.status} ${j.state} ${j.id}`)
  jobs.push({ project: p, id: j.id })
}

const activeProject = (out: string) => {
  const open = new Set<string>()
  for (const m of out.matchAll(/^(p\d+): (build \(run|done|failed|interrupted)/gm)) m[2]!.startsWith("build") ? open.add(m[1]!) : open.delete(m[1]!)
  return [...open][0]
}
const clipAtFal = (p: string) => {
  try {
    return fs.readdirSync(path.join(root, p, ".storyshot", "inflight")).some((f) => fs.readFileSync(path.join(root, p, ".storyshot", "inflight", f), "utf8").includes("kling-video"))
  } catch {
    return false
  }
}
let killedAt: number | undefined
let metricsDuring = ""
const states = new Map<string, { state: string; wallMs: number | null; spent: { usd: number } }>()
while (Date.now() - t0 < 300_000) {
  for (const j of jobs) {
    const r = await fetch(`${base}/api/projects/${j.project}/builds/${j.id}`)
    if (r.ok) states.set(j.project, (await r.json()) as never)
  }
  if (killedAt === undefined) {
    const w = workers.find((w) => {
      const p = activeProject(w.out())
      return p !== undefined && clipAtFal(p)
    })
    if (w) {
      metricsDuring = await (await fetch(w.match[1]!)).text()
      say(`kill -9 worker pid ${w.child.pid} (building ${activeProject(w.out())}, its clip at fal)`)
      w.child.kill("SIGKILL")
      killedAt = Date.now()
    }
  }
  if (states.size === jobs.length && [...states.values()].every((s) => s.state !== "queued" && s.state !== "running")) break
  await new Promise((r) => setTimeout(r, 200))
}
say(`jobs: ${[...states.entries()].map(([p, s]) => `${p} ${s.state} ${s.wallMs} ms $${s.spent.usd.toFixed(4)}`).join("; ")}`)

const paidKey = (req: FakeRequest) => {
  const p = req.path.split("?")[0]!
  if (req.method !== "POST" || p.startsWith("/storage/") || p.includes("/requests/")) return undefined
  if (p.endsWith("/images/generations") || p.endsWith("/chat/completions")) return `${p} ${req.text}`
  const { image_url: _i, ...rest } = (req.json ?? {}) as Record<string, unknown>
  return `${p} ${JSON.stringify(rest)}`
}
const paid = [...fakes.fal.received, ...fakes.openai.requests, ...fakes.openrouter.requests].flatMap((q) => (paidKey(q) === undefined ? [] : [paidKey(q)!]))
// fal works on a request from its submit for `videoMs` (clips) or at once (narrations): its peak of clips at once.
const clipSubmits = fakes.fal.received.filter((q) => q.method === "POST" && /kling-video/.test(q.path)).map((q) => q.at)
const peakClips = Math.max(0, ...clipSubmits.map((at) => clipSubmits.filter((b) => b <= at && at < b + videoMs).length))
const counts = fakes.counts()
say(`paid requests at the fakes: ${paid.length} (narrations ${counts.ttsSubmits}, shot lists ${counts.chats}, images ${counts.images}, clips ${counts.videoSubmits}); repeats (same request bought twice): ${paid.length - new Set(paid).size}`)
say(`peak at once, all workers: images ${peakImages} (limit openai: 2), clips at fal ${peakClips} (limit fal: 2)`)
const resumed = workers.map((w) => w.out()).join("\n").match(/.*resumed.*/g) ?? []
say(`resumed after the kill: ${resumed.length > 0 ? "yes" : "no"}; worker logs:\n${workers.map((w) => w.out().trim()).join("\n---\n")}`)
const serverMetrics = await (await fetch(`${base}/metrics`)).text()
const pick = (text: string) => text.split("\n").filter((l) => /^storyshot_(builds_total|nodes_total|requests_total|spend_usd_total|queue_depth|provider_permits_held)/.test(l)).join("\n")
say(`worker /metrics during the build (excerpt):\n${pick(metricsDuring)}`)
say(`serve /metrics at the end (excerpt):\n${pick(serverMetrics)}`)

for (const w of workers) w.child.kill("SIGINT")
server.child.kill("SIGINT")
await new Promise((r) => setTimeout(r, 1500))
for (const c of [...workers.map((w) => w.child), server.child]) if (c.exitCode === null) c.kill("SIGKILL")
await Promise.all([redis.stop(), s3.close(), fakes.close()])
process.exit(0)
