/**
 * `storyshot serve` under load (issue 18 §6): one cloud build against the fake providers (latencies scaled so
 * it runs for more than 30 s, as real ones do for minutes), once alone and once while 20 clients hold the
 * project's event stream and 200 status requests a second are sent for 30 s, all on loopback. Alternated
 * (alone, loaded, alone, loaded, …) so that the machine's own load falls on both alike. Prints the build's
 * wall time each way, their ratio, and the errors (a status that is not 200, a failed request, an event stream
 * that dropped or that missed the build's end).
 *
 *     node bin/run-ts.js bench/Serve.ts [pairs=2]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import { startFakes } from "../test/fakes/all.ts"
import { request, smallSettings, startServer, tempRoot, waitFor } from "../test/server/harness.ts"

const pairs = Number(process.argv[2] ?? 2)
const sseClients = 20
const statusPerSecond = 200
const loadSeconds = 30

const transcript = [
  "The lighthouse keeper woke before dawn, as she had every day for forty years.",
  "She climbed the spiral stairs with a lantern in one hand and a cup of tea in the other.",
  "Out on the water, a small boat was drifting towards the rocks.",
  "She rang the bell, and the boat turned just in time.",
  "Then the sun came up over a quiet sea."
].join("\n")

const fakes = await startFakes({
  workMs: { tts: 1500, video: 9000 },
  latency: { image: 2500, chat: 800, falSubmit: 50, falQueue: 20, falFiles: 50 },
  pollsInQueue: 2,
  pollsInProgress: 2
})
const root = tempRoot()
const server = await startServer(["--root", root], { ...fakes.env, STORYSHOT_TOKEN: "", STORYSHOT_FAL_POLL_MS: "500" })

interface Load {
  readonly stop: () => Promise<{ statusRequests: number; errors: Array<string>; sseEvents: number; sseSawEnd: number }>
}

/** 20 event-stream clients and 200 status requests a second, until stopped (or 30 s, whichever is later). */
const load = (project: string, runId: string): Load => {
  const errors: Array<string> = []
  let statusRequests = 0
  let sseEvents = 0
  let sseSawEnd = 0
  const ctrl = new AbortController()
  const streams = Array.from({ length: sseClients }, async () => {
    try {
      const res = await fetch(`${server.url}/api/projects/${project}/events`, { signal: ctrl.signal })
      if (res.status !== 200) return void errors.push(`events ${res.status}`)
      const reader = res.body!.getReader()
      let text = ""
      let ended = false
      for (;;) {
        const { value, done } = await reader.read()
        if (done) {
          if (!ctrl.signal.aborted) errors.push("an event stream ended")
          break
        }
        text += new TextDecoder().decode(value)
        const parts = text.split("\n\n")
        text = parts.pop()!
        for (const p of parts) {
          if (!p.startsWith("id:")) continue
          sseEvents++
          if (!ended && p.includes(`"_tag":"Job"`) && p.includes(runId) && /"state":"(done|failed)"/.test(p)) {
            ended = true
            sseSawEnd++
          }
        }
      }
    } catch (e) {
      if (!ctrl.signal.aborted) errors.push(`events: ${String(e)}`)
    }
  })
  const started = Date.now()
  let stopping = false
  const poller = (async () => {
    const every = 1000 / statusPerSecond
    let next = Date.now()
    const inflight = new Set<Promise<void>>()
    while (!stopping || Date.now() - started < loadSeconds * 1000) {
      next += every
      const p = fetch(`${server.url}/api/projects/${project}/builds/${runId}`)
        .then(async (r) => {
          statusRequests++
          if (r.status !== 200) errors.push(`status ${r.status}`)
          await r.arrayBuffer()
        })
        .catch((e) => void errors.push(`status: ${String(e)}`))
        .finally(() => inflight.delete(p))
      inflight.add(p)
      const wait = next - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    }
    await Promise.all(inflight)
  })()
  return {
    stop: async () => {
      stopping = true
      await poller
      // Give the streams a moment to deliver the end, then close them.
      await new Promise((r) => setTimeout(r, 500))
      ctrl.abort()
      await Promise.all(streams)
      return { statusRequests, errors, sseEvents, sseSawEnd }
    }
  }
}

/**
 * CPU seconds the server process has used (its own, not its ffmpeg children's), from /proc on Linux; the
 * figure that says what serving the load costs, apart from what the machine's other work does to wall time.
 */
const serverCpu = (): number | undefined => {
  try {
    const fields = fs.readFileSync(`/proc/${server.child.pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return undefined
  }
}

/** A fresh project (nothing stored: the whole film is paid for, at the fakes) and its build's wall time. */
const run = async (i: number, loaded: boolean) => {
  const created = await request(`${server.url}/api/projects`, {
    method: "POST",
    json: { name: `Bench ${i}`, profile: "cloud", transcript, settings: smallSettings }
  })
  const project = created.json.id as string
  const started = await request(`${server.url}/api/projects/${project}/builds`, { method: "POST", json: {} })
  const runId = started.json.id as string
  const cpu0 = serverCpu()
  const client0 = process.cpuUsage()
  const l = loaded ? load(project, runId) : undefined
  const job = await waitFor(
    "the build",
    async () => {
      const r = await request(`${server.url}/api/projects/${project}/builds/${runId}`)
      return r.json.state === "running" || r.json.state === "queued" ? undefined : r.json
    },
    600_000,
    500
  )
  const stats = l ? await l.stop() : undefined
  const cpu1 = serverCpu()
  const client = process.cpuUsage(client0)
  if (job.state !== "done") throw new Error(`the build ended ${job.state}: ${job.error}`)
  const cpu = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined
  return { wallMs: job.wallMs as number, built: job.built.length as number, stats, cpu, clientCpu: (client.user + client.system) / 1e6 }
}

const results: Array<{ alone: number; loaded: number; statusRequests: number; errors: Array<string>; sseEvents: number; sseSawEnd: number; built: number }> = []
try {
  for (let i = 0; i < pairs; i++) {
    const alone = await run(2 * i, false)
    const loaded = await run(2 * i + 1, true)
    results.push({ alone: alone.wallMs, loaded: loaded.wallMs, built: loaded.built, ...loaded.stats! })
    const cpu = (r: { cpu: number | undefined }) => (r.cpu === undefined ? "?" : r.cpu.toFixed(1))
    console.log(
      `pair ${i + 1}: alone ${(alone.wallMs / 1000).toFixed(1)} s, loaded ${(loaded.wallMs / 1000).toFixed(1)} s (${((loaded.wallMs / alone.wallMs - 1) * 100).toFixed(1)}%); server CPU alone ${cpu(alone)} s, loaded ${cpu(loaded)} s; load generator (this process, fakes included) CPU alone ${alone.clientCpu.toFixed(1)} s, loaded ${loaded.clientCpu.toFixed(1)} s (${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}); ${loaded.stats!.statusRequests} status requests, ${sseClients} streams got ${loaded.stats!.sseEvents} events, ${loaded.stats!.sseSawEnd}/${sseClients} saw the end; errors ${loaded.stats!.errors.length}${loaded.stats!.errors.length ? `: ${loaded.stats!.errors.slice(0, 3).join("; ")}` : ""}`
    )
  }
} finally {
  await server.stop()
  await fakes.close()
  fs.rmSync(root, { recursive: true, force: true })
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const alone = median(results.map((r) => r.alone))
const loaded = median(results.map((r) => r.loaded))
const errors = results.reduce((a, r) => a + r.errors.length, 0)
console.log(
  `serve under load (${sseClients} event streams + ${statusPerSecond} status/s for ${loadSeconds} s, loopback, ${results[0]?.built ?? "?"} nodes built): median wall alone ${(alone / 1000).toFixed(1)} s, loaded ${(loaded / 1000).toFixed(1)} s, change ${((loaded / alone - 1) * 100).toFixed(1)}% (goal < 10%), errors ${errors} (goal 0)`
)
