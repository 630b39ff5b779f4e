/**
 * `storyshot worker`: takes builds off the queue (BullMQ) and runs each one as `storyshot build` would
 * (`Build.run`: the same checks, store, workspace lock and money rules), with two things added for sharing:
 *
 * - a lease per paid node (Lease.ts): two workers never pay for one node, also across projects that share
 *   sentences (one fingerprint, two stores, the remote cache between them);
 * - the providers' limits held across workers (Limiter.ts): `pools` of the project (or `--limit`), counted
 *   in Redis, so three workers with `openai: 2` send at most two image requests at once between them.
 *
 * A worker killed with -9 stops renewing its job's lock: BullMQ puts the job back after about
 * `lockMs + stalledMs` and another worker runs it. That build finds what the first one finished (the store,
 * the remote cache) and the requests it left in flight (its in-flight entries), and collects them; the dead
 * worker's leases run out after `leaseMs`, so nothing is paid twice.
 *
 * The job's view and its events go to the server through Redis (Jobs.ts), and are kept beside the project's
 * store as a local job's are (src/server/Journal.ts), so `storyshot runs` and a restarted server see them.
 */
import * as os from "node:os"
import type { Job as BullJob, Worker as BullWorker } from "bullmq"
import type { Redis as IORedis } from "ioredis"
import { Cause, Effect, Exit, Fiber, FiberSet, Option } from "effect"
import * as Build from "../Build.ts"
import type { BuildEvent } from "../engine/Events.ts"
import * as Journal from "../server/Journal.ts"
import { endedJob, outcomeOf, queuedJob, withProgress, type ServerEvent } from "../server/Jobs.ts"
import type { Metrics } from "../server/Metrics.ts"
import * as Progress from "../server/Progress.ts"
import type { Job } from "../server/Schemas.ts"
import * as Secrets from "../server/Secrets.ts"
import * as Workspace from "../Workspace.ts"
import type { QueuedBuild, Relayed, Timings } from "./Jobs.ts"
import * as Lease from "./Lease.ts"
import * as Limiter from "./Limiter.ts"
import { connect, keys, type QueueSettings } from "./Redis.ts"

export interface Options {
  readonly settings: QueueSettings
  readonly concurrency: number
  /** Provider limits across workers, over the projects' own `pools` (e.g. { openai: 2 }). */
  readonly limits: Readonly<Record<string, number>>
  readonly timings: Timings
  readonly metrics?: Metrics | undefined
  /** One line for the person running the worker. */
  readonly log: (line: string) => void
  /** Told once the worker takes jobs. */
  readonly ready?: (() => void) | undefined
}

/** The builds this worker runs, by run id, so the server's cancel reaches the one it names. */
type Running = Map<string, { readonly cancel: () => void }>

/** Runs one queued build; resolves with what it built (BullMQ keeps it as the job's result). */
const runOne = (redis: IORedis, options: Options, data: QueuedBuild, job: BullJob<QueuedBuild>, running: Running) =>
  Effect.gen(function* () {
    const ws = yield* Workspace.load({ cwd: data.dir, env: process.env })
    const secrets = Secrets.secretsOf(ws.env, process.env)
    const progress = Progress.make()
    let current = queuedJob(data.runId, data.projectId, data.order, job.timestamp)
    let began = false
    const relay = (event: ServerEvent) => {
      const message: Relayed = { dir: data.dir, event }
      void redis.publish(keys.events, JSON.stringify(message)).catch(() => {})
    }
    const save = () =>
      Journal.write(ws.storeDir, { job: current, pid: process.pid, hostname: os.hostname(), began, profile: ws.config.profile })
    const onEvent = (raw: BuildEvent) => {
      const event = Secrets.redactJson(raw, secrets)
      progress.onEvent(event)
      options.metrics?.onEvent(event)
      Journal.appendEvent(ws.storeDir, data.runId, event)
      relay({ _tag: "Build", job: data.runId, event })
    }
    const resumed = job.attemptsStarted > 1 || (job.stalledCounter ?? 0) > 0
    if (resumed) onEvent({ _tag: "Warning", message: `resumed by worker ${os.hostname()}:${process.pid} after the worker that had it stopped: what it finished and started is collected, not paid again` })
    const limits = { ...ws.config.pools, ...options.limits }
    const hooks: Build.RunHooks = {
      runId: data.runId,
      command: `storyshot worker (${os.hostname()}:${process.pid})`,
      preview: progress.preview,
      sharedPools: new Limiter.SharedPools((name) =>
        Limiter.machinePools.has(name) ? undefined : Limiter.make(redis, name, limits[name] ?? 4, { leaseMs: options.timings.leaseMs })
      ),
      claim: Lease.claimer(redis, {
        leaseMs: options.timings.leaseMs,
        onWait: (node) => onEvent({ _tag: "Warning", message: `${node.id}: another worker is paying for it (same fingerprint): waiting for its result` }),
        onLost: (node) => onEvent({ _tag: "Warning", message: `${node.id}: this worker's lease ran out before the node ended (the process stalled): another worker may pay for it too` })
      }),
      began: () => {
        began = true
        current = { ...current, state: "running", startedAt: Date.now() }
        save()
        relay({ _tag: "Job", job: withProgress(current, progress) })
      }
    }
    const flags: Build.BuildFlags = {
      target: data.order.targets,
      force: data.order.force,
      keepGoing: data.order.keepGoing,
      dryRun: false,
      json: false,
      quiet: true,
      profile: Option.none(),
      maxCost: Option.fromNullable(data.order.maxCost),
      retake: data.order.retake
    }
    options.log(`${data.projectId}: ${data.order.label} (run ${data.runId})${resumed ? ", resumed" : ""}`)
    // The build runs in its own fiber so that a cancel from the server stops it (as Ctrl-C stops a build) while
    // this job still ends as cancelled, in the journal and at the server, and is not handed to another worker.
    const build = yield* Effect.fork(Build.run(ws, flags, onEvent, hooks) as Effect.Effect<Build.Summary, unknown>)
    let cancelled = false
    running.set(data.runId, {
      cancel: () => {
        cancelled = true
        options.log(`${data.projectId}: run ${data.runId} cancelled by the server`)
        Effect.runFork(Fiber.interrupt(build))
      }
    })
    const exit = yield* Fiber.await(build).pipe(
      Effect.onInterrupt(() => Fiber.interrupt(build)),
      Effect.ensuring(Effect.sync(() => running.delete(data.runId)))
    )
    const stopped: Pick<Job, "state" | "error"> = cancelled
      ? { state: "cancelled", error: "cancelled: what finished is kept; the next build continues from there" }
      : // Stopped with the worker: the job goes back to the queue (its lock runs out) and resumes elsewhere.
        { state: "interrupted", error: "the worker stopped during this build: another worker resumes it" }
    const ended = outcomeOf(exit, stopped)
    current = Secrets.redactJson(endedJob(current, progress, ended, Date.now()), secrets)
    if (began || ended.state !== "interrupted") save()
    options.metrics?.onBuildEnd(ended.state === "done" ? "done" : ended.state === "interrupted" ? "interrupted" : "failed")
    relay({ _tag: "Job", job: current })
    options.log(`${data.projectId}: ${current.state}${current.error ? ` (${current.error})` : ""}, ${current.built.length} built, ${current.cached} cached, $${(current.spent.usd ?? 0).toFixed(4)}`)
    if (!cancelled && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
    return { state: current.state, built: current.built.length, cached: current.cached, usd: current.spent.usd }
  })

/** The worker, until it is interrupted (Ctrl-C): then it stops taking jobs and hands back the ones it runs. */
export const run = (options: Options) =>
  Effect.gen(function* () {
    const redis = yield* connect(options.settings)
    const blocking = yield* connect(options.settings, { blocking: true })
    const { Worker } = yield* Effect.promise(() => import("bullmq"))
    const runs = yield* FiberSet.make<unknown, unknown>()
    const runFork = yield* FiberSet.runtime(runs)<never>()
    const running: Running = new Map()
    // The server's cancels: each names a run; the worker that runs it stops it, the others ignore it.
    const cancels = yield* connect(options.settings, { blocking: true })
    cancels.on("message", (_channel: string, runId: string) => running.get(runId)?.cancel())
    yield* Effect.promise(() => cancels.subscribe(keys.cancel))
    const processor = (job: BullJob<QueuedBuild>) =>
      new Promise<unknown>((resolve, reject) => {
        const fiber = runFork(runOne(redis, options, job.data, job, running))
        fiber.addObserver((exit) => (Exit.isSuccess(exit) ? resolve(exit.value) : reject(new Error(Cause.pretty(exit.cause).split("\n")[0] ?? "stopped"))))
      })
    const worker: BullWorker<QueuedBuild> = new Worker<QueuedBuild>(options.settings.name, processor, {
      connection: blocking,
      concurrency: options.concurrency,
      lockDuration: options.timings.lockMs,
      stalledInterval: options.timings.stalledMs,
      // A long build may stall more than once (a machine that sleeps): it stays in the queue.
      maxStalledCount: 5,
      removeOnComplete: { count: 1000 },
      removeOnFail: { count: 1000 }
    })
    worker.on("error", (e) => options.log(`queue error: ${e.message}`))
    yield* Effect.addFinalizer(() =>
      // Force: running jobs are not waited for; they go back to the queue (their lock runs out) and resume elsewhere.
      Effect.promise(() => worker.close(true).catch(() => undefined))
    )
    yield* Effect.promise(() => worker.waitUntilReady())
    options.log(`storyshot worker: taking builds from ${options.settings.shown} (queue "${options.settings.name}", ${options.concurrency} at a time${Object.keys(options.limits).length ? `, limits ${JSON.stringify(options.limits)}` : ""})  · Ctrl-C stops`)
    options.ready?.()
    return yield* Effect.never
  }).pipe(Effect.scoped)
