/**
 * What each endpoint of Api.ts does. Handlers are thin: projects come from `Projects`, builds go to the
 * `JobRunner`, dry runs and quotes are `Build.run` with `dryRun` (the same walk as `build --dry-run`), the story
 * is `Story.compute`, files are `Assets.serve`, pins are `ShotEdits`.
 */
import * as fs from "node:fs"
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option, Schema, Stream } from "effect"
import * as Build from "../Build.ts"
import * as Review from "../director/Review.ts"
import * as Runs from "../cli/runs.ts"
import * as Session from "../cli/Session.ts"
import * as Cost from "../engine/Cost.ts"
import * as ShotEdits from "../ShotEdits.ts"
import * as Registry from "../../targets/registry.ts"
import { Api } from "./Api.ts"
import * as Assets from "./Assets.ts"
import { Conflict, NotFound, Unauthorized, Unprocessable } from "./Errors.ts"
import { JobRunner, type BuildOrder, type Sequenced, type ServerEvent } from "./Jobs.ts"
import * as Polls from "./Polls.ts"
import { Projects, nameOf, type Project } from "./Projects.ts"
import * as S from "./Schemas.ts"
import * as Secrets from "./Secrets.ts"
import * as Security from "./Security.ts"
import * as Story from "./Story.ts"
import type { Workspace } from "../Workspace.ts"

const usage = (e: { readonly message: string }) => new Unprocessable({ message: e.message })

const runRow = (r: Runs.RunRow): S.RunRow => ({
  id: r.runId,
  status: r.status,
  startedAt: r.startedAt ?? null,
  profile: r.profile ?? null,
  built: r.built,
  cached: r.cached,
  failed: r.failed,
  cost: r.cost ?? null,
  wallMs: r.wallMs ?? null
})

const jobRow = (j: S.Job, profile: string): S.RunRow => ({
  id: j.id,
  status: j.state === "done" ? "ok" : j.state,
  startedAt: j.startedAt ?? j.createdAt,
  profile,
  built: j.built.length,
  cached: j.cached,
  failed: j.failed.length,
  cost: j.spent,
  wallMs: j.wallMs
})

/** The runs `storyshot runs` lists, with this server's queued, running and cancelled jobs over them. */
const runsOf = (project: Project, ws: Workspace) =>
  Effect.gen(function* () {
    const jobs = yield* (yield* JobRunner).list(project)
    const byId = new Map(jobs.map((j) => [j.id, j]))
    const rows = Runs.rows(Runs.readRuns(ws.storeDir)).map((r) => {
      const job = byId.get(r.runId)
      return job && (job.state === "cancelled" || job.state === "queued" || job.state === "running") ? jobRow(job, ws.config.profile) : runRow(r)
    })
    const recorded = new Set(rows.map((r) => r.id))
    const extra = jobs.filter((j) => !recorded.has(j.id)).map((j) => jobRow(j, ws.config.profile))
    return [...extra, ...rows].sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))
  })

const projectView = (project: Project) =>
  Effect.gen(function* () {
    const projects = yield* Projects
    const runner = yield* JobRunner
    const jobs = yield* runner.list(project)
    const job = jobs.find((j) => j.state === "queued" || j.state === "running") ?? jobs[0] ?? null
    const ws = yield* projects.workspace(project).pipe(Effect.either)
    if (ws._tag === "Left")
      return {
        id: project.id,
        name: nameOf(project),
        profile: "draft",
        paid: false,
        providers: {},
        aspect: "16:9",
        sentences: null,
        problem: ws.left.message,
        job,
        lastRun: null
      } satisfies S.Project
    const sentences = yield* Session.readSentences(ws.right).pipe(Effect.either)
    const runs = yield* runsOf(project, ws.right)
    const view: S.Project = {
      id: project.id,
      name: nameOf(project),
      profile: ws.right.config.profile,
      paid: Registry.usesPaidProviders(ws.right.config),
      providers: { ...ws.right.config.providers },
      aspect: ws.right.config.aspect,
      sentences: sentences._tag === "Right" ? sentences.right.length : null,
      problem: sentences._tag === "Left" ? sentences.left.message : null,
      job,
      lastRun: runs[0] ?? null
    }
    return view
  })

const opened = (id: string) =>
  Effect.gen(function* () {
    const projects = yield* Projects
    const project = yield* projects.find(id)
    const ws = yield* projects.workspace(project)
    return { project, ws }
  })

const noFlags: Build.BuildFlags = {
  target: [],
  force: false,
  keepGoing: true,
  dryRun: true,
  json: false,
  quiet: true,
  profile: Option.none(),
  maxCost: Option.none()
}

const planned = (w: { readonly id: string; readonly stage: string; readonly estimate: Cost.Cost }) => ({ id: w.id, stage: w.stage, estimate: Story.price(w.estimate) })

const stageOrder = ["transcript", "audio", "timing", "prompts", "image", "video", "mux", "final", "subtitles", "storyboard"]
const idOrder = (id: string) => id.replace(/\d+/g, (d) => d.padStart(8, "0"))

/** In the order a film is made: by stage, then by number (shot:2 before shot:10). */
const inOrder = <A extends { readonly id: string; readonly stage: string }>(nodes: ReadonlyArray<A>): Array<A> =>
  [...nodes].sort((a, b) => stageOrder.indexOf(a.stage) - stageOrder.indexOf(b.stage) || (idOrder(a.id) < idOrder(b.id) ? -1 : idOrder(a.id) > idOrder(b.id) ? 1 : 0))

const dryRun = (ws: Workspace, flags: Partial<Build.BuildFlags>, hooks: Build.RunHooks = {}) =>
  (Build.run(ws, { ...noFlags, ...flags, dryRun: true }, () => {}, hooks) as unknown as Effect.Effect<Build.Summary, { readonly message: string }>).pipe(
    Effect.mapError(usage)
  )

const quoteNote =
  "An estimate: nothing is paid until you confirm. Stored results are not counted, and what follows a re-made node is rebuilt only if that node's result changes, so the build may make less than this (a free draft card drawn again comes out the same, and nothing after it is rebuilt)."

const quoteOf = (summary: Build.Summary): S.Quote => ({
  nodes: inOrder(summary.wouldBuild ?? []).map(planned),
  estimate: summary.estimate ?? Cost.zero,
  note: quoteNote
})

/** Shot K of the project's film, or a 404 naming how many shots there are. */
const shot = (project: Project, ws: Workspace, k: number) =>
  Effect.flatMap(Story.place(ws, k), (place) =>
    place ? Effect.succeed(place) : Effect.fail(new NotFound({ message: `project ${project.id} has no shot ${k}: the story (GET /api/projects/${project.id}/story) lists its shots` }))
  )

const retakeOf = (k: number, what: "image" | "clip" | undefined) => [what === "clip" ? `shot:${k}:video` : `shot:${k}:image`]

/** Pins are read, changed and written one at a time (two edits at once must not lose one). */
const pinLock = Effect.unsafeMakeSemaphore(1)

const pin = (ws: Workspace, place: Story.ShotPlace, patch: Parameters<typeof ShotEdits.update>[3]) =>
  pinLock.withPermits(1)(
    Effect.gen(function* () {
      const saved = yield* ShotEdits.read(ws.dir)
      const next = ShotEdits.update(saved, place.sentence, place.j, patch)
      yield* ShotEdits.write(ws.dir, next)
      return ShotEdits.find(next, place.sentence, place.j)
    }).pipe(Effect.mapError(usage))
  )

const order = (label: string, fields: Partial<BuildOrder> = {}): BuildOrder => ({
  targets: [],
  retake: [],
  force: false,
  keepGoing: false,
  maxCost: undefined,
  label,
  ...fields
})

/** A Job as the API sends it: through its schema (money rounded for people, no field beyond the documented ones). */
const encodeJob = Schema.encodeSync(S.Job)

/** An event as it goes on the wire: the jobs it carries encoded as every other answer encodes them. */
const wireEvent = (e: ServerEvent): unknown =>
  e._tag === "Job" ? { ...e, job: encodeJob(e.job) } : e._tag === "Hello" ? { ...e, jobs: e.jobs.map((j) => encodeJob(j)) } : e

const utf8 = new TextEncoder()

/**
 * An event's wire bytes, made once for all the clients of a project (20 pages on one build would otherwise
 * encode, redact and UTF-8 encode every event 20 times); made again only for a client whose secrets differ.
 */
const wireBytes = new WeakMap<Sequenced, { readonly secrets: string; readonly bytes: Uint8Array }>()
const encodeEvent = (s: Sequenced, secrets: ReadonlyArray<string>, secretsKey: string) => {
  const kept = wireBytes.get(s)
  if (kept && kept.secrets === secretsKey) return kept.bytes
  const bytes = utf8.encode(`id: ${s.id}\ndata: ${Secrets.redact(JSON.stringify(wireEvent(s.event)), secrets)}\n\n`)
  wireBytes.set(s, { secrets: secretsKey, bytes })
  return bytes
}

// Reconnect after 2 s when the connection drops (EventSource's default is 3 s).
const retryLine = utf8.encode("retry: 2000\n\n")
// A comment now and then, so that proxies keep an idle stream open.
const pingLine = utf8.encode(": ping\n\n")

const sse = (events: Stream.Stream<Sequenced>, secrets: ReadonlyArray<string>, secretsKey = secrets.join("\0")) =>
  HttpServerResponse.stream(
    Stream.concat(
      Stream.make(retryLine),
      Stream.merge(
        events.pipe(Stream.map((s) => encodeEvent(s, secrets, secretsKey))),
        Stream.tick("15 seconds").pipe(Stream.map(() => pingLine)),
        { haltStrategy: "left" }
      )
    ),
    { contentType: "text/event-stream", headers: { "cache-control": "no-cache", "x-accel-buffering": "no" } }
  )


/** The story is a dry walk: kept until something it shows may have changed. */
const storyCache = new Map<string, { readonly key: string; readonly story: S.Story }>()

const inputsKey = (ws: Workspace) =>
  [ws.transcriptPath, ShotEdits.filePath(ws.dir)].map((p) => fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0).join(":")

export const ProjectsLive = HttpApiBuilder.group(Api, "projects", (handlers) =>
  handlers
    .handle("list", () =>
      Effect.gen(function* () {
        const projects = yield* Projects
        const all = yield* projects.list
        return { mode: projects.mode, projects: yield* Effect.forEach(all, projectView) }
      })
    )
    .handle("create", ({ payload }) =>
      Effect.gen(function* () {
        const project = yield* (yield* Projects).create(payload)
        return yield* projectView(project)
      })
    )
    .handle("upload", ({ payload }) =>
      Effect.gen(function* () {
        let text: string
        try {
          text = new TextDecoder("utf-8", { fatal: true }).decode(fs.readFileSync(payload.transcript.path))
        } catch {
          return yield* new Unprocessable({ message: "transcript: the file is not UTF-8 text: save it as UTF-8 and upload it again" })
        }
        const project = yield* (yield* Projects).create({ name: payload.name, transcript: text, profile: payload.profile, settings: payload.settings })
        return yield* projectView(project)
      })
    )
    .handle("show", ({ path }) => Effect.flatMap(Projects, (projects) => Effect.flatMap(projects.find(path.id), projectView)))
)

export const BuildsLive = HttpApiBuilder.group(Api, "builds", (handlers) =>
  handlers
    .handle("plan", ({ path, urlParams }) =>
      Effect.gen(function* () {
        const { ws } = yield* opened(path.id)
        const target = urlParams.target === undefined ? [] : typeof urlParams.target === "string" ? [urlParams.target] : [...urlParams.target]
        const summary = yield* dryRun(ws, { target, force: urlParams.force === "true" })
        const would = inOrder(summary.wouldBuild ?? [])
        const nodes = would.map(planned)
        const stages = new Map<string, Array<(typeof would)[number]>>()
        const shots = new Map<number, Array<(typeof would)[number]>>()
        for (const w of would) {
          stages.set(w.stage, [...(stages.get(w.stage) ?? []), w])
          const k = /^shot:(\d+):/.exec(w.id)?.[1]
          if (k !== undefined) shots.set(Number(k), [...(shots.get(Number(k)) ?? []), w])
        }
        const plan: S.Plan = {
          targets: target.length > 0 ? target : ["final", "subtitles", "storyboard"],
          nodes,
          stages: [...stages].map(([stage, ws]) => ({ stage, nodes: ws.length, estimate: Cost.sum(ws.map((w) => w.estimate)) })),
          shots: [...shots].sort((a, b) => a[0] - b[0]).map(([k, ws]) => ({ k, nodes: ws.map((w) => w.id), estimate: Cost.sum(ws.map((w) => w.estimate)) })),
          estimate: summary.estimate ?? Cost.zero,
          upToDate: summary.cached.length,
          splitChanges: summary.splitChanges?.length ?? 0
        }
        return plan
      })
    )
    .handle("start", ({ path, payload }) =>
      Effect.gen(function* () {
        const { project } = yield* opened(path.id)
        return yield* (yield* JobRunner).submit(
          project,
          order(payload.targets && payload.targets.length > 0 ? `build ${payload.targets.join(" ")}` : "build", {
            targets: payload.targets ?? [],
            force: payload.force === true,
            keepGoing: payload.keepGoing === true,
            maxCost: payload.maxCost
          })
        )
      })
    )
    .handle("runs", ({ path }) =>
      Effect.gen(function* () {
        const { project, ws } = yield* opened(path.id)
        return { runs: yield* runsOf(project, ws) }
      })
    )
    .handle("status", ({ path }) =>
      Effect.gen(function* () {
        const { project, ws } = yield* opened(path.id)
        const runner = yield* JobRunner
        const polls = yield* Polls.PollCache
        // Polled many times a second by scripts and dashboards: the encoded answer is kept until the
        // project's next event (nothing it shows changes in between); Polls.answer serves it from there.
        const hit = polls.get(project.id, path.run)
        if (hit && hit.current()) return HttpServerResponse.uint8Array(hit.body, { contentType: "application/json" })
        const version = runner.version(project)
        const job = yield* runner.get(project, path.run).pipe(Effect.option)
        if (Option.isSome(job)) {
          // Encoded through the schema, as the typed answer would be (no field beyond the documented ones).
          const body = utf8.encode(JSON.stringify(encodeJob(job.value)))
          const live = job.value.state === "queued" || job.value.state === "running"
          polls.set(project.id, path.run, { body, live, current: () => runner.version(project) === version })
          return HttpServerResponse.uint8Array(body, { contentType: "application/json" })
        }
        // A run this server did not start (`storyshot build` in a terminal, an older server).
        const stored = Runs.readRuns(ws.storeDir).find((r) => r.runId === path.run)
        if (!stored) return yield* new NotFound({ message: `no run "${path.run}" in project ${project.id}: GET /api/projects/${project.id}/builds lists them` })
        const status = Runs.statusOf(stored)
        const job2: S.Job = {
          id: stored.runId,
          project: project.id,
          state: status === "ok" ? "done" : status === "interrupted" ? "interrupted" : "failed",
          label: "build",
          targets: [...(stored.targets ?? [])],
          retake: [],
          createdAt: stored.startedAt ?? 0,
          startedAt: stored.startedAt ?? null,
          endedAt: stored.endedAt ?? null,
          progress: { done: 0, total: 0, stages: [] },
          running: [],
          spent: stored.cost ?? Cost.zero,
          left: null,
          built: [...(stored.built ?? [])],
          cached: stored.cached?.length ?? 0,
          failed: [...(stored.failed ?? [])],
          wallMs: stored.wallMs ?? null,
          error: stored.error ?? null
        }
        return job2
      })
    )
    .handle("cancel", ({ path }) =>
      Effect.gen(function* () {
        const { project } = yield* opened(path.id)
        return yield* (yield* JobRunner).cancel(project, path.run)
      })
    )
    .handle("events", ({ path }) =>
      Effect.gen(function* () {
        const { project, ws } = yield* opened(path.id)
        const req = yield* HttpServerRequest.HttpServerRequest
        const runner = yield* JobRunner
        return sse(runner.events(project, req.headers["last-event-id"]), Secrets.secretsOf(ws.env, process.env))
      })
    )
)

export const StoryLive = HttpApiBuilder.group(Api, "story", (handlers) =>
  handlers
    .handle("story", ({ path }) =>
      Effect.gen(function* () {
        const { project, ws } = yield* opened(path.id)
        const runner = yield* JobRunner
        const key = `${runner.version(project)}:${inputsKey(ws)}`
        const hit = storyCache.get(project.dir)
        if (hit && hit.key === key) return hit.story
        const story = Secrets.redactJson(yield* Story.compute(ws, project.id, yield* runner.live(project)), Secrets.secretsOf(ws.env, process.env))
        storyCache.set(project.dir, { key, story })
        return story
      })
    )
    .handle("rerollQuote", ({ path, payload }) =>
      Effect.gen(function* () {
        const { project, ws } = yield* opened(path.id)
        yield* shot(project, ws, path.k)
        return quoteOf(yield* dryRun(ws, { retake: retakeOf(path.k, payload.what) }))
      })
    )
    .handle("reroll", ({ path, payload }) =>
      Effect.gen(function* () {
        const { project, ws } = yield* opened(path.id)
        yield* shot(project, ws, path.k)
        return yield* (yield* JobRunner).submit(
          project,
          order(`re-roll shot ${path.k}${payload.what === "clip" ? " (clip)" : ""}`, { retake: retakeOf(path.k, payload.what), maxCost: payload.maxCost })
        )
      })
    )
    .handle("promptQuote", ({ path, payload }) =>
      Effect.gen(function* () {
        const { project, ws } = yield* opened(path.id)
        const place = yield* shot(project, ws, path.k)
        const summary = yield* dryRun(ws, {}, { pins: (saved) => ShotEdits.update(saved, place.sentence, place.j, { prompt: payload.prompt }) })
        return quoteOf(summary)
      })
    )
    .handle("prompt", ({ path, payload }) =>
      Effect.gen(function* () {
        const { project, ws } = yield* opened(path.id)
        const place = yield* shot(project, ws, path.k)
        const saved = yield* pin(ws, place, { prompt: payload.prompt })
        const runner = yield* JobRunner
        yield* runner.notify(project, `shot ${path.k} prompt`)
        const job =
          payload.build === false
            ? null
            : yield* runner.submit(project, order(payload.prompt === null ? `unpin shot ${path.k}` : `prompt of shot ${path.k}`, { maxCost: payload.maxCost }))
        return { k: path.k, prompt: saved?.prompt ?? null, approved: Story.isApproved(saved), job }
      })
    )
    .handle("approval", ({ path, payload }) =>
      Effect.gen(function* () {
        const { project, ws } = yield* opened(path.id)
        const place = yield* shot(project, ws, path.k)
        const runner = yield* JobRunner
        // Approving is `storyshot approve shot:K`: the plan of the shot's sentence is built (it waits for the
        // workspace lock) and frozen. While a build runs here that would hang the request for the whole build.
        const busy = (yield* runner.list(project)).find((j) => j.state === "queued" || j.state === "running")
        if (busy)
          return yield* new Conflict({ message: `build ${busy.id} is ${busy.state}: approve shot ${path.k} once it ends (approving builds and freezes the plan, which waits for the build)` })
        // The same call as the command line's (src/director/Review.ts), so the same effect: each shot of the
        // sentence is written `approved` with its plan `frozen`, and a later model or setting change does not
        // re-plan it (nor pay for its still and clip again) until the approval is taken back (`--clear`).
        const approve = Review.approve(ws, { ids: [`shot:${path.k}`], clear: !payload.approved }) as unknown as Effect.Effect<Review.ApproveResult, { readonly message: string }>
        const secrets = Secrets.secretsOf(ws.env, process.env)
        yield* pinLock.withPermits(1)(approve.pipe(Effect.mapError((e) => new Unprocessable({ message: Secrets.redact(e.message, secrets) }))))
        yield* runner.notify(project, `shot ${path.k} approval`)
        const saved = ShotEdits.find(yield* ShotEdits.read(ws.dir).pipe(Effect.mapError(usage)), place.sentence, place.j)
        return { k: path.k, prompt: saved?.prompt ?? null, approved: Story.isApproved(saved), job: null }
      })
    )
)

const fileHandler = (id: string, area: Assets.Area, segments: ReadonlyArray<string>, download: boolean) =>
  Effect.gen(function* () {
    const { ws } = yield* opened(id)
    const req = yield* HttpServerRequest.HttpServerRequest
    return yield* Assets.serve(ws, area, segments, { range: req.headers.range, immutable: area === "objects", download })
  })

export const FilesLive = HttpApiBuilder.group(Api, "files", (handlers) =>
  handlers
    .handle("out", ({ path, urlParams }) => fileHandler(path.id, "out", [path.file], urlParams.download === "1"))
    .handle("sentence", ({ path, urlParams }) => fileHandler(path.id, "out", ["sentences", path.file], urlParams.download === "1"))
    .handle("object", ({ path, urlParams }) => fileHandler(path.id, "objects", [path.prefix, path.file], urlParams.download === "1"))
)

export const SessionLive = (token: string | undefined) =>
  HttpApiBuilder.group(Api, "session", (handlers) =>
    handlers.handle("login", ({ payload }) =>
      Effect.gen(function* () {
        if (token === undefined) return HttpServerResponse.empty({ status: 204 })
        if (!Security.sameSecret(payload.token, token))
          return yield* new Unauthorized({ message: "wrong token: give the STORYSHOT_TOKEN the server was started with" })
        const req = yield* HttpServerRequest.HttpServerRequest
        const form = (req.headers["content-type"] ?? "").includes("application/x-www-form-urlencoded")
        return HttpServerResponse.empty({
          status: form ? 303 : 204,
          headers: { "set-cookie": Security.sessionCookie(token), ...(form ? { location: "/" } : {}) }
        })
      })
    )
  )
