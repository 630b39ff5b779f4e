/**
 * The job runner that runs builds in this process: each job is one `Build.run` (what `storyshot build` runs)
 * in a fiber of the server's scope, so stopping the server stops its builds as Ctrl-C does (finished nodes
 * kept, the run recorded as interrupted). Builds share one set of pools (`sharedPools`): two projects
 * building at once stay within one fal, OpenAI and OpenRouter limit. Two jobs of one project wait for each
 * other at the workspace lock (which also keeps out a `storyshot build` run from a terminal meanwhile).
 *
 * Events go out through one sliding PubSub per project: a slow client loses old events, it never slows the
 * build (and the page re-reads the story when it falls behind). A short log per project lets a client that
 * reconnects (`Last-Event-ID`) catch up.
 */
import * as os from "node:os"
import { randomBytes } from "node:crypto"
import { Cause, Deferred, Effect, Exit, Fiber, FiberId, FiberSet, Layer, Option, PubSub, Stream } from "effect"
import * as Build from "../Build.ts"
import * as RunLog from "../cli/RunLog.ts"
import type { BuildEvent } from "../engine/Events.ts"
import type { Pool } from "../engine/Pool.ts"
import { Conflict, NotFound, Unprocessable } from "./Errors.ts"
import { endedJob, finished, JobRunner, outcomeOf, queuedJob, replayThenLive, withProgress, type BuildOrder, type Sequenced, type ServerEvent } from "./Jobs.ts"
import * as Journal from "./Journal.ts"
import * as Progress from "./Progress.ts"
import { Projects, type Project } from "./Projects.ts"
import type { Job } from "./Schemas.ts"
import * as Secrets from "./Secrets.ts"

interface JobRec {
  job: Job
  readonly storeDir: string
  readonly profile: string
  readonly progress: Progress.Progress
  began: boolean
  cancelled: boolean
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
}

interface ProjectState {
  seq: number
  readonly log: Array<Sequenced>
  readonly pubsub: PubSub.PubSub<Sequenced>
  readonly jobs: Map<string, JobRec>
  version: number
}

/** How often a running job's totals are sent at most. */
const snapshotMs = 500

/** Events kept per project for clients that reconnect. */
const logSize = 2000

export const layer = Layer.scoped(
  JobRunner,
  Effect.gen(function* () {
    const projects = yield* Projects
    const fibers = yield* FiberSet.make()
    const sharedPools = new Map<string, Pool>()
    const boot = randomBytes(4).toString("hex")
    const states = new Map<string, ProjectState>()
    const serverSecrets = Secrets.secretsOf(process.env)

    /** The project's state, made on first use from its job files (a dead server's jobs come back interrupted). */
    const stateOf = (project: Project): Effect.Effect<ProjectState> =>
      Effect.gen(function* () {
        const known = states.get(project.dir)
        if (known) return known
        const pubsub = yield* PubSub.sliding<Sequenced>(1024)
        const state: ProjectState = { seq: 0, log: [], pubsub, jobs: new Map(), version: 0 }
        states.set(project.dir, state)
        const ws = yield* projects.workspace(project).pipe(Effect.option)
        if (Option.isSome(ws))
          for (const file of Journal.load(ws.value.storeDir))
            state.jobs.set(file.job.id, {
              job: file.job,
              storeDir: ws.value.storeDir,
              profile: file.profile,
              progress: Progress.make(),
              began: file.began,
              cancelled: false,
              fiber: undefined
            })
        return state
      })

    const publish = (state: ProjectState, event: ServerEvent) => {
      state.version++
      const item: Sequenced = { id: `${boot}.${++state.seq}`, event }
      state.log.push(item)
      if (state.log.length > logSize) state.log.splice(0, state.log.length - logSize)
      state.pubsub.unsafeOffer(item)
    }

    const view = (rec: JobRec): Job => (finished(rec.job) ? rec.job : withProgress(rec.job, rec.progress))

    const save = (rec: JobRec) =>
      Journal.write(rec.storeDir, { job: view(rec), pid: process.pid, hostname: os.hostname(), began: rec.began, profile: rec.profile })

    const submit = (project: Project, order: BuildOrder): Effect.Effect<Job, Unprocessable | Conflict> =>
      Effect.gen(function* () {
        const ws = yield* projects.workspace(project)
        const state = yield* stateOf(project)
        const secrets = [...Secrets.secretsOf(ws.env), ...serverSecrets]
        const id = RunLog.newRunId()
        const now = Date.now()
        const rec: JobRec = {
          job: queuedJob(id, project.id, order, now),
          storeDir: ws.storeDir,
          profile: ws.config.profile,
          progress: Progress.make(),
          began: false,
          cancelled: false,
          fiber: undefined
        }
        const checked = Deferred.unsafeMake<void>(FiberId.none)
        let isChecked = false
        let refused: string | undefined
        // The job's totals (progress, spent, left) go out at most twice a second, and once more after a burst.
        let snapshotAt = 0
        let trailing: ReturnType<typeof setTimeout> | undefined
        const snapshot = () => {
          snapshotAt = Date.now()
          if (!finished(rec.job)) publish(state, { _tag: "Job", job: view(rec) })
        }
        const snapshotSoon = () => {
          const since = Date.now() - snapshotAt
          if (since >= snapshotMs) snapshot()
          else if (trailing === undefined)
            trailing = setTimeout(() => {
              trailing = undefined
              snapshot()
            }, snapshotMs - since)
        }
        const onEvent = (raw: BuildEvent) => {
          const event = Secrets.redactJson(raw, secrets)
          rec.progress.onEvent(event)
          if (isChecked) Journal.appendEvent(ws.storeDir, id, event)
          publish(state, { _tag: "Build", job: id, event })
          snapshotSoon()
        }
        const hooks: Build.RunHooks = {
          runId: id,
          startedAt: now,
          command: "storyshot serve",
          sharedPools,
          preview: rec.progress.preview,
          checked: () => {
            isChecked = true
            state.jobs.set(id, rec)
            save(rec)
            publish(state, { _tag: "Job", job: view(rec) })
            Deferred.unsafeDone(checked, Exit.void)
          },
          began: () => {
            rec.began = true
            rec.job = { ...rec.job, state: "running", startedAt: Date.now() }
            save(rec)
            publish(state, { _tag: "Job", job: view(rec) })
          }
        }
        const flags: Build.BuildFlags = {
          target: order.targets,
          force: order.force,
          keepGoing: order.keepGoing,
          dryRun: false,
          json: false,
          quiet: true,
          profile: Option.none(),
          maxCost: Option.fromNullable(order.maxCost),
          retake: order.retake
        }
        const end = (exit: Exit.Exit<Build.Summary, unknown>) =>
          Effect.sync(() => {
            if (!isChecked) {
              // Refused before it started (bad target, missing key, broken transcript): the caller hears why.
              const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
              refused = Option.match(failure, {
                onNone: () => "the build could not start",
                onSome: (e) => (e as { message?: string }).message ?? String(e)
              })
              return
            }
            const stopped: Pick<Job, "state" | "error"> = rec.cancelled
              ? { state: "cancelled", error: "cancelled: what finished is kept; the next build continues from there" }
              : { state: "interrupted", error: "the server stopped during this build: what finished is kept; the next build continues from there" }
            rec.job = Secrets.redactJson(endedJob(rec.job, rec.progress, outcomeOf(exit, stopped), Date.now()), secrets)
            save(rec)
            publish(state, { _tag: "Job", job: rec.job })
          })
        // The rules are typed `Rule<unknown, any>`, so a build's requirements read `any`; Build.run provides them all.
        const build = Build.run(ws, flags, onEvent, hooks) as Effect.Effect<Build.Summary, unknown>
        const fiber = yield* FiberSet.run(fibers, build.pipe(Effect.onExit(end)))
        rec.fiber = fiber
        yield* Effect.raceFirst(Deferred.await(checked), Fiber.await(fiber))
        if (refused !== undefined) return yield* new Unprocessable({ message: Secrets.redact(refused, secrets) })
        return view(rec)
      })

    const find = (project: Project, id: string) =>
      Effect.flatMap(stateOf(project), (state) => {
        const rec = state.jobs.get(id)
        return rec ? Effect.succeed({ rec, state }) : Effect.fail(new NotFound({ message: `no build "${id}" in project ${project.id}: GET /api/projects/${project.id}/builds lists them` }))
      })

    const cancel = (project: Project, id: string) =>
      Effect.gen(function* () {
        const { rec } = yield* find(project, id)
        if (finished(rec.job) || !rec.fiber)
          return yield* new Conflict({ message: `build ${id} is not running (it is ${rec.job.state}): nothing to cancel` })
        rec.cancelled = true
        yield* Fiber.interrupt(rec.fiber)
        return view(rec)
      })

    const list = (project: Project) =>
      Effect.map(stateOf(project), (state) => [...state.jobs.values()].map(view).sort((a, b) => b.createdAt - a.createdAt))

    const live = (project: Project) =>
      Effect.map(stateOf(project), (state) => {
        const nodes = new Map<string, { readonly state: Progress.NodeState; readonly error?: string | undefined }>()
        for (const rec of state.jobs.values()) if (!finished(rec.job)) for (const [id, s] of rec.progress.nodes) nodes.set(id, s)
        return nodes as ReadonlyMap<string, { readonly state: Progress.NodeState; readonly error?: string | undefined }>
      })

    const events = (project: Project, lastEventId: string | undefined): Stream.Stream<Sequenced> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const state = yield* stateOf(project)
          return yield* replayThenLive(boot, state, () => [...state.jobs.values()].map(view), lastEventId)
        })
      )

    const notify = (project: Project, what: string) => Effect.map(stateOf(project), (state) => publish(state, { _tag: "Changed", what }))

    const version = (project: Project) => states.get(project.dir)?.version ?? 0

    const get = (project: Project, id: string) => Effect.map(find(project, id), ({ rec }) => view(rec))

    // Recovery does not wait for a first request: a dead server's runs are recorded as interrupted now.
    yield* Effect.flatMap(projects.list, (all) => Effect.forEach(all, stateOf, { discard: true }))

    return JobRunner.of({ submit, cancel, get, list, live, events, notify, version })
  })
)
