/**
 * A build on the queue, as plain data (BullMQ stores it as JSON): which project (its id and folder), what to
 * build (the server's `BuildOrder`), and the run id the server named it by. Workers see the projects' folders
 * at the same path as the server (one machine, or a shared disk); what is paid travels between machines
 * through the remote cache (records, objects, in-flight entries), and the leases keep two workers off one node.
 *
 * The job's id in BullMQ is the project and a hash of the order: the same order sent twice while the first
 * is still waiting or running is one job (BullMQ ignores an add whose id exists).
 *
 * What a worker tells the server goes through one Redis channel, `storyshot:events`: the job's view as it
 * changes and every build event, for the project's event stream (the same `ServerEvent`s as a local build's).
 */
import { hashJson } from "../engine/Hash.ts"
import type { BuildOrder, ServerEvent } from "../server/Jobs.ts"

export interface QueuedBuild {
  readonly projectId: string
  readonly dir: string
  readonly runId: string
  readonly order: BuildOrder
}

/** BullMQ refuses ':' in custom ids (its key separator). */
export const jobIdOf = (projectId: string, order: BuildOrder) => `${projectId.replace(/[^A-Za-z0-9_.-]/g, "_")}.${hashJson(order as never).slice(0, 16)}`

/** One message on the events channel. */
export interface Relayed {
  readonly dir: string
  readonly event: ServerEvent
}

/** Queue timings: how long a worker's hold on a job lasts without renewal, and how often stalls are looked for. */
export interface Timings {
  /** BullMQ's job lock (ms): a killed worker's job comes back after about this plus `stalledMs`. */
  readonly lockMs: number
  readonly stalledMs: number
  /** A paid node's lease and a provider permit (ms): a killed worker's run out after this. */
  readonly leaseMs: number
}

export const defaultTimings: Timings = { lockMs: 30_000, stalledMs: 30_000, leaseMs: 30_000 }

/** `STORYSHOT_QUEUE_LOCK_MS`, `…_STALLED_MS`, `…_LEASE_MS` (tests make a killed worker's job come back sooner). */
export const timingsFrom = (env: { readonly [k: string]: string | undefined }): Timings => {
  const ms = (v: string | undefined, d: number) => {
    const n = Number(v)
    return v !== undefined && Number.isFinite(n) && n >= 100 ? Math.floor(n) : d
  }
  return {
    lockMs: ms(env.STORYSHOT_QUEUE_LOCK_MS, defaultTimings.lockMs),
    stalledMs: ms(env.STORYSHOT_QUEUE_STALLED_MS, defaultTimings.stalledMs),
    leaseMs: ms(env.STORYSHOT_QUEUE_LEASE_MS, defaultTimings.leaseMs)
  }
}
