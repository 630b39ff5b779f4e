/**
 * The order nodes get their slots in (scheduler/Priority.ts), on the film's own graph (`Targets.plan`, the
 * draft profile's pools) with every rule replaced by a stand-in that only takes (virtual) time: the order is
 * decided by the TestClock, so nothing here depends on how fast the machine is.
 */
import * as path from "node:path"
import * as os from "node:os"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, TestClock } from "effect"
import * as Config from "../../src/Config.ts"
import { BuildEvents, type BuildEvent } from "../../src/engine/Events.ts"
import type { Produced, Rule } from "../../src/engine/Node.ts"
import * as Scheduler from "../../src/engine/Scheduler.ts"
import { Store } from "../../src/engine/Store.ts"
import * as Pools from "../../src/Pools.ts"
import type { Workspace } from "../../src/Workspace.ts"
import * as Targets from "../../targets/index.ts"
import { kinds } from "../../targets/Settings.ts"

const workspace = (): Workspace => {
  const dir = path.join(os.tmpdir(), "storyshot-order")
  return {
    dir,
    configPath: undefined,
    config: Config.resolve({}),
    env: {},
    storeDir: path.join(dir, ".storyshot"),
    outDir: path.join(dir, "out"),
    transcriptPath: path.join(dir, "transcript.txt")
  }
}

/** Virtual milliseconds each kind of node works; shot counts and timing keep their real (instant) code. */
type Work = Readonly<Record<string, number>>

/** Narration is the slow stage: a sentence's ffmpeg work fits in the time of one narration. */
const narrationBound: Work = {
  [kinds.audio]: 100,
  [kinds.image]: 3,
  [kinds.video]: 5,
  [kinds.mux]: 4,
  [kinds.final]: 4,
  [kinds.storyboard]: 1,
  [kinds.subtitles]: 1
}

/** ffmpeg is the slow stage: narration runs far ahead, and the ffmpeg pool has a long line to order. */
const ffmpegBound: Work = { ...narrationBound, [kinds.audio]: 5, [kinds.image]: 20, [kinds.video]: 40, [kinds.mux]: 30 }

/** Stand-ins with the real rules' pools and output names; every narration lasts 4.5 s (2 shots). */
const standIns = (workMs: Work): Record<string, Rule<unknown, any>> => {
  const out: Record<string, Rule<unknown, any>> = {}
  for (const [kind, real] of Object.entries(Targets.rules)) {
    if (kind === kinds.shots || kind === kinds.timing || kind === kinds.plan) {
      out[kind] = real
      continue
    }
    const produce = (ctx: Parameters<Rule["run"]>[0]): Produced => {
      switch (kind) {
        case kinds.audio:
          return { audio: { value: ctx.node.id }, duration: { value: 4.5 } }
        case kinds.prompts: {
          const count = Number(ctx.value(ctx.node.deps[0]!.id, "count"))
          return Object.fromEntries(Array.from({ length: count }, (_, i) => [String(i + 1), { value: { prompt: `p${i}`, shotType: "wide", camera: "push-in" } }]))
        }
        case kinds.image:
          return { image: { value: ctx.node.id }, plate: { value: ctx.node.id }, lettering: { value: ctx.node.id } }
        case kinds.transcript:
          return { sentences: { value: ctx.node.recipe.sentences! } }
        case kinds.subtitles:
          return { srt: { value: "" }, vtt: { value: "" } }
        case kinds.storyboard:
          return { page: { value: "" } }
        default:
          return { video: { value: ctx.node.id } }
      }
    }
    out[kind] = {
      ...real,
      verify: undefined,
      verifyPool: undefined,
      run: (ctx) => Effect.sleep(workMs[kind] ?? 0).pipe(Effect.as(produce(ctx)))
    }
  }
  return out
}

/** Builds the film of `n` sentences, advancing the TestClock 5 ms at a time until it is done. */
const buildFilm = (n: number, pools: Record<string, number>, work: Work, options: Partial<Scheduler.BuildOptions> = {}) =>
  Effect.gen(function* () {
    const ws = workspace()
    const sentences = Array.from({ length: n }, (_, i) => `Sentence ${i + 1} walks to the lighthouse.`)
    const events: Array<BuildEvent> = []
    const fiber = yield* Effect.fork(
      Scheduler.build(
        { nodes: Targets.plan(ws, sentences), rules: standIns(work) },
        { targets: [...Targets.defaultTargets], pools, estimateMs: Pools.typicalMs, retries: 0, complete: true, ...options }
      ).pipe(Effect.provide(Layer.mergeAll(Store.layerMemory(), BuildEvents.layerFanout((e) => events.push(e)))))
    )
    for (let t = 0; t < 100_000; t++) {
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") break
      yield* TestClock.adjust("5 millis")
    }
    const result = yield* Fiber.join(fiber)
    return { result, events }
  })

const indexOf = (events: ReadonlyArray<BuildEvent>, tag: BuildEvent["_tag"], id: string) =>
  events.findIndex((e) => e._tag === tag && "id" in e && e.id === id)

describe("critical-path order on the film's graph", () => {
  it.effect("with one slot per pool, sentence 1's mux finishes before sentence 3's narration starts", () =>
    Effect.gen(function* () {
      const { result, events } = yield* buildFilm(6, { espeak: 1, local: 1, ffmpeg: 1 }, narrationBound)
      expect(result.failed).toEqual([])
      expect(result.built).toContain("final")
      const mux1 = indexOf(events, "Built", "sentence:1:mux")
      const audio3 = indexOf(events, "Started", "sentence:3:audio")
      expect(mux1).toBeGreaterThanOrEqual(0)
      expect(audio3).toBeGreaterThanOrEqual(0)
      expect(mux1).toBeLessThan(audio3)
      // And the sentences finish in the film's order.
      const muxes = events.flatMap((e) => (e._tag === "Built" && e.stage === "mux" ? [e.id] : []))
      expect(muxes).toEqual(Array.from({ length: 6 }, (_, i) => `sentence:${i + 1}:mux`))
    }))

  it.effect("the small free nodes (shot counts, timing, prompts) never wait behind narration", () =>
    Effect.gen(function* () {
      const { events } = yield* buildFilm(4, { espeak: 1, local: 1, ffmpeg: 1 }, narrationBound)
      // Sentence 1's shot count is known while sentence 2 is still being narrated.
      const shots1 = indexOf(events, "Built", "sentence:1:shots")
      const audio2Built = indexOf(events, "Built", "sentence:2:audio")
      expect(shots1).toBeGreaterThanOrEqual(0)
      expect(shots1).toBeLessThan(audio2Built)
    }))

  it.effect("when ffmpeg is the slow stage, its pool still finishes sentence after sentence (first come, first served does not)", () =>
    Effect.gen(function* () {
      const firstCardOf3 = (events: ReadonlyArray<BuildEvent>) =>
        events.findIndex((e) => e._tag === "Started" && e.stage === "image" && e.id === "shot:5:image")
      const ordered = yield* buildFilm(8, { espeak: 1, local: 1, ffmpeg: 1 }, ffmpegBound)
      expect(indexOf(ordered.events, "Built", "sentence:1:mux")).toBeLessThan(firstCardOf3(ordered.events))
      const muxes = ordered.events.flatMap((e) => (e._tag === "Built" && e.stage === "mux" ? [e.id] : []))
      expect(muxes).toEqual(Array.from({ length: 8 }, (_, i) => `sentence:${i + 1}:mux`))
      // The same build served in arrival order draws every card before the first mux.
      const fifo = yield* buildFilm(8, { espeak: 1, local: 1, ffmpeg: 1 }, ffmpegBound, { priority: () => 0 })
      expect(indexOf(fifo.events, "Built", "sentence:1:mux")).toBeGreaterThan(firstCardOf3(fifo.events))
    }))
})
