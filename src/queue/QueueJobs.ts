/**
 * The server's job runner when builds go on a queue (`storyshot serve --queue redis://…`): the same
 * `JobRunner` the handlers use (src/server/Jobs.ts), but a submitted build is checked here (the checks
 * `storyshot build` makes before it pays anything: a refused order is still a 422 with the build's own
 * message) and then added to BullMQ for `storyshot worker` processes to run.
 *
 * The workers tell the server what happens through one Redis channel (Jobs.ts): each job's view as it
 * changes and every build event, which go out on the project's event stream as a local build's do. The job
 * files a worker writes beside the project's store (src/server/Journal.ts) are what `storyshot runs` lists.
 *
 * Cancelling a build a worker already runs goes through a second channel (`storyshot:cancel`): the worker
 * running it stops it as Ctrl-C stops a build (what finished is kept, requests being made are kept for the
 * next build) and says so; the answer waits for that, a while. After a restart of the server it knows only
 * the jobs it hears about from then on (the queue itself keeps every job).
 */
import * as os from "node:os"
import type { Queue as BullQueue } from "bullmq"
import { Effect, Layer, PubSub, Stream } from "effect"
import * as RunLog from "../cli/RunLog.ts"
import * as Session from "../cli/Session.ts"
import { Conflict, NotFound, Unprocessable } from "../server/Errors.ts"
import { finished, JobRunner, queuedJob, replayThenLive, withProgress, type BuildOrder, type Sequenced, type ServerEvent } from "../server/Jobs.ts"
import * as Journal from "../server/Journal.ts"
import * as Progress from "../server/Progress.ts"
import { Projects, type Project } from "../server/Projects.ts"
import type { Job } from "../server/Schemas.ts"
import * as Secrets from "../server/Secrets.ts"
import * as ShotEdits from "../ShotEdits.ts"
import { jobIdOf, type QueuedBuild, type Relayed } from "./Jobs.ts"
import { connect, keys, type QueueSettings } from "./Redis.ts"

interface JobRec {
  job: Job
  readonly progress: Progress.Progress
  readonly queueId: string
}

interface ProjectState {
  seq: number
  readonly log: Array<Sequenced>
  readonly pubsub: PubSub.PubSub<Sequenced>
  readonly jobs: Map<string, JobRec>
  version: number
}

const logSize = 2000
/** How long a cancel answer waits for the worker to stop the build (it may wait for an image being made). */
const cancelWaitMs = 30_000

export interface Hooks {
  /** Every build event a worker relays (the server's /metrics counts them). */
  readonly onEvent?: ((event: ServerEvent) => void) | undefined
}

/** The queue this runner fills, for /metrics (its depth). */
export interface QueueHandle {
  readonly counts: () => Promise<Readonly<Record<string, number>>>
}

export const layer = (settings: QueueSettings, hooks: Hooks = {}, handle?: (q: QueueHandle) => void) =>
  Layer.scoped(
    JobRunner,
    Effect.gen(function* () {
      const projects = yield* Projects
      const redis = yield* connect(settings)
      const subscriber = yield* connect(settings, { blocking: true })
      const { Queue } = yield* Effect.promise(() => import("bullmq"))
      const queue: BullQueue<QueuedBuild> = new Queue<QueuedBuild>(settings.name, { connection: redis })
      yield* Effect.addFinalizer(() => Effect.promise(() => queue.close().catch(() => undefined)))
      handle?.({ counts: () => queue.getJobCounts("waiting", "active", "delayed") })
      const boot = Math.random().toString(16).slice(2, 10)
      const states = new Map<string, ProjectState>()
      const serverSecrets = Secrets.secretsOf(process.env)

      const stateOf = (dir: string): ProjectState => {
        let s = states.get(dir)
        if (!s) {
          s = { seq: 0, log: [], pubsub: Effect.runSync(PubSub.sliding<Sequenced>(1024)), jobs: new Map(), version: 0 }
          states.set(dir, s)
        }
        return s
      }
      const publish = (state: ProjectState, event: ServerEvent) => {
        state.version++
        const item: Sequenced = { id: `${boot}.${++state.seq}`, event }
        state.log.push(item)
        if (state.log.length > logSize) state.log.splice(0, state.log.length - logSize)
        state.pubsub.unsafeOffer(item)
      }
      const view = (rec: JobRec): Job => (finished(rec.job) ? rec.job : withProgress(rec.job, rec.progress))

      // What the workers say. A job not submitted by this server (another server, or before a restart) is
      // learnt from its first message.
      yield* Effect.promise(() => subscriber.subscribe(keys.events))
      subscriber.on("message", (_channel: string, text: string) => {
        let m: Relayed
        try {
          m = JSON.parse(text) as Relayed
        } catch {
          return
        }
        const state = stateOf(m.dir)
        const e = m.event
        if (e._tag === "Job") {
          const rec = state.jobs.get(e.job.id)
          if (rec) rec.job = e.job
          else state.jobs.set(e.job.id, { job: e.job, progress: Progress.make(), queueId: "" })
        } else if (e._tag === "Build") state.jobs.get(e.job)?.progress.onEvent(e.event)
        hooks.onEvent?.(e)
        publish(state, e)
      })

      /**
       * Adds the build under its order's id, and returns the job the queue holds under that id. BullMQ ignores
       * an add whose id is taken, and still answers with a job made of the data given, so what it holds is read
       * back: a job of the same order waiting or running (added by another server) is the one to follow; one
       * that has just ended and is not yet removed (BullMQ removes it right after it completes) is removed, and
       * the build added again, so a new build is never left "queued" with no worker to take it.
       */
      const addBuild = async (queueId: string, data: QueuedBuild) => {
        for (let attempt = 0; ; attempt++) {
          const added = await queue.add("build", data, { jobId: queueId, removeOnComplete: true, removeOnFail: true })
          const held = await queue.getJob(queueId)
          if (held?.data.runId === data.runId) return added
          // Gone between the two calls: the job that held the id was removed as it ended; add again.
          if (held === undefined) {
            if (attempt === 3) return added
            continue
          }
          const state = await held.getState()
          if ((state !== "completed" && state !== "failed" && state !== "unknown") || attempt === 3) return held
          await queue.remove(queueId).catch(() => 0)
        }
      }

      const check = (project: Project) =>
        Effect.gen(function* () {
          const ws = yield* projects.workspace(project)
          const sentences = yield* Session.readSentences(ws)
          yield* ShotEdits.read(ws.dir)
          yield* Session.checkEnv(ws)
          yield* Session.checkProviders(ws)
          return { ws, sentences }
        })

      const submit = (project: Project, order: BuildOrder): Effect.Effect<Job, Unprocessable | Conflict> =>
        Effect.gen(function* () {
          const { ws, sentences } = yield* check(project).pipe(
            Effect.catchAll((e) => (e instanceof Unprocessable ? Effect.fail(e) : Effect.fail(new Unprocessable({ message: (e as { message?: string }).message ?? String(e) }))))
          )
          yield* Session.checkTargets(ws, [...order.targets, ...order.retake], sentences).pipe(Effect.mapError((e) => new Unprocessable({ message: e.message })))
          yield* Session.checkKeys(ws).pipe(Effect.mapError((e) => new Unprocessable({ message: (e as { message: string }).message })))
          const state = stateOf(project.dir)
          const queueId = jobIdOf(project.id, order)
          // The same order, still waiting or running: that job, not a second one.
          for (const rec of state.jobs.values()) if (rec.queueId === queueId && !finished(rec.job)) return view(rec)
          const runId = RunLog.newRunId()
          const data: QueuedBuild = { projectId: project.id, dir: project.dir, runId, order }
          const added = yield* Effect.tryPromise({
            try: () => addBuild(queueId, data),
            catch: (e) => new Conflict({ message: `the queue at ${settings.shown} did not take the build (${(e as Error).message ?? e})` })
          })
          // BullMQ ignores an add whose id is taken: that job (added by another server) is the one.
          const same = added.data.runId === runId
          const job = queuedJob(added.data.runId, project.id, order, added.timestamp)
          const rec: JobRec = state.jobs.get(job.id) ?? { job, progress: Progress.make(), queueId }
          state.jobs.set(job.id, rec)
          if (same) {
            Journal.write(ws.storeDir, { job, pid: process.pid, hostname: os.hostname(), began: false, profile: ws.config.profile })
            publish(state, { _tag: "Job", job })
          }
          return Secrets.redactJson(view(rec), [...Secrets.secretsOf(ws.env), ...serverSecrets])
          // The checks are typed with the rules' `any` requirements (as Build.run is); they need none.
        }) as Effect.Effect<Job, Unprocessable | Conflict>

      const find = (project: Project, id: string) => {
        const rec = stateOf(project.dir).jobs.get(id)
        return rec ? Effect.succeed(rec) : Effect.fail(new NotFound({ message: `no build "${id}" in project ${project.id}: GET /api/projects/${project.id}/builds lists them` }))
      }

      const cancel = (project: Project, id: string) =>
        Effect.gen(function* () {
          const rec = yield* find(project, id)
          if (finished(rec.job)) return yield* new Conflict({ message: `build ${id} is not running (it is ${rec.job.state}): nothing to cancel` })
          const removed = rec.job.state === "running" ? 0 : yield* Effect.promise(() => queue.remove(rec.queueId).catch(() => 0))
          if (removed === 1) {
            rec.job = { ...rec.job, state: "cancelled", endedAt: Date.now(), error: "cancelled before a worker took it: nothing was built" }
            publish(stateOf(project.dir), { _tag: "Job", job: rec.job })
            return rec.job
          }
          // A worker has it: ask that worker, and wait (a while) for it to say the build stopped.
          yield* Effect.promise(() => redis.publish(keys.cancel, id).catch(() => 0))
          yield* Effect.sleep("100 millis").pipe(Effect.repeat({ until: () => finished(rec.job), times: cancelWaitMs / 100 }))
          return view(rec)
        })

      const list = (project: Project) => Effect.sync(() => [...stateOf(project.dir).jobs.values()].map(view).sort((a, b) => b.createdAt - a.createdAt))

      const live = (project: Project) =>
        Effect.sync(() => {
          const nodes = new Map<string, { readonly state: Progress.NodeState; readonly error?: string | undefined }>()
          for (const rec of stateOf(project.dir).jobs.values()) if (!finished(rec.job)) for (const [id, s] of rec.progress.nodes) nodes.set(id, s)
          return nodes as ReadonlyMap<string, { readonly state: Progress.NodeState; readonly error?: string | undefined }>
        })

      const events = (project: Project, lastEventId: string | undefined): Stream.Stream<Sequenced> =>
        Stream.unwrapScoped(
          Effect.gen(function* () {
            const state = stateOf(project.dir)
            return yield* replayThenLive(boot, state, () => [...state.jobs.values()].map(view), lastEventId)
          })
        )

      const notify = (project: Project, what: string) => Effect.sync(() => publish(stateOf(project.dir), { _tag: "Changed", what }))
      const version = (project: Project) => states.get(project.dir)?.version ?? 0
      const get = (project: Project, id: string) => Effect.map(find(project, id), view)

      return JobRunner.of({ submit, cancel, get, list, live, events, notify, version })
    }).pipe(Effect.orDie)
  )
