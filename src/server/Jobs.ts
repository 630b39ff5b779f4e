/**
 * The job runner: what the HTTP handlers ask of whatever runs builds. `LocalJobs.layer` runs them in this
 * process (each one `Build.run`, the same call `storyshot build` makes); a queue (`serve --queue redis://…`
 * with `storyshot worker`, issue 19) can stand in behind the same service, since nothing here hands over a
 * function or a live object: a project is its id and folder, an order is plain data, a job is a `Job` view,
 * and events are plain JSON with an id.
 *
 * Two builds of one project queue behind the workspace lock (the second is "queued" until the first lets go),
 * builds of different projects run at once and share the provider pools, and a job's id is its run's id.
 */
import { Cause, Context, Effect, Exit, Option, PubSub, type Scope, Stream } from "effect"
import type { Summary } from "../Build.ts"
import { capMessage } from "../cli/build.ts"
import * as Cost from "../engine/Cost.ts"
import type { BuildEvent } from "../engine/Events.ts"
import type { Conflict, NotFound, Unprocessable } from "./Errors.ts"
import type { NodeState, Progress } from "./Progress.ts"
import type { Project } from "./Projects.ts"
import type { Job } from "./Schemas.ts"

/** What to build: `storyshot build` flags as data. */
export interface BuildOrder {
  /** Target ids (empty: the film, its subtitles and storyboard). */
  readonly targets: ReadonlyArray<string>
  /** Ids to re-take even when fresh (a re-roll), beyond the targets. */
  readonly retake: ReadonlyArray<string>
  readonly force: boolean
  readonly keepGoing: boolean
  readonly maxCost: number | undefined
  /** What the person asked for, shown in the run list ("build", "re-roll shot 3"). */
  readonly label: string
}

/** Whether a job has ended (done, failed, cancelled or interrupted). */
export const finished = (job: Job): boolean => job.state !== "queued" && job.state !== "running"

/** A build just queued, by whichever runner takes it: nothing run, nothing spent yet. */
export const queuedJob = (id: string, project: string, order: BuildOrder, createdAt: number): Job => ({
  id,
  project,
  state: "queued",
  label: order.label,
  targets: [...order.targets],
  retake: [...order.retake],
  createdAt,
  startedAt: null,
  endedAt: null,
  progress: { done: 0, total: 0, stages: [] },
  running: [],
  spent: Cost.zero,
  left: null,
  built: [],
  cached: 0,
  failed: [],
  wallMs: null,
  error: null
})

/** A job as its build's progress shows it now (what is running, spent, left, built). */
export const withProgress = (job: Job, progress: Progress): Job => {
  const p = progress.snapshot()
  return { ...job, progress: { done: p.done, total: p.total, stages: p.stages }, running: p.running, spent: p.spent, left: p.left, built: p.built, cached: p.cached, failed: p.failed }
}

/** What a job's end says: done or failed (and why) from the build's summary, else `stopped` or the failure. */
export type Outcome = Pick<Job, "state" | "error"> & Partial<Job>

/** A build's exit as its job shows it; `stopped` is what an interruption means for this runner. */
export const outcomeOf = (exit: Exit.Exit<Summary, unknown>, stopped: Pick<Job, "state" | "error">): Outcome => {
  if (Exit.isSuccess(exit)) {
    const s = exit.value
    return {
      state: s.failed.length > 0 || s.storeFailure || s.blockedByBudget.length > 0 ? "failed" : "done",
      error:
        s.storeFailure?.message ??
        (s.failed.length > 0 ? `${s.failed.length} target(s) failed: ${s.failed[0]!.id}: ${s.failed[0]!.error}` : s.blockedByBudget.length > 0 ? capMessage(s) : null),
      spent: s.cost,
      built: s.built,
      cached: s.cached.length,
      failed: s.failed.map(({ id, error }) => ({ id, error })),
      wallMs: s.wallMs
    }
  }
  if (Cause.isInterruptedOnly(exit.cause)) return stopped
  return {
    state: "failed",
    error: Option.match(Cause.failureOption(exit.cause), {
      onNone: () => Cause.pretty(exit.cause).split("\n")[0] ?? "the build stopped",
      onSome: (e) => (e as { message?: string }).message ?? String(e)
    })
  }
}

/** The job at its end: its progress's last totals, then the outcome (nothing is left to pay once it is done). */
export const endedJob = (job: Job, progress: Progress, outcome: Outcome, endedAt: number): Job => {
  const p = progress.snapshot()
  return {
    ...job,
    progress: { done: p.done, total: p.total, stages: p.stages },
    running: [],
    spent: p.spent,
    left: outcome.state === "done" ? Cost.zero : p.left,
    built: p.built,
    cached: p.cached,
    failed: p.failed,
    endedAt,
    wallMs: endedAt - (job.startedAt ?? job.createdAt),
    ...outcome
  }
}

/** What the events stream carries, in order, each with an id (`Last-Event-ID` resumes after it). */
export type ServerEvent =
  /** Sent first on every connection: the project's jobs now (a page that reconnects starts from here). */
  | { readonly _tag: "Hello"; readonly jobs: ReadonlyArray<Job> }
  /** A job was queued, started, or ended. */
  | { readonly _tag: "Job"; readonly job: Job }
  /** One of the build's own events (what the terminal reporter draws), for the job `job`. */
  | { readonly _tag: "Build"; readonly job: string; readonly event: BuildEvent }
  /** Something the story shows changed outside a build (a pinned prompt, an approval). */
  | { readonly _tag: "Changed"; readonly what: string }

export interface Sequenced {
  readonly id: string
  readonly event: ServerEvent
}

export class JobRunner extends Context.Tag("storyshot/server/JobRunner")<
  JobRunner,
  {
    /** Checks the order (a refused one is 422 with the build's own message) and starts it, or queues it. */
    readonly submit: (project: Project, order: BuildOrder) => Effect.Effect<Job, Unprocessable | Conflict>
    /** Stops a queued or running job: what finished stays in the store (Ctrl-C's rules). */
    readonly cancel: (project: Project, id: string) => Effect.Effect<Job, NotFound | Conflict>
    readonly get: (project: Project, id: string) => Effect.Effect<Job, NotFound>
    /** The project's jobs known to this runner (running, queued, and past ones it ran), newest first. */
    readonly list: (project: Project) => Effect.Effect<ReadonlyArray<Job>>
    /** The states of the nodes the project's unfinished jobs are building. */
    readonly live: (project: Project) => Effect.Effect<ReadonlyMap<string, { readonly state: NodeState; readonly error?: string | undefined }>>
    /** The project's events from now on (after `lastEventId`, when this runner still has them). */
    readonly events: (project: Project, lastEventId: string | undefined) => Stream.Stream<Sequenced>
    /** Tells the project's listeners that something changed outside a build. */
    readonly notify: (project: Project, what: string) => Effect.Effect<void>
    /** A number that grows whenever something the story shows may have changed (for caching views). */
    readonly version: (project: Project) => number
  }
>() {}

/** An event's sequence number within its server's boot (`<boot>.<n>`). */
const seqOf = (id: string) => Number(id.split(".")[1] ?? NaN)

/**
 * A project's event stream as every job runner serves it: the events after `lastEventId` when the kept log
 * still reaches back to it (same boot), else a Hello with the jobs; then the live events, each once. The
 * subscription is taken before the log is read, so an event published in between is in both and dropped once.
 */
export const replayThenLive = (
  boot: string,
  state: { readonly pubsub: PubSub.PubSub<Sequenced>; readonly log: ReadonlyArray<Sequenced>; readonly seq: number },
  jobs: () => ReadonlyArray<Job>,
  lastEventId: string | undefined
): Effect.Effect<Stream.Stream<Sequenced>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sub = yield* PubSub.subscribe(state.pubsub)
    const after = lastEventId?.startsWith(`${boot}.`) ? seqOf(lastEventId) : undefined
    const first: Array<Sequenced> =
      after !== undefined && state.log.length > 0 && seqOf(state.log[0]!.id) <= after + 1
        ? state.log.filter((s) => seqOf(s.id) > after)
        : [{ id: `${boot}.${state.seq}`, event: { _tag: "Hello", jobs: [...jobs()].sort((a, b) => b.createdAt - a.createdAt) } }]
    let last = Math.max(after ?? 0, ...first.map((s) => seqOf(s.id)))
    return Stream.concat(
      Stream.fromIterable(first),
      Stream.fromQueue(sub).pipe(
        Stream.filter((s) => {
          const n = seqOf(s.id)
          if (n <= last) return false
          last = n
          return true
        })
      )
    )
  })
