/**
 * The story as the page shows it: sentence → narration → prompts → each shot's still and clip → the sentence's
 * mux → the film, each node with its status, its current result (a link into the store) and its cost, or what
 * building it would cost. One dry walk of the film (the one `build --dry-run` makes: nothing is built or paid)
 * tells fresh from stale; the records tell what each result cost and who made it; the running builds' events
 * tell what is being built now.
 *
 * Links name stored objects by their content hash, so a link changes exactly when a result does (a re-rolled
 * still gets a new link; the page swaps only that picture), and the browser may keep them forever.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Option } from "effect"
import * as Build from "../Build.ts"
import * as RunLog from "../cli/RunLog.ts"
import * as Session from "../cli/Session.ts"
import * as Cost from "../engine/Cost.ts"
import * as Fingerprint from "../engine/Fingerprint.ts"
import type { Built, Json } from "../engine/Node.ts"
import * as Scheduler from "../engine/Scheduler.ts"
import { Store } from "../engine/Store.ts"
import * as ShotEdits from "../ShotEdits.ts"
import * as Targets from "../../targets/index.ts"
import { ids } from "../../targets/Settings.ts"
import type { Workspace } from "../Workspace.ts"
import { Unprocessable } from "./Errors.ts"
import type { NodeState } from "./Progress.ts"
import * as Schemas from "./Schemas.ts"

export type Live = ReadonlyMap<string, { readonly state: NodeState; readonly error?: string | undefined }>

export const price = (c: Cost.Cost): typeof Schemas.Price.Type => ({ usd: c.usd ?? null, source: c.source })

/** Approved as `storyshot approve` approves: marked, with its plan frozen (a bare mark freezes nothing). */
export const isApproved = (pin: ShotEdits.ShotEdit | undefined) => pin?.approved === true && pin.frozen !== undefined

/** A file of the project as a URL of the server (`/api/projects/<id>/<path>`), or null when it is not there. */
export const fileUrl = (projectId: string, ws: Workspace, file: string): string | null =>
  fs.existsSync(file) ? `/api/projects/${encodeURIComponent(projectId)}/${path.relative(ws.dir, file).split(path.sep).map(encodeURIComponent).join("/")}` : null

/** Where shot K is: its sentence and its place in it (from the plan; null when the film has no shot K). */
export interface ShotPlace {
  readonly k: number
  readonly n: number
  readonly j: number
  readonly sentence: string
}

/** The dry walk every view starts from. */
const walk = (ws: Workspace) =>
  Effect.gen(function* () {
    const sentences = yield* Session.readSentences(ws)
    const edits = yield* ShotEdits.read(ws.dir)
    const result = yield* Scheduler.build(Build.graphOf(ws, sentences, edits), {
      targets: Targets.defaultTargets,
      dryRun: true,
      keepGoing: true
    })
    return { sentences, edits, result }
  })

const provided = <A, E>(ws: Workspace, effect: Effect.Effect<A, E, any>) =>
  effect.pipe(
    Effect.provide(Session.layers(ws, RunLog.runDir(ws.storeDir, "serve"), () => {})),
    Effect.mapError((e) => new Unprocessable({ message: (e as { message?: string }).message ?? String(e) }))
  ) as Effect.Effect<A, Unprocessable>

const shotPlaces = (sentences: ReadonlyArray<string>, value: (id: string, output: string) => Json | undefined): Array<ShotPlace> => {
  const places: Array<ShotPlace> = []
  let k = 1
  sentences.forEach((sentence, i) => {
    const count = Number(value(ids.shots(i + 1), "count") ?? 0)
    for (let j = 1; j <= count; j++, k++) places.push({ k, n: i + 1, j, sentence })
  })
  return places
}

const valueOf = (results: ReadonlyMap<string, Built>) => (id: string, output: string): Json | undefined => results.get(id)?.outputs[output]?.value

/** Shot K's place, from the same walk (the film's shot count is known from the last build or planned). */
export const place = (ws: Workspace, k: number) =>
  provided(
    ws,
    Effect.map(walk(ws), ({ sentences, result }) => shotPlaces(sentences, valueOf(result.results)).find((p) => p.k === k))
  )

export const compute = (ws: Workspace, projectId: string, live: Live) =>
  provided(
    ws,
    Effect.gen(function* () {
      const store = yield* Store
      const { sentences, edits, result } = yield* walk(ws)
      const would = new Map(result.wouldBuild.map((w) => [w.id, w]))
      const objectUrl = (hash: string, ext: string) =>
        `/api/projects/${encodeURIComponent(projectId)}/${path.relative(ws.dir, store.objectPath(hash, ext)).split(path.sep).map(encodeURIComponent).join("/")}`
      const current = (id: string) => {
        const built = result.results.get(id)
        return built && !Fingerprint.isGuess(built) && !would.has(id) ? built : undefined
      }
      const node = (id: string, output?: string) =>
        Effect.gen(function* () {
          const built = current(id)
          const estimate = would.get(id)?.estimate
          const running = live.get(id)
          const record = built ? Option.getOrUndefined(yield* store.getRecord(built.fingerprint).pipe(Effect.orElseSucceed(() => Option.none()))) : undefined
          const request = record?.requests[0]
          const recipe = record?.data.recipe ?? result.nodes.get(id)?.recipe ?? {}
          const provider = request?.provider ?? (typeof recipe.provider === "string" ? recipe.provider : undefined)
          const model = request?.model ?? (typeof recipe.model === "string" ? recipe.model : undefined)
          const o = output ? built?.outputs[output] : undefined
          const status: Schemas.NodeView["status"] =
            running?.state === "running" ? "running" : built ? "fresh" : running?.state === "failed" ? "failed" : estimate ? "stale" : "planned"
          const view: Schemas.NodeView = {
            id,
            status,
            url: o && o.ext !== undefined ? objectUrl(o.hash, o.ext) : null,
            cost: record ? price(record.cost) : null,
            estimate: built ? null : estimate ? price(estimate) : null,
            by: provider === undefined ? null : model ? `${provider} · ${model}` : provider,
            error: running?.state === "failed" ? (running.error ?? "failed") : null
          }
          return view
        })
      const value = valueOf(result.results)
      const places = shotPlaces(sentences, value)
      const out: Array<Schemas.StorySentence> = []
      let seconds = 0
      for (const [i, text] of sentences.entries()) {
        const n = i + 1
        const audio = yield* node(ids.audio(n), "audio")
        const prompts = yield* node(ids.prompts(n))
        const mux = yield* node(ids.mux(n), "video")
        const frames = current(ids.timing(n))?.outputs.frames?.value as ReadonlyArray<number> | undefined
        const shots: Array<Schemas.StoryShot> = []
        for (const p of places.filter((p) => p.n === n)) {
          const generated = current(ids.prompts(n))?.outputs[String(p.j)]?.value as { prompt?: Json; shotType?: Json; camera?: Json } | undefined
          const pin = ShotEdits.find(edits, text, p.j)
          const f = frames?.[p.j - 1]
          shots.push({
            k: p.k,
            j: p.j,
            prompt: pin?.prompt ?? str(generated?.prompt),
            generated: str(generated?.prompt),
            pinned: pin?.prompt !== undefined,
            approved: isApproved(pin),
            shotType: str(generated?.shotType),
            camera: str(generated?.camera),
            seconds: f === undefined ? null : f / ws.config.fps,
            image: yield* node(ids.image(p.k), "image"),
            video: yield* node(ids.video(p.k), "video")
          })
        }
        const sentenceSeconds = frames ? frames.reduce((a, b) => a + b, 0) / ws.config.fps : null
        seconds += sentenceSeconds ?? 0
        out.push({
          n,
          text,
          seconds: sentenceSeconds,
          audio,
          prompts,
          mux,
          download: mux.status === "fresh" ? fileUrl(projectId, ws, path.join(ws.outDir, "sentences", `${String(n).padStart(3, "0")}.mp4`)) : null,
          cost: Cost.sum([audio, prompts, mux, ...shots.flatMap((s) => [s.image, s.video])].map(made)),
          shots
        })
      }
      const final = yield* node(ids.final, "video")
      const subtitles = yield* node(ids.subtitles)
      const storyboard = yield* node(ids.storyboard, "page")
      const left = Cost.sum(result.wouldBuild.map((w) => w.estimate))
      const story: Schemas.Story = {
        project: projectId,
        profile: ws.config.profile,
        cast: [],
        sentences: out,
        final,
        subtitles,
        storyboard,
        downloads: {
          film: final.status === "fresh" ? fileUrl(projectId, ws, path.join(ws.outDir, "final.mp4")) : null,
          srt: fileUrl(projectId, ws, path.join(ws.outDir, "final.srt")),
          vtt: fileUrl(projectId, ws, path.join(ws.outDir, "final.vtt")),
          storyboard: fileUrl(projectId, ws, path.join(ws.outDir, "storyboard.html"))
        },
        cost: Cost.sum(
          [...out.flatMap((s) => [s.audio, s.prompts, s.mux, ...s.shots.flatMap((x) => [x.image, x.video])]), final, subtitles, storyboard].map(made)
        ),
        left,
        stale: result.wouldBuild.length,
        shots: places.length,
        seconds
      }
      return story
    })
  )

/** What a node's current result cost to make ($0 when it has none). */
const made = (v: Schemas.NodeView): Cost.Cost => (v.cost ? { usd: v.cost.usd ?? undefined, source: v.cost.source } : Cost.free)

const str = (v: Json | undefined): string | null => (typeof v === "string" && v.length > 0 ? v : null)
