/**
 * What the server keeps of its jobs beside each project's store, so a server killed mid-build (`kill -9`, a
 * power cut) can say on its return what happened:
 *
 *   .storyshot/serve/jobs/<run-id>.json          the job (state, order, times, which process ran it)
 *   .storyshot/serve/jobs/<run-id>.events.jsonl  its build events as they came, `{ "t": ms, "e": event }`
 *
 * A job file still "queued" or "running" whose process is gone belongs to a server that died: it is marked
 * "interrupted", and when its build had begun (held the workspace lock) and left no `run.json`, one is written
 * from its events (what finished, what it paid), so `storyshot runs` and the page list the run as interrupted.
 * The build itself needs nothing from here to resume: the store has every finished node, and the in-flight
 * entries let the next build re-attach to paid requests instead of paying again.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Accounting from "../cli/Accounting.ts"
import * as RunLog from "../cli/RunLog.ts"
import * as Atomic from "../engine/Atomic.ts"
import * as Cost from "../engine/Cost.ts"
import type { BuildEvent } from "../engine/Events.ts"
import * as Lock from "../engine/Lock.ts"
import type { Job } from "./Schemas.ts"

export interface JobFile {
  readonly job: Job
  readonly pid: number
  readonly hostname: string
  /** Whether the build held the workspace lock (it then counts as a run). */
  readonly began: boolean
  readonly profile: string
}

export const jobsDir = (storeDir: string) => path.join(storeDir, "serve", "jobs")
const jobPath = (storeDir: string, id: string) => path.join(jobsDir(storeDir), `${id}.json`)
const eventsPath = (storeDir: string, id: string) => path.join(jobsDir(storeDir), `${id}.events.jsonl`)

/** Job ids are run ids: nothing else is read or written here. */
const runIdForm = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/

export const write = (storeDir: string, file: JobFile) => {
  try {
    Atomic.writeAtomicSync(jobPath(storeDir, file.job.id), JSON.stringify(file), Atomic.tempName(storeDir))
  } catch {
    // A job the disk could not take is still run; it is only not remembered after a crash.
  }
}

export const appendEvent = (storeDir: string, id: string, event: BuildEvent) => {
  try {
    fs.mkdirSync(jobsDir(storeDir), { recursive: true })
    fs.appendFileSync(eventsPath(storeDir, id), JSON.stringify({ t: Date.now(), e: event }) + "\n")
  } catch {}
}

const readEvents = (storeDir: string, id: string): Array<{ t: number; e: BuildEvent }> => {
  let text = ""
  try {
    text = fs.readFileSync(eventsPath(storeDir, id), "utf8")
  } catch {
    return []
  }
  const out: Array<{ t: number; e: BuildEvent }> = []
  // The last line may be cut by the kill: every whole line counts.
  for (const line of text.split("\n")) {
    try {
      if (line) out.push(JSON.parse(line) as { t: number; e: BuildEvent })
    } catch {}
  }
  return out
}

/** The project's job files, newest first, with those of dead servers marked interrupted (and their runs recorded). */
export const load = (storeDir: string): ReadonlyArray<JobFile> => {
  let names: Array<string> = []
  try {
    names = fs.readdirSync(jobsDir(storeDir))
  } catch {
    return []
  }
  const files: Array<JobFile> = []
  for (const name of names) {
    const id = name.replace(/\.json$/, "")
    if (!name.endsWith(".json") || !runIdForm.test(id)) continue
    try {
      const file = JSON.parse(fs.readFileSync(path.join(jobsDir(storeDir), name), "utf8")) as JobFile
      files.push(recover(storeDir, file))
    } catch {}
  }
  return files.sort((a, b) => b.job.createdAt - a.job.createdAt)
}

const unfinished = (job: Job) => job.state === "queued" || job.state === "running"

const recover = (storeDir: string, file: JobFile): JobFile => {
  if (!unfinished(file.job)) return file
  const self = file.pid === process.pid && file.hostname === os.hostname()
  const alive = !self && Lock.isAlive({ pid: file.pid, hostname: file.hostname, startedAt: 0, command: "", token: "" })
  if (self || alive) return file
  const events = readEvents(storeDir, file.job.id)
  const endedAt = events.at(-1)?.t ?? file.job.startedAt ?? file.job.createdAt
  let clock = file.job.createdAt
  const accounts = Accounting.collector(() => clock)
  for (const { t, e } of events) {
    clock = t
    accounts.onEvent(e)
  }
  const nodes = accounts.nodes()
  const of = (status: Accounting.NodeStatus) => nodes.filter((n) => n.status === status)
  const stages = accounts.stages()
  const cost = Cost.sum(stages.map((s) => s.cost))
  const error = "the server stopped during this build (killed or crashed): what finished is kept, and the next build continues from there without paying for it again"
  const job: Job = {
    ...file.job,
    state: "interrupted",
    endedAt,
    running: [],
    spent: cost,
    built: of("built").map((n) => n.id),
    cached: of("cached").length,
    failed: of("failed").map((n) => ({ id: n.id, error: n.error ?? "failed" })),
    wallMs: endedAt - (file.job.startedAt ?? file.job.createdAt),
    error
  }
  const runJson = path.join(RunLog.runDir(storeDir, job.id), "run.json")
  if (file.began && !fs.existsSync(runJson)) {
    const startedAt = file.job.startedAt ?? file.job.createdAt
    const report: Accounting.RunReport = {
      version: 1,
      runId: job.id,
      status: "interrupted",
      error,
      startedAt,
      endedAt,
      wallMs: endedAt - startedAt,
      targets: job.targets.length > 0 ? job.targets : ["final", "subtitles", "storyboard"],
      profile: file.profile,
      built: job.built,
      cached: of("cached").map((n) => n.id),
      failed: job.failed,
      skipped: of("skipped").map((n) => ({ id: n.id, because: n.error ?? "" })),
      blockedByBudget: of("over-budget").map((n) => n.id),
      cost,
      saved: Cost.sum(stages.map((s) => s.saved)),
      savedMs: stages.reduce((a, s) => a + s.savedMs, 0),
      stages,
      nodes,
      requests: accounts.requests(),
      repaid: accounts.requests().flatMap((r) => (r.repaid === undefined ? [] : [{ id: r.node, usd: r.cost.usd ?? null, why: r.repaid }]))
    }
    try {
      Atomic.writeAtomicSync(runJson, JSON.stringify(report, null, 2), Atomic.tempName(storeDir))
    } catch {
      // Not recorded in `storyshot runs`; the job file still says what happened.
    }
  }
  const next: JobFile = { ...file, job }
  write(storeDir, next)
  return next
}
