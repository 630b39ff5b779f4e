/**
 * Review before paying (issue 16, seed 004's direct → refine → approve → generate), on the command line:
 *
 * - `storyshot refine shot:K "closer, dusk light"`: the prompt writer rewrites shot K with that feedback, one
 *   call (paid with an LLM writer): the feedback goes into `storyshot.shots.json` as `refine`, the sentence's plan
 *   is built (its `shot:K:refine` node makes the call, kept like every paid answer), and the answer is written
 *   back into the file as the shot's pinned fields. `--prompt "..."` pins a prompt by hand instead (free).
 *   Either way only that shot's image and clip are paid again by the next build; nothing is re-planned.
 * - `storyshot approve [sentence:N | shot:K]...`: freezes the plan (every sentence, or those named) as it stands:
 *   each shot's plan is written into the file (`approved`, `frozen`), so a later model or setting change does
 *   not re-plan it; `--clear` lifts the approval. Approving needs the plan built: it is built first (cents).
 *
 * Shots are named in the file by their sentence's text and their place in it, never by K (see ShotEdits.ts), so
 * both survive a sentence inserted before them.
 */
import { Effect, Option } from "effect"
import * as Cost from "../engine/Cost.ts"
import * as Fingerprint from "../engine/Fingerprint.ts"
import * as Scheduler from "../engine/Scheduler.ts"
import { ids } from "../Film.ts"
import { cameraMoves, transitions, type PlannedShot } from "../Shot.ts"
import type { Workspace } from "../Workspace.ts"
import * as Build from "../Build.ts"
import * as Session from "../cli/Session.ts"
import * as RunLog from "../cli/RunLog.ts"
import * as Targets from "../../targets/index.ts"
import * as Bible from "./Bible.ts"
import * as Inputs from "./Inputs.ts"
import * as ShotEdits from "../ShotEdits.ts"

export interface ShotPlace {
  readonly k: number
  readonly n: number
  readonly j: number
}

/** Every shot's K, sentence and index, from a dry walk (the recorded shot counts, else the planned ones). */
export const shotPlaces = (ws: Workspace, sentences: ReadonlyArray<string>) =>
  Scheduler.build(
    { nodes: Targets.plan(ws, sentences), rules: Targets.rules },
    { targets: sentences.map((_, i) => ids.shots(i + 1)), dryRun: true, keepGoing: true }
  ).pipe(
    Effect.map((result) => {
      const places: Array<ShotPlace> = []
      let k = 1
      sentences.forEach((_, i) => {
        const count = Number(result.results.get(ids.shots(i + 1))?.outputs.count?.value ?? 1)
        for (let j = 1; j <= count; j++) places.push({ k: k++, n: i + 1, j })
      })
      return places
    }),
    Effect.mapError((e) => new Session.UsageError({ message: e.message })),
    Effect.provide(Session.layers(ws, RunLog.runDir(ws.storeDir, "review"), () => {}))
  )

/** The current (built, not guessed) values of the plans of some sentences. */
const plansOf = (ws: Workspace, sentences: ReadonlyArray<string>, ns: ReadonlyArray<number>) =>
  Scheduler.build(
    { nodes: Targets.plan(ws, sentences), rules: Targets.rules },
    { targets: ns.map(ids.plan), dryRun: true, keepGoing: true }
  ).pipe(
    Effect.map((result) => (n: number, j: number): PlannedShot | undefined => {
      const built = result.results.get(ids.plan(n))
      if (built === undefined || Fingerprint.isGuess(built)) return undefined
      return built.outputs[String(j)]?.value as unknown as PlannedShot | undefined
    }),
    Effect.mapError((e) => new Session.UsageError({ message: e.message })),
    Effect.provide(Session.layers(ws, RunLog.runDir(ws.storeDir, "review"), () => {}))
  )

const flags = (target: ReadonlyArray<string>): Build.BuildFlags => ({
  target,
  force: false,
  keepGoing: false,
  dryRun: false,
  json: true,
  quiet: true,
  profile: Option.none(),
  maxCost: Option.none()
})

/** Builds the plans of some sentences (what a refinement or an approval needs); fails as a build fails. */
const buildPlans = (ws: Workspace, ns: ReadonlyArray<number>, onEvent: Parameters<typeof Build.run>[2]) =>
  Effect.gen(function* () {
    const summary = yield* Build.run(ws, flags([...new Set(ns)].map(ids.plan)), onEvent)
    if (summary.failed.length > 0) return yield* new Session.BuildFailed({ message: `${summary.failed[0]!.id}: ${summary.failed[0]!.error}` })
    return summary
  })

const parseShotId = (id: string): number | undefined => {
  const m = /^shot:([1-9]\d*)$/.exec(id.trim())
  return m ? Number(m[1]) : undefined
}

const placeOf = (places: ReadonlyArray<ShotPlace>, id: string) =>
  Effect.gen(function* () {
    const k = parseShotId(id)
    if (k === undefined) return yield* new Session.UsageError({ message: `"${id}" is not a shot: name one as shot:K (K from 1 to ${places.length}, as \`storyshot graph\` numbers them)` })
    const place = places.find((p) => p.k === k)
    if (place === undefined) return yield* new Session.UsageError({ message: `the film has ${places.length} shot${places.length === 1 ? "" : "s"}: shot:${k} does not exist` })
    return place
  })

/** The pinned fields of a planned shot as the file holds them (cast and place by the bible's names). */
const pinOf = (shot: PlannedShot, bible: Bible.Bible | undefined): ShotEdits.Frozen => ({
  prompt: shot.prompt,
  shotType: shot.shotType,
  camera: (cameraMoves as ReadonlyArray<string>).includes(shot.camera) ? shot.camera : "push-in",
  motion: shot.motion,
  transition: (transitions as ReadonlyArray<string>).includes(shot.transition) ? shot.transition : "cut",
  cast: shot.cast.map((id) => (bible ? Bible.findCharacter(bible, id)?.name : undefined) ?? id),
  place: shot.place === null ? null : ((bible ? Bible.findPlace(bible, shot.place)?.name : undefined) ?? shot.place)
})

export interface RefineResult {
  readonly k: number
  readonly n: number
  readonly j: number
  readonly before: string | undefined
  readonly after: string
  readonly cost: Cost.Total
}

export const refine = (ws: Workspace, args: { readonly shot: string; readonly feedback?: string | undefined; readonly prompt?: string | undefined }, onEvent: Parameters<typeof Build.run>[2] = () => {}) =>
  Effect.gen(function* () {
    const feedback = args.feedback?.trim() ?? ""
    const prompt = args.prompt?.trim() ?? ""
    if ((feedback === "") === (prompt === ""))
      return yield* new Session.UsageError({ message: 'give either feedback for the writer (storyshot refine shot:K "closer, dusk light") or a prompt of your own (--prompt "...")' })
    if (prompt.length > ShotEdits.maxPromptLength) return yield* new Session.UsageError({ message: `the prompt is ${prompt.length} characters: at most ${ShotEdits.maxPromptLength}` })
    const sentences = yield* Session.readSentences(ws)
    const places = yield* shotPlaces(ws, sentences)
    const { k, n, j } = yield* placeOf(places, args.shot)
    const sentence = sentences[n - 1]!
    const before = yield* Effect.map(plansOf(ws, sentences, [n]), (get) => get(n, j)?.prompt)
    const edits = Inputs.loadSync(ws.dir).edits
    if (prompt !== "") {
      yield* ShotEdits.write(ws.dir, ShotEdits.update(edits, sentence, j, { pin: { prompt } })).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))
      Inputs.forget(ws.dir)
      return { k, n, j, before, after: prompt, cost: Cost.zero } satisfies RefineResult
    }
    // Ask the writer through the plan (one `shot:K:refine` node: pay-once, recorded), then pin its answer.
    yield* ShotEdits.write(ws.dir, ShotEdits.update(edits, sentence, j, { refine: feedback })).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))
    Inputs.forget(ws.dir)
    const summary = yield* buildPlans(ws, [n], onEvent)
    const shot = yield* Effect.map(plansOf(ws, sentences, [n]), (get) => get(n, j))
    if (shot === undefined) return yield* new Session.BuildFailed({ message: `${ids.plan(n)} was not built` })
    const now = Inputs.loadSync(ws.dir)
    const old = ShotEdits.find(now.edits, sentence, j)
    const next = ShotEdits.update(now.edits, sentence, j, {
      pin: pinOf(shot, now.bible),
      refine: null,
      feedback: [...(old?.feedback ?? []), feedback]
    })
    yield* ShotEdits.write(ws.dir, next).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))
    Inputs.forget(ws.dir)
    return { k, n, j, before, after: shot.prompt, cost: summary.cost } satisfies RefineResult
  })

export interface ApproveResult {
  readonly sentences: ReadonlyArray<number>
  readonly shots: number
  readonly cleared: boolean
  readonly cost: Cost.Total
}

/** `ids`: `sentence:N` or `shot:K` (a shot approves its sentence); none: the whole film. */
export const approve = (ws: Workspace, args: { readonly ids: ReadonlyArray<string>; readonly clear: boolean }, onEvent: Parameters<typeof Build.run>[2] = () => {}) =>
  Effect.gen(function* () {
    const sentences = yield* Session.readSentences(ws)
    const places = yield* shotPlaces(ws, sentences)
    const ns: Array<number> = []
    for (const id of args.ids) {
      const s = /^sentence:([1-9]\d*)$/.exec(id.trim())
      if (s) {
        const n = Number(s[1])
        if (n > sentences.length) return yield* new Session.UsageError({ message: `the transcript has ${sentences.length} sentences: sentence:${n} does not exist` })
        ns.push(n)
      } else ns.push((yield* placeOf(places, id)).n)
    }
    const chosen = ns.length > 0 ? [...new Set(ns)].sort((a, b) => a - b) : sentences.map((_, i) => i + 1)
    let edits = Inputs.loadSync(ws.dir).edits
    if (args.clear) {
      for (const p of places.filter((p) => chosen.includes(p.n))) edits = ShotEdits.update(edits, sentences[p.n - 1]!, p.j, { approved: null, frozen: null })
      yield* ShotEdits.write(ws.dir, edits).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))
      Inputs.forget(ws.dir)
      return { sentences: chosen, shots: places.filter((p) => chosen.includes(p.n)).length, cleared: true, cost: Cost.zero } satisfies ApproveResult
    }
    // The plan as it stands, built first (prompts cost cents; the images and clips are not touched).
    const summary = yield* buildPlans(ws, chosen, onEvent)
    const now = Inputs.loadSync(ws.dir)
    const get = yield* plansOf(ws, sentences, chosen)
    const fresh = yield* shotPlaces(ws, sentences)
    edits = now.edits
    let shots = 0
    for (const p of fresh.filter((p) => chosen.includes(p.n))) {
      const shot = get(p.n, p.j)
      if (shot === undefined) return yield* new Session.BuildFailed({ message: `${ids.plan(p.n)} was not built` })
      edits = ShotEdits.update(edits, sentences[p.n - 1]!, p.j, { approved: true, frozen: pinOf(shot, now.bible) })
      shots++
    }
    yield* ShotEdits.write(ws.dir, edits).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))
    Inputs.forget(ws.dir)
    return { sentences: chosen, shots, cleared: false, cost: summary.cost } satisfies ApproveResult
  })

/** The sentences (numbers) with a shot not approved yet: what `requireApproval` keeps from the paid stages. */
export const unapproved = (ws: Workspace, sentences: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const places = yield* shotPlaces(ws, sentences)
    const matched = ShotEdits.match(Inputs.loadSync(ws.dir).edits, sentences)
    const open = new Set<number>()
    for (const p of places) {
      const e = matched.bySentence.get(p.n)?.get(p.j)
      if (e?.approved !== true || e.frozen === undefined) open.add(p.n)
    }
    return [...open].sort((a, b) => a - b)
  })

/**
 * `requireApproval: true` in the config: a build that would make images or clips refuses (exit 2) while a
 * sentence's plan is not approved, before anything is paid. Plans, narration and dry runs are never refused.
 */
export const checkApproved = (ws: Workspace, sentences: ReadonlyArray<string>, targets: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    if (ws.config.requireApproval !== true) return
    const planOnly = targets.length > 0 && targets.every((t) => /^(transcript|sentence:\d+:(audio|shots|timing|prompts|plan))$/.test(t))
    if (planOnly) return
    const open = yield* unapproved(ws, sentences)
    if (open.length === 0) return
    const list = open.length > 6 ? `${open.slice(0, 6).join(", ")} and ${open.length - 6} more` : open.join(", ")
    return yield* new Session.UsageError({
      message: `requireApproval: sentence${open.length === 1 ? "" : "s"} ${list} ${open.length === 1 ? "is" : "are"} not approved yet: review the plan (storyshot build --until prompts, then out/storyboard.html or storyshot graph), refine what you want, then storyshot approve`
    })
  })
