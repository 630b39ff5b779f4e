/**
 * `storyshot serve` under load (issue 18 §6): one cloud build against the fake providers (latencies scaled so
 * it runs for more than 30 s, as real ones do for minutes), once alone and once while 20 clients hold the
 * project's event stream and 200 status requests a second are sent (for the whole build, at least 30 s), all
 * on loopback.
 *
 * Every build gets a fresh server process and fresh fakes: a server that already built once polls fal at the
 * times it learnt from that build (`Follow.typicalMs`), so the second build of a process differs from the first
 * whatever the load (an A/A check, `SERVE_AA=1`, measured +58% for the second of two unloaded builds in one
 * server). Pairs are alternated (alone then loaded, then loaded then alone, …) so that the machine's own load
 * falls on both alike, and the figure is the median of each.
 *
 * Prints the build's wall time each way, their ratio, the errors (a status that is not 200, a failed request,
 * an event stream that dropped or that missed the build's end), what the load cost the server (its CPU seconds
 * loaded minus alone, from /proc) and what it cost the load generator itself (a process of its own,
 * bench/ServeLoad.ts), and the status latencies; then one line `SERVE_RESULT {json}` for bench/run.ts.
 *
 *     node bin/run-ts.js bench/Serve.ts [pairs=3]
 *
 * SERVE_PROF=DIR: each server writes a CPU profile there when it stops (to see what a request costs it).
 */
import { fork } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startFakes } from "../test/fakes/all.ts"
import { request, smallSettings, startServer, tempRoot, type Server } from "../test/server/harness.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const runTs = path.join(here, "..", "bin", "run-ts.js")
const pairs = Number(process.argv[2] ?? 3)
const sseClients = 20
const statusPerSecond = 200
const loadSeconds = 30
const profDir = process.env.SERVE_PROF

const transcript = [
  "The lighthouse keeper woke before dawn, as she had every day for forty years.",
  "She climbed the spiral stairs with a lantern in one hand and a cup of tea in the other.",
  "Out on the water, a small boat was drifting towards the rocks.",
  "She rang the bell, and the boat turned just in time.",
  "Then the sun came up over a quiet sea."
].join("\n")

interface LoadStats {
  readonly seconds: number
  readonly statusRequests: number
  readonly connections: number
  readonly errors: number
  readonly errorSample: ReadonlyArray<string>
  readonly sseEvents: number
  readonly sseSawEnd: number
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number }
  /** The load generator's own CPU seconds while it ran. */
  readonly cpu: number
}

const noLoad: LoadStats = { seconds: 0, statusRequests: 0, connections: 0, errors: 0, errorSample: [], sseEvents: 0, sseSawEnd: 0, latencyMs: { p50: 0, p99: 0, max: 0 }, cpu: 0 }

/**
 * 20 event-stream clients and 200 status requests a second, from a process of its own (bench/ServeLoad.ts:
 * plain keep-alive sockets), until stopped (and for at least 30 s). Resolves once its streams are asked for.
 */
const load = async (server: Server, project: string, runId: string) => {
  const child = fork(runTs, [path.join(here, "ServeLoad.ts"), JSON.stringify({ port: server.port, project, runId, streams: sseClients, perSecond: statusPerSecond })], {
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const messages: Array<(m: unknown) => void> = []
  child.on("message", (m) => messages.shift()?.(m))
  const next = () => new Promise<unknown>((resolve) => messages.push(resolve))
  await next()
  const started = Date.now()
  return {
    stop: async (): Promise<LoadStats> => {
      const more = loadSeconds * 1000 - (Date.now() - started)
      if (more > 0) await new Promise((r) => setTimeout(r, more))
      const stats = next()
      child.send({ stop: true })
      return (await stats) as LoadStats
    }
  }
}

/**
 * CPU seconds a process has used (its own, not its ffmpeg children's), from /proc on Linux; the figure that
 * says what serving the load costs, apart from what the machine's other work does to wall time.
 */
const cpuOf = (pid: number | undefined): number | undefined => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return undefined
  }
}

/** Waits for the build to end (polled once a second, alone and loaded alike), then returns its status. */
const ended = async (server: Server, project: string, runId: string) => {
  for (;;) {
    const r = await request(`${server.url}/api/projects/${project}/builds/${runId}`)
    if (r.json.state !== "running" && r.json.state !== "queued") return r.json
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

/** A fresh server, fakes and project (nothing stored: the whole film is paid for, at the fakes); one build. */
const run = async (loaded: boolean) => {
  const fakes = await startFakes({
    workMs: { tts: 1500, video: 9000 },
    latency: { image: 2500, chat: 800, falSubmit: 50, falQueue: 20, falFiles: 50 },
    pollsInQueue: 2,
    pollsInProgress: 2
  })
  const root = tempRoot()
  const server = await startServer(
    ["--root", root],
    // Answers take seconds here (as real ones do): no request is given up at the tests' 3 s.
    { ...fakes.env, STORYSHOT_TOKEN: "", STORYSHOT_FAL_POLL_MS: "500", STORYSHOT_HTTP_TIMEOUT_MS: "60000" },
    os.tmpdir(),
    profDir ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []
  )
  try {
    const created = await request(`${server.url}/api/projects`, {
      method: "POST",
      json: { name: "Bench", profile: "cloud", transcript, settings: smallSettings }
    })
    const project = created.json.id as string
    const started = await request(`${server.url}/api/projects/${project}/builds`, { method: "POST", json: {} })
    const runId = started.json.id as string
    const cpu0 = cpuOf(server.child.pid)
    // SERVE_AA=1: no load on either build (an A/A check of the pairing itself).
    const l = loaded && process.env.SERVE_AA !== "1" ? await load(server, project, runId) : undefined
    const job = await ended(server, project, runId)
    const stats = l ? await l.stop() : noLoad
    const cpu1 = cpuOf(server.child.pid)
    if (job.state !== "done") throw new Error(`the build ended ${job.state}: ${job.error}`)
    return { wallMs: job.wallMs as number, built: job.built.length as number, stats, cpu: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : NaN }
  } finally {
    await server.stop()
    await fakes.close()
    fs.rmSync(root, { recursive: true, force: true })
  }
}

interface Pair {
  readonly alone: number
  readonly loaded: number
  readonly built: number
  readonly stats: LoadStats
  readonly cpuAlone: number
  readonly cpuLoaded: number
}

const results: Array<Pair> = []
const cpu = (c: number) => (Number.isNaN(c) ? "?" : c.toFixed(1))
for (let i = 0; i < pairs; i++) {
  const loadedFirst = i % 2 === 1
  const a = await run(loadedFirst)
  const b = await run(!loadedFirst)
  const [alone, loaded] = loadedFirst ? [b, a] : [a, b]
  const stats = loaded.stats
  results.push({ alone: alone.wallMs, loaded: loaded.wallMs, built: loaded.built, stats, cpuAlone: alone.cpu, cpuLoaded: loaded.cpu })
  console.log(
    `pair ${i + 1} (${loadedFirst ? "loaded first" : "alone first"}): alone ${(alone.wallMs / 1000).toFixed(1)} s, loaded ${(loaded.wallMs / 1000).toFixed(1)} s (${((loaded.wallMs / alone.wallMs - 1) * 100).toFixed(1)}%); server CPU alone ${cpu(alone.cpu)} s, loaded ${cpu(loaded.cpu)} s; load generator CPU ${stats.cpu.toFixed(1)} s for ${stats.seconds.toFixed(0)} s of load (${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}); ${stats.statusRequests} status requests on ${stats.connections} connection(s), latency p50 ${stats.latencyMs.p50.toFixed(1)} ms, p99 ${stats.latencyMs.p99.toFixed(1)} ms, max ${stats.latencyMs.max.toFixed(0)} ms; ${sseClients} streams got ${stats.sseEvents} events, ${stats.sseSawEnd}/${sseClients} saw the end; errors ${stats.errors}${stats.errors ? `: ${stats.errorSample.join("; ")}` : ""}`
  )
}
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const alone = median(results.map((r) => r.alone))
const loaded = median(results.map((r) => r.loaded))
const errors = results.reduce((a, r) => a + r.stats.errors, 0)
const extraCpu = median(results.map((r) => r.cpuLoaded - r.cpuAlone))
const requests = median(results.map((r) => r.stats.statusRequests))
const summary = {
  pairs: results.length,
  nodes: results[0]?.built ?? 0,
  aloneMs: alone,
  loadedMs: loaded,
  change: loaded / alone - 1,
  /** The median of each pair's own change (the pairs ran at different times of a shared machine's load). */
  pairChange: median(results.map((r) => r.loaded / r.alone - 1)),
  errors,
  serverExtraCpuS: extraCpu,
  serverCpuPerStatusMs: requests > 0 ? (extraCpu / requests) * 1000 : NaN,
  generatorCpuS: median(results.map((r) => r.stats.cpu)),
  loadSeconds: median(results.map((r) => r.stats.seconds)),
  statusRequests: requests,
  p99Ms: median(results.map((r) => r.stats.latencyMs.p99))
}
console.log(
  `serve under load (${sseClients} event streams + ${statusPerSecond} status/s for at least ${loadSeconds} s, loopback, ${summary.nodes} nodes built, median of ${results.length}): wall alone ${(alone / 1000).toFixed(1)} s, loaded ${(loaded / 1000).toFixed(1)} s, change ${(summary.change * 100).toFixed(1)}% (median of the pairs' own changes ${(summary.pairChange * 100).toFixed(1)}%; goal < 10%), errors ${errors} (goal 0); the load cost the server ${extraCpu.toFixed(1)} CPU-s (${summary.serverCpuPerStatusMs.toFixed(2)} ms per status request, streams included), the generator ${summary.generatorCpuS.toFixed(1)} CPU-s`
)
// For bench/run.ts: the figures as one line of JSON.
console.log(`SERVE_RESULT ${JSON.stringify(summary)}`)
