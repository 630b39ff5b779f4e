/**
 * The crash test of issue 6: a cloud build against the fakes (in this process), the real command spawned,
 * killed with SIGKILL at 20+ random moments and started again each time. Whenever a build gets to the end
 * before its kill, a sentence is added so that the next one has paid work to be killed in.
 *
 * Afterwards: `storyshot verify` finds the store clean, `out/final.mp4` matches an uninterrupted build of
 * the same transcript, no fal request that completed was ever submitted twice for the same input, every
 * request the store had recorded as in flight at a kill was re-attached by a later build (the fake saw
 * its status polled again) and never submitted anew, and the last build pays for nothing.
 *
 * The moments are random; the seed is printed, and STORYSHOT_CRASH_SEED replays a run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakes, models, type Fakes } from "../fakes/all.ts"
import { cli, cliAsync, ffprobe, makeWorkspace, smallConfig } from "./harness.ts"
import { seeded } from "../random.ts"

const cloud = smallConfig(`profile: "cloud"`)
const lines = [
  "The fox ran across the frozen river at dawn.",
  "Snow fell on the pines.",
  "A hunter watched from the ridge.",
  "The river cracked under the weight.",
  "Birds rose from the reeds.",
  "The fox reached the far bank.",
  "Night came early that day.",
  "The hunter went home alone.",
  "Stars filled the cold sky.",
  "Morning found fresh tracks in the snow."
]

const seed = Number(process.env.STORYSHOT_CRASH_SEED ?? Date.now() % 1_000_000)
const random = seeded(seed)

/** The command, spawned without blocking: the fakes live in this process and must keep answering. */
const run = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = cliAsync(args, { cwd, env: fakes.env })
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (c) => (stdout += String(c)))
    child.stderr!.on("data", (c) => (stderr += String(c)))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

let fakes: Fakes
beforeAll(async () => {
  // Each stage takes long enough that kills land in all of them: narration 0.3 s, clip 0.7 s of fal work.
  fakes = await startFakes({ workMs: { tts: 300, video: 700 }, latency: { image: 200, chat: 120, falSubmit: 20 } })
})
afterAll(() => fakes?.close())

const inflightEntries = (dir: string): Array<{ requestId: string; answered: boolean }> => {
  const d = path.join(dir, ".storyshot", "inflight")
  if (!fs.existsSync(d)) return []
  return fs
    .readdirSync(d)
    .filter((f) => f.endsWith(".json"))
    .flatMap((f) => {
      try {
        const entry = JSON.parse(fs.readFileSync(path.join(d, f), "utf8"))
        // A fal request whose result (or file) was already received and kept: the next build uses it.
        return typeof entry.requestId === "string" ? [{ requestId: entry.requestId as string, answered: entry.answer !== undefined || entry.file !== undefined }] : []
      } catch {
        return []
      }
    })
}

const inflightIds = (dir: string): Array<string> => inflightEntries(dir).map((e) => e.requestId)

const recordedRequestIds = (dir: string): Set<string> => {
  const ids = new Set<string>()
  const root = path.join(dir, ".storyshot", "records")
  for (const shard of fs.readdirSync(root))
    for (const f of fs.readdirSync(path.join(root, shard))) {
      const r = JSON.parse(fs.readFileSync(path.join(root, shard, f), "utf8"))
      for (const q of r.requests ?? []) if (q.requestId) ids.add(q.requestId)
    }
  return ids
}

describe("crash safety", () => {
  it("SIGKILL at 20+ random moments of a cloud build: nothing paid twice, in-flight requests re-attached, a clean store and the right film", async () => {
    // How long one uninterrupted build of two sentences takes here (start-up included), so that the kill
    // moments spread over the whole build on a fast machine as on a loaded one.
    const warm = makeWorkspace(lines.slice(0, 2).join("\n"), { config: cloud })
    const t0 = Date.now()
    expect((await run(["build", "--json"], warm)).code).toBe(0)
    const buildMs = Math.min(6000, Date.now() - t0)
    const warmRequests = new Set(fakes.fal.requests.keys())
    fakes.reset() // counts from here on are the crash workspace's

    const dir = makeWorkspace(lines.slice(0, 2).join("\n"), { config: cloud })
    let sentences = 2
    let completed = 0
    const kills: Array<{ afterMs: number; inflight: Array<string>; receivedAt: number }> = []
    const everInflight = new Set<string>()
    const answeredAtKill = new Set<string>()

    for (let round = 0; kills.length < 22 && round < 60; round++) {
      const child = cliAsync(["build", "--json"], { cwd: dir, env: fakes.env })
      let stderr = ""
      child.stderr!.on("data", (c) => (stderr += String(c)))
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
      const afterMs = Math.round(200 + random() * buildMs)
      const early = await Promise.race([exited, sleep(afterMs).then(() => "running" as const)])
      if (early !== "running") {
        // It finished before its kill: it must have succeeded. Give the next build new paid work.
        expect(early, `seed ${seed}: ${stderr}`).toBe(0)
        completed++
        // Always new paid work, so a fast machine that finishes builds before their kill still reaches 20 kills.
        const next = lines[sentences] ?? `Then, on day ${sentences + 1}, the tide turned and the fox came back.`
        sentences++
        fs.appendFileSync(path.join(dir, "transcript.txt"), `\n${next}`)
        continue
      }
      child.kill("SIGKILL")
      await exited
      const entries = inflightEntries(dir)
      const inflight = entries.map((e) => e.requestId)
      for (const id of inflight) everInflight.add(id)
      for (const e of entries) if (e.answered) answeredAtKill.add(e.requestId)
      kills.push({ afterMs, inflight, receivedAt: fakes.fal.received.length })
    }

    // The last build finishes the film; one more finds everything stored and pays for nothing.
    const last = await run(["build", "--json"], dir)
    expect(last.code, `seed ${seed}: ${last.stderr}${last.stdout}`).toBe(0)
    const before = fakes.counts()
    const again = await run(["build", "--json"], dir)
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout).built).toEqual([])
    const after = fakes.counts()
    expect([after.ttsSubmits, after.videoSubmits, after.images, after.chats]).toEqual([before.ttsSubmits, before.videoSubmits, before.images, before.chats])

    // The store checks out: every record's objects exist and hash right; nothing is left in flight.
    const verify = cli(["verify", "--json"], { cwd: dir })
    const report = JSON.parse(verify.stdout)
    expect(report.problems, `seed ${seed}`).toEqual([])
    expect(verify.code).toBe(0)
    expect(inflightIds(dir)).toEqual([])

    // No completed fal request was paid for twice: per input, at most one request that ran to completion.
    const byInput = new Map<string, Array<{ id: string; completed: boolean }>>()
    for (const r of fakes.fal.requests.values()) {
      if (warmRequests.has(r.id)) continue
      const key = r.model === models.tts ? `tts:${r.input?.text}` : `video:${r.input?.prompt}`
      byInput.set(key, [...(byInput.get(key) ?? []), { id: r.id, completed: r.state === "COMPLETED" && !r.cancelled }])
    }
    const doubled = [...byInput].filter(([, rs]) => rs.filter((r) => r.completed).length > 1)
    expect(doubled, `seed ${seed}`).toEqual([])
    // A second submit for an input happens only when the first was never recorded: killed between fal's
    // answer and the record (the window is the fsync of one small file).
    const recorded = recordedRequestIds(dir)
    const resubmitted = [...byInput.values()].flatMap((rs) => rs.slice(0, -1))
    const resubmittedRecorded = resubmitted.filter((r) => everInflight.has(r.id) || recorded.has(r.id))
    expect(resubmittedRecorded, `seed ${seed}`).toEqual([])

    // Every request in flight at a kill was collected by a later build: polled again (re-attached), or, when
    // its result had already arrived and been kept, used without asking fal anything.
    const polledAfter = (id: string, from: number) =>
      fakes.fal.received.slice(from).some((q) => q.method === "GET" && q.path.includes(`/requests/${id}/status`))
    const firstSeen = new Map<string, number>()
    for (const k of kills) for (const id of k.inflight) if (!firstSeen.has(id)) firstSeen.set(id, k.receivedAt)
    const notReattached = [...firstSeen].filter(([id, from]) => !polledAfter(id, from) && !answeredAtKill.has(id)).map(([id]) => id)
    expect(notReattached, `seed ${seed}`).toEqual([])

    const counts = fakes.counts()
    // The film is the one an uninterrupted build of the same transcript makes.
    const reference = makeWorkspace(fs.readFileSync(path.join(dir, "transcript.txt"), "utf8"), { config: cloud })
    expect((await run(["build", "--json"], reference)).code).toBe(0)
    const got = ffprobe(path.join(dir, "out", "final.mp4"))
    const want = ffprobe(path.join(reference, "out", "final.mp4"))
    expect(got.streams.map((s) => [s.codec_type, s.width, s.height])).toEqual(want.streams.map((s) => [s.codec_type, s.width, s.height]))
    expect(Math.abs(Number(got.format.duration) - Number(want.format.duration))).toBeLessThan(0.05)
    const identical = Buffer.compare(fs.readFileSync(path.join(dir, "out", "final.mp4")), fs.readFileSync(path.join(reference, "out", "final.mp4"))) === 0

    const totals = {
      seed,
      uninterruptedBuildMs: buildMs,
      kills: kills.length,
      buildsThatFinishedBeforeTheirKill: completed,
      sentences,
      killMomentsMs: kills.map((k) => k.afterMs),
      killsWithRequestsInFlight: kills.filter((k) => k.inflight.length > 0).length,
      inFlightAtKills: firstSeen.size,
      reattached: firstSeen.size - notReattached.length,
      collectedFromKeptAnswer: [...firstSeen.keys()].filter((id) => answeredAtKill.has(id)).length,
      falSubmits: { tts: counts.ttsSubmits, video: counts.videoSubmits, distinctInputs: byInput.size, cancels: counts.cancels },
      resubmittedNeverRecorded: resubmitted.length,
      completedTwice: doubled.length,
      images: counts.images,
      chats: counts.chats,
      finalIdenticalToReference: identical
    }
    console.log(`crash test: ${JSON.stringify(totals)}`)
    expect(kills.length).toBeGreaterThanOrEqual(20)
  }, 180_000)
})
