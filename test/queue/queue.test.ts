/**
 * The job queue as a team would run it: Debian's redis-server, one s3rver as the shared remote cache, the
 * cloud fakes, `storyshot serve --queue` and three `storyshot worker` processes, all real commands.
 *
 * Six projects that share two sentences are queued through the server's API. Every one finishes; no request
 * is paid twice (counted at the fakes: two paid requests with the same body are one thing bought twice); the
 * OpenAI limit of 2 holds across the three workers (the peak of image requests open at once, measured at
 * the fake); one worker is killed with -9 while it builds, and its job is finished by another without paying
 * anything twice. `/metrics` of a worker and of the server are scraped.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, cli, smallConfig } from "../e2e/harness.ts"
import { startFakes, type Fakes } from "../fakes/all.ts"
import type { FakeRequest } from "../fakes/server.ts"
import { startServer, type Server } from "../server/harness.ts"
import { startS3, type S3 } from "../cache/s3.ts"
import { redisServerPath, startRedis, type RedisServer } from "./redis.ts"

const shared = ["The lighthouse keeper climbed the stairs at dusk.", "Waves broke against the black rocks."]
const own = [
  "A gull circled the lantern twice.",
  "The fog rolled in from the west.",
  "A ship's bell rang far away.",
  "Rain drummed on the iron roof.",
  "The keeper wrote one line in his log.",
  "Morning came grey and quiet."
]

interface WorkerProcess {
  readonly child: ChildProcess
  readonly output: () => string
  readonly metricsUrl: string
  readonly exited: Promise<number | null>
}

const startWorker = (env: NodeJS.ProcessEnv): Promise<WorkerProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "worker", "--metrics-port", "0"], { env: { ...process.env, CI: "true", ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
    const timer = setTimeout(() => reject(new Error(`storyshot worker did not start in 60 s:\n${out}`)), 60_000)
    const onData = (c: Buffer) => {
      out += String(c)
      const m = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(out)
      if (m && out.includes("taking builds from")) {
        clearTimeout(timer)
        resolve({ child, output: () => out, metricsUrl: m[1]!, exited })
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    void exited.then(() => clearTimeout(timer))
  })

/** What a paid request bought, from its body: two requests with the same key bought the same thing twice. */
const paidKey = (req: FakeRequest): string | undefined => {
  const p = req.path.split("?")[0]!
  if (req.method !== "POST") return undefined
  if (p.endsWith("/images/generations") || p.endsWith("/chat/completions")) return `${p} ${req.text}`
  if (p.startsWith("/storage/") || p.includes("/requests/")) return undefined
  // fal: the clip's image comes as an upload URL that differs per upload; what is bought is the rest.
  const body = (req.json ?? {}) as Record<string, unknown>
  const { image_url: _image, ...rest } = body
  return `${p} ${JSON.stringify(rest)}${_image !== undefined ? " (a clip)" : ""}`
}

let redis: RedisServer
let s3: S3
let fakes: Fakes
let server: Server | undefined
const workers: Array<WorkerProcess> = []
let openImages = 0
let peakImages = 0

beforeAll(async () => {
  if (redisServerPath === undefined) return
  ;[redis, s3, fakes] = await Promise.all([startRedis(), startS3(), startFakes({ workMs: { video: 1_500 } })])
  // The peak of image requests open at once, as the fake sees them (each answered after 400 ms).
  fakes.openai.setLatency((req) => {
    if (!req.path.includes("/images/")) return 0
    openImages++
    peakImages = Math.max(peakImages, openImages)
    setTimeout(() => openImages--, 400)
    return 400
  })
  // The bundle is made once, before several commands start at the same time.
  await cli(["--version"], { cwd: os.tmpdir() })
}, 120_000)

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL")
  await server?.kill9()
  await Promise.all([redis?.stop(), s3?.close(), fakes?.close()])
})

const get = async (url: string) => {
  const r = await fetch(url)
  return { status: r.status, text: await r.text(), type: r.headers.get("content-type") ?? "" }
}

describe.skipIf(redisServerPath === undefined)("serve --queue with three workers", () => {
  it("six projects sharing two sentences: all finish, nothing paid twice, the OpenAI limit of 2 holds across workers, a worker killed -9 mid-build has its job finished elsewhere", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-queue-"))
    const config = smallConfig(`profile: "cloud",\n  pools: { openai: 2, fal: 4, openrouter: 4 }`)
    const projects = own.map((line, i) => {
      const dir = path.join(root, `p${i + 1}`)
      fs.mkdirSync(dir)
      fs.writeFileSync(path.join(dir, "transcript.txt"), [...shared, line].join("\n"))
      fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), config)
      return `p${i + 1}`
    })
    const env = {
      ...fakes.env,
      ...s3.env("team"),
      STORYSHOT_QUEUE: redis.url,
      // A killed worker's job comes back after ~3 s, its leases and permits run out after 3 s.
      STORYSHOT_QUEUE_LOCK_MS: "2000",
      STORYSHOT_QUEUE_STALLED_MS: "1000",
      STORYSHOT_QUEUE_LEASE_MS: "3000"
    }
    workers.push(...(await Promise.all([startWorker(env), startWorker(env), startWorker(env)])))
    server = await startServer(["--root", root, "--queue", redis.url], env)
    expect(server.output()).toContain(`builds queued on ${redis.url}`)
    fakes.reset()

    const started: Array<{ project: string; id: string }> = []
    for (const p of projects) {
      const r = await fetch(`${server.url}/api/projects/${p}/builds`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
      const job = (await r.json()) as { id: string; state: string }
      expect(r.status).toBe(202)
      expect(job.state).toBe("queued")
      started.push({ project: p, id: job.id })
    }

    // Kill -9 a worker while a clip of its project is at fal (a paid request it can re-attach to) and its
    // synchronous paid requests (shot lists, images) are all answered and recorded: a kill in the middle of a
    // synchronous request loses a request whose answer nobody can fetch again (see the report; providers'
    // side), which is not what this test is about.
    const activeProject = (w: WorkerProcess) => {
      const open = new Set<string>()
      for (const m of w.output().matchAll(/^(p\d+): (build \(run|done|failed|interrupted)/gm)) m[2]!.startsWith("build") ? open.add(m[1]!) : open.delete(m[1]!)
      return [...open][0]
    }
    const readyToKill = (project: string) => {
      const store = path.join(root, project, ".storyshot")
      const texts = (sub: string) => {
        try {
          return fs.readdirSync(path.join(store, sub), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith(".json")).map((e) => {
            try {
              return fs.readFileSync(path.join(e.parentPath, e.name), "utf8")
            } catch {
              return ""
            }
          })
        } catch {
          return []
        }
      }
      const records = texts("records")
      // By kind, not stage: the prompts stage also holds each sentence's free plan node.
      const recorded = (kind: string) => records.filter((t) => new RegExp(`"kind":\\s*"${kind}"`).test(t)).length
      return recorded("prompts") === 3 && recorded("image") === 3 && texts("inflight").some((t) => t.includes("kling-video"))
    }
    let killed: WorkerProcess | undefined
    let metricsDuring = ""
    const deadline = Date.now() + 240_000
    const states = new Map<string, string>()
    while (Date.now() < deadline) {
      for (const s of started) {
        const r = await get(`${server.url}/api/projects/${s.project}/builds/${s.id}`)
        if (r.status === 200) states.set(s.project, (JSON.parse(r.text) as { state: string }).state)
      }
      if (!killed) {
        const busy = workers.find((w) => {
          const p = activeProject(w)
          return p !== undefined && readyToKill(p)
        })
        if (busy) {
          metricsDuring = (await get(busy.metricsUrl)).text
          busy.child.kill("SIGKILL")
          await busy.exited
          killed = busy
        }
      }
      if ([...states.values()].length === projects.length && [...states.values()].every((s) => s === "done" || s === "failed")) break
      await new Promise((r) => setTimeout(r, 250))
    }
    const final = await Promise.all(
      started.map(async (s) => JSON.parse((await get(`${server!.url}/api/projects/${s.project}/builds/${s.id}`)).text) as { state: string; error: string | null; built: Array<string>; cached: number })
    )
    const outputs = workers.map((w) => w.output()).join("\n")
    expect(killed, outputs).toBeDefined()
    expect(final.map((j) => j.state), `${JSON.stringify(final.map((j) => j.error))}\n${outputs}`).toEqual(projects.map(() => "done"))
    for (const p of projects) expect(fs.existsSync(path.join(root, p, "out", "final.mp4"))).toBe(true)
    // The killed worker's job was taken up by another worker, which said so.
    expect(outputs).toMatch(/resumed/)

    // Nothing bought twice: every paid request at the fakes is a different thing.
    const paid = [...fakes.fal.received, ...fakes.openai.requests, ...fakes.openrouter.requests].flatMap((q) => {
      const k = paidKey(q)
      return k === undefined ? [] : [k]
    })
    const repeats = paid.length - new Set(paid).size
    const counts = fakes.counts()
    expect(repeats, JSON.stringify(paid.filter((k, i) => paid.indexOf(k) !== i))).toBe(0)
    // The shared sentences' narrations were bought once for all six projects: 2 shared + 6 own.
    expect(counts.ttsSubmits).toBe(8)
    // The limit across workers, at the fake.
    expect(peakImages).toBeGreaterThan(0)
    expect(peakImages).toBeLessThanOrEqual(2)

    // /metrics: a worker's (scraped during a build) and the server's (it counts what the workers relayed).
    expect(metricsDuring).toMatch(/^# HELP storyshot_nodes_total/m)
    expect(metricsDuring).toMatch(/storyshot_queue_depth\{state="active"\} [1-9]/)
    const serverMetrics = await get(`${server.url}/metrics`)
    expect(serverMetrics.status).toBe(200)
    expect(serverMetrics.type).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(serverMetrics.text).toMatch(/storyshot_builds_total\{outcome="done"\} 6/)
    expect(serverMetrics.text).toMatch(/storyshot_requests_total\{provider="openai"\} \d+/)
    expect(serverMetrics.text).toMatch(/storyshot_spend_usd_total\{provider="openai",source="\w+"\} [\d.]+/)
    expect(serverMetrics.text).toMatch(/storyshot_queue_depth\{state="waiting"\} 0/)
    console.log(
      `queue figures: ${JSON.stringify({ projects: projects.length, workers: 3, killed: 1, paidRequests: paid.length, repeats, counts, peakImages, limit: 2, states: final.map((j) => j.state) })}`
    )
  }, 300_000)
})
