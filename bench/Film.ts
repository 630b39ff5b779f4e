/**
 * The scheduler alone on the film's own graph: `Targets.plan` with the cloud profile's nodes, pools and
 * expansions, but every rule replaced by one that sleeps for its stage's latency and returns outputs of the
 * right names. No HTTP, no ffmpeg: what is left is the engine (deps, expansion, fingerprints, the real
 * file store, pools) against the bound computed from the same latencies (`Bound.ts`).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import * as Config from "../src/Config.ts"
import * as Pools from "../src/Pools.ts"
import { BuildEvents, type BuildEvent } from "../src/engine/Events.ts"
import type { NodeSpec, Produced, Rule } from "../src/engine/Node.ts"
import * as Scheduler from "../src/engine/Scheduler.ts"
import { Store } from "../src/engine/Store.ts"
import type { Workspace } from "../src/Workspace.ts"
import * as Targets from "../targets/index.ts"
import { kinds } from "../targets/Settings.ts"
import type { Job } from "./Bound.ts"

/**
 * A cloud build's latencies in seconds, by kind: a range, each node drawing its own from it (the same draw
 * every run). Images take about 30–60 s and clips 60–180 s at the providers; the benchmark scales a second
 * down to `msPerSecond` milliseconds.
 */
export const latencyRange: Readonly<Record<string, readonly [number, number]>> = {
  [kinds.audio]: [2, 5],
  [kinds.prompts]: [4, 10],
  [kinds.image]: [30, 60],
  [kinds.video]: [60, 180],
  [kinds.mux]: [1, 2],
  [kinds.final]: [2, 2]
}

/** One node's latency: a fixed pseudo-random point in its kind's range. */
export const latencyOf = (kind: string, id: string): number => {
  const range = latencyRange[kind]
  if (!range) return 0
  let h = 2166136261
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619)
  return range[0] + ((h >>> 0) / 0xffffffff) * (range[1] - range[0])
}

/** The middle of each range (for the older fixed-latency callers). */
export const latencySeconds: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(latencyRange).map(([k, [a, b]]) => [k, (a + b) / 2])
)

export const cloudWorkspace = (dir: string): Workspace => {
  const config = Config.resolve({ profile: "cloud" })
  return {
    dir,
    configPath: undefined,
    config,
    env: {},
    storeDir: path.join(dir, ".storyshot"),
    outDir: path.join(dir, "out"),
    transcriptPath: path.join(dir, "transcript.txt")
  }
}

export const poolLimits = (ws: Workspace): Record<string, number> => ({ ...Pools.defaultPools(), ...ws.config.pools })

/**
 * The provider pool a cloud rule takes while the provider works (`Paid.inProvider`), when its own pool is
 * another: fal's narrations and clips hold a "transfer" slot throughout and a "fal" slot from submit to done.
 */
export const providerPool = (kind: string): string | undefined => (kind === kinds.audio || kind === kinds.video ? "fal" : undefined)

/** Sleeps instead of calling a provider; `shots`, `timing` and `plan` keep their real (pure, instant) code. */
const sleepingRules = (msOf: (kind: string, id: string) => number, durations: ReadonlyArray<number>) => {
  const out: Record<string, Rule<unknown, any>> = {}
  for (const [kind, real] of Object.entries(Targets.rules)) {
    if (kind === kinds.shots || kind === kinds.timing || kind === kinds.plan) {
      out[kind] = real
      continue
    }
    const produce = (ctx: Parameters<Rule["run"]>[0]): Produced => {
      const id = ctx.node.id
      switch (kind) {
        case kinds.audio: {
          const n = Number(id.split(":")[1])
          return { audio: { value: `audio ${id}` }, duration: { value: durations[n - 1]! } }
        }
        case kinds.prompts: {
          const n = Number(id.split(":")[1])
          const count = Number(ctx.value(`sentence:${n}:shots`, "count"))
          // The shape the plan reads (a shot as the writer directs it), each shot's prompt its own: distinct stills.
          return Object.fromEntries(
            Array.from({ length: count }, (_, i) => [String(i + 1), { value: { prompt: `prompt ${id} ${i + 1}`, shotType: "wide", camera: "push-in" } }])
          )
        }
        case kinds.image:
          return { image: { value: `image ${id}` } }
        case kinds.transcript:
          return { sentences: { value: ctx.node.recipe.sentences! } }
        default:
          return { video: { value: `${kind} ${id}` } }
      }
    }
    out[kind] = {
      ...real,
      verify: undefined,
      run: (ctx) => {
        const ms = msOf(kind, ctx.node.id)
        const work = (ms > 0 ? Effect.sleep(ms) : Effect.void).pipe(Effect.map(() => produce(ctx)))
        // As the real rule: its own ("transfer") slot throughout, the provider's only while it works.
        const provider = providerPool(kind)
        return provider === undefined ? work : ctx.withPool(provider, work)
      }
    }
  }
  return out
}

export interface FilmRun {
  readonly result: Scheduler.BuildResult
  /** Each event with `at`, the time it was emitted (for looking at gaps between a node and its deps). */
  readonly events: ReadonlyArray<BuildEvent>
  readonly jobs: ReadonlyArray<Job>
  readonly limits: Record<string, number>
  readonly nodes: number
  readonly shots: number
}

/**
 * Builds a film of `durations.length` sentences (each narration lasting that many seconds) in a fresh store,
 * with `msPerSecond` milliseconds standing in for each second of provider latency.
 */
export const runFilm = (durations: ReadonlyArray<number>, msPerSecond: number, options: Partial<Scheduler.BuildOptions> = {}) =>
  Effect.gen(function* () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-bench-film-"))
    const ws = cloudWorkspace(dir)
    const sentences = durations.map((_, i) => `Sentence number ${i + 1} of the benchmark film.`)
    const msOf = (kind: string, id: string) => latencyOf(kind, id) * msPerSecond
    const limits = poolLimits(ws)
    const events: Array<BuildEvent> = []
    const result = yield* Scheduler.build(
      { nodes: Targets.plan(ws, sentences), rules: sleepingRules(msOf, durations) },
      { targets: ["final"], pools: limits, retries: 0, complete: true, estimateMs: Pools.typicalMs, ...options }
    ).pipe(Effect.provide(Layer.mergeAll(Store.layer(ws.storeDir), BuildEvents.layerFanout((e) => events.push({ ...e, at: Date.now() } as unknown as BuildEvent)))))
    if (result.failed.length > 0) throw new Error(`synthetic film failed: ${JSON.stringify(result.failed)}`)
    fs.rmSync(dir, { recursive: true, force: true })
    const jobs = jobsOf(result, (spec) => ({ ms: msOf(spec.kind, spec.id), pool: providerPool(spec.kind) ?? Targets.rules[spec.kind]!.pool(spec) }))
    return {
      result,
      events,
      jobs,
      limits,
      nodes: result.nodes.size,
      shots: [...result.nodes.keys()].filter((id) => id.endsWith(":video")).length
    } satisfies FilmRun
  }) as unknown as Effect.Effect<FilmRun, Scheduler.CycleError>

/**
 * The graph as the engine saw it, as jobs for `Bound.ts`: data dependencies, `after` nodes, and for a node an
 * expansion created, what that expansion waited for (it could not be known, let alone started, earlier).
 */
export const jobsOf = (
  result: Scheduler.BuildResult,
  cost: (spec: NodeSpec) => { readonly ms: number; readonly pool: string }
): ReadonlyArray<Job> => {
  const discoveredBy = new Map<string, string>()
  for (const [parent, created] of Object.entries(result.state.expansions)) for (const c of created) discoveredBy.set(c.id, parent)
  const prerequisites = (spec: NodeSpec) => [...spec.deps.map((d) => d.id), ...(spec.after ?? [])]
  return [...result.nodes.values()].map((spec) => {
    const parent = discoveredBy.get(spec.id)
    const parentSpec = parent === undefined ? undefined : result.nodes.get(parent)
    const deps = new Set([...result.edges(spec.id), ...(spec.after ?? []), ...(parentSpec ? prerequisites(parentSpec) : [])])
    return { id: spec.id, deps: [...deps], ...cost(spec) }
  })
}

/** Narration lengths in seconds for a film of `n` sentences: a fixed, varied pattern (1 to 4 shots each). */
export const durations = (n: number): ReadonlyArray<number> => {
  const pattern = [5.1, 6.3, 3.9, 4.4, 8.2, 2.6, 1.7, 7.0]
  return Array.from({ length: n }, (_, i) => pattern[i % pattern.length]!)
}
