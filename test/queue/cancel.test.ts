/**
 * Cancelling a build that a `storyshot worker` runs, through the server's API (`serve --queue`): the worker
 * stops it as Ctrl-C stops a build, the job ends as cancelled (not handed to another worker, not re-run), the
 * worker goes on taking builds, and the next build of the project collects what was being made: nothing is
 * bought twice. Real commands: Debian's redis-server, the cloud fakes, `storyshot serve --queue`, one worker.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, cli, smallConfig } from "../e2e/harness.ts"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { startServer, waitFor, waitForJob, type Server } from "../server/harness.ts"
import { redisServerPath, startRedis, type RedisServer } from "./redis.ts"

let redis: RedisServer
let fakes: Fakes
let server: Server | undefined
let worker: { child: ChildProcess; output: () => string } | undefined

beforeAll(async () => {
  if (redisServerPath === undefined) return
  // Clips take 4 s at fal: the cancel comes while they are being made.
  ;[redis, fakes] = await Promise.all([startRedis(), startFakes({ workMs: { video: 4_000 } })])
  await cli(["--version"], { cwd: os.tmpdir() })
}, 120_000)

afterAll(async () => {
  if (worker?.child.exitCode === null) worker.child.kill("SIGKILL")
  await server?.kill9()
  await Promise.all([redis?.stop(), fakes?.close()])
})

const post = async (url: string) => {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
  return { status: r.status, json: (await r.json()) as { id: string; state: string; error: string | null } }
}

describe.skipIf(redisServerPath === undefined)("serve --queue: cancel a build a worker runs", () => {
  it("the same order sent to two servers while it waits is one job (BullMQ answers an ignored add with the data it was given)", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-queue-twice-"))
    fs.mkdirSync(path.join(root, "twice"))
    fs.writeFileSync(path.join(root, "twice", "transcript.txt"), "A gull circled the lantern twice.\n")
    fs.writeFileSync(path.join(root, "twice", "storyshot.config.mjs"), smallConfig(`profile: "cloud"`))
    const env = { ...fakes.env, STORYSHOT_QUEUE: redis.url }
    // No worker runs yet: the build waits on the queue.
    const [a, b] = await Promise.all([startServer(["--root", root, "--queue", redis.url], env), startServer(["--root", root, "--queue", redis.url], env)])
    try {
      const fromA = await post(`${a.url}/api/projects/twice/builds`)
      const fromB = await post(`${b.url}/api/projects/twice/builds`)
      expect(fromA.status).toBe(202)
      expect(fromB.status).toBe(202)
      expect(fromB.json.id).toBe(fromA.json.id)
      // Taken off the queue before any worker saw it.
      const cancelled = await post(`${a.url}/api/projects/twice/builds/${fromA.json.id}/cancel`)
      expect(cancelled.json.state).toBe("cancelled")
      expect(cancelled.json.error).toMatch(/^cancelled before a worker took it/)
    } finally {
      await Promise.all([a.kill9(), b.kill9()])
    }
  }, 120_000)

  it("the worker stops it, the job ends cancelled and is not run again, the worker takes the next build, which buys nothing twice", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-queue-cancel-"))
    const dir = path.join(root, "film")
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, "transcript.txt"), "The lighthouse keeper climbed the stairs at dusk.\nWaves broke against the black rocks.\n")
    fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), smallConfig(`profile: "cloud"`))
    const env = { ...fakes.env, STORYSHOT_QUEUE: redis.url, STORYSHOT_QUEUE_LOCK_MS: "2000", STORYSHOT_QUEUE_STALLED_MS: "1000", STORYSHOT_QUEUE_LEASE_MS: "3000" }
    let out = ""
    const child = spawn(process.execPath, [bin, "worker"], { env: { ...process.env, CI: "true", ...env }, stdio: ["ignore", "pipe", "pipe"] })
    child.stdout!.on("data", (c: Buffer) => void (out += String(c)))
    child.stderr!.on("data", (c: Buffer) => void (out += String(c)))
    worker = { child, output: () => out }
    await waitFor("the worker", () => (out.includes("taking builds from") ? true : undefined), 60_000)
    server = await startServer(["--root", root, "--queue", redis.url], env)
    fakes.reset()

    const first = await post(`${server.url}/api/projects/film/builds`)
    expect(first.status).toBe(202)
    // Cancel once a clip is at fal (a paid request the next build must collect, not buy again).
    await waitFor("a clip submitted", () => (fakes.counts().videoSubmits >= 1 ? true : undefined), 120_000)
    const cancelled = await post(`${server.url}/api/projects/film/builds/${first.json.id}/cancel`)
    expect(cancelled.status, JSON.stringify(cancelled.json)).toBe(200)
    expect(cancelled.json.state, out).toBe("cancelled")
    expect(cancelled.json.error).toMatch(/^cancelled: what finished is kept/)
    expect(out).toContain(`run ${first.json.id} cancelled by the server`)
    const submitted = fakes.counts().videoSubmits

    // The worker is still there and takes the next build, which finishes the film.
    const second = await post(`${server.url}/api/projects/film/builds`)
    expect(second.status).toBe(202)
    expect(second.json.id).not.toBe(first.json.id)
    const done = (await waitForJob(server.url, "film", second.json.id)) as { state: string; error: string | null }
    expect(done.state, `${done.error}\n${out}`).toBe("done")
    expect(child.exitCode).toBe(null)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)

    // The cancelled job stays cancelled: it was not put back on the queue for a worker to run again.
    const status = (await (await fetch(`${server.url}/api/projects/film/builds/${first.json.id}`)).json()) as { state: string }
    expect(status.state).toBe("cancelled")
    const { runs } = (await (await fetch(`${server.url}/api/projects/film/builds`)).json()) as { runs: Array<{ id: string; status: string }> }
    expect(runs.find((r) => r.id === first.json.id)?.status).toBe("cancelled")
    expect(out.match(/film: .*\(run /g)?.length).toBe(2)

    // Nothing bought twice: the clips being made at the cancel were collected, not submitted again.
    const counts = fakes.counts()
    expect(counts.ttsSubmits).toBe(2)
    expect(counts.videoSubmits).toBe(counts.images)
    expect(counts.videoSubmits).toBeGreaterThanOrEqual(submitted)
    expect(counts.cancels).toBe(0)
  }, 300_000)
})
