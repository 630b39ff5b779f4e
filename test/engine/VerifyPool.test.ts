/**
 * Pools around a rule (contract 4): `verify` in the rule's `verifyPool` after its own slot is given back,
 * a part of the work in another pool (`ctx.withPool`), and the ready order within a pool (`priority`).
 * Toy rules that sleep, watched by counters: the figures are peaks and overlaps, never times.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BuildEvents } from "../../src/engine/Events.ts"
import type { NodeSpec, Rule } from "../../src/engine/Node.ts"
import * as Scheduler from "../../src/engine/Scheduler.ts"
import { Store } from "../../src/engine/Store.ts"

const node = (id: string, recipe: Record<string, number> = {}): NodeSpec => ({ id, kind: "clip", stage: "clip", version: 1, recipe, deps: [] })

interface Watch {
  readonly now: Map<string, number>
  readonly peak: Map<string, number>
  /** For each verification, how many provider runs were going on while it ran (at its start or later). */
  readonly providerBusyDuringVerify: Array<number>
  readonly order: Array<string>
}

const watch = (): Watch => ({ now: new Map(), peak: new Map(), providerBusyDuringVerify: [], order: [] })

const inside = <A, E, R>(w: Watch, what: string, body: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const n = (w.now.get(what) ?? 0) + 1
      w.now.set(what, n)
      w.peak.set(what, Math.max(w.peak.get(what) ?? 0, n))
    }),
    () => body,
    () => Effect.sync(() => w.now.set(what, w.now.get(what)! - 1))
  )

const build = (rule: Rule<unknown>, nodes: ReadonlyArray<NodeSpec>, options: Partial<Scheduler.BuildOptions> = {}) =>
  Scheduler.build({ nodes, rules: { clip: rule } }, { targets: nodes.map((n) => n.id), ...options }).pipe(
    Effect.provide(Layer.mergeAll(Store.layerMemory(), BuildEvents.layerNoop))
  )

describe("verify in its own pool", () => {
  const clipRule = (w: Watch, verifyPool: boolean): Rule<unknown> => ({
    kind: "clip",
    pool: () => "provider",
    paid: () => true,
    run: (ctx) => inside(w, "provider", Effect.sleep(20).pipe(Effect.as({ clip: { value: ctx.node.id } }))),
    verify: () =>
      inside(
        w,
        "verify",
        Effect.gen(function* () {
          let seen = w.now.get("provider") ?? 0
          for (let i = 0; i < 6; i++) {
            yield* Effect.sleep(10)
            seen = Math.max(seen, w.now.get("provider") ?? 0)
          }
          w.providerBusyDuringVerify.push(seen)
        })
      ),
    ...(verifyPool ? { verifyPool: () => "ffmpeg" } : {})
  })

  it.live("the verify pool's limit holds for verification, and the provider slot is free while it runs", () =>
    Effect.gen(function* () {
      const w = watch()
      const nodes = Array.from({ length: 8 }, (_, i) => node(`clip:${i + 1}`, { n: i + 1 }))
      const r = yield* build(clipRule(w, true), nodes, { pools: { provider: 1, ffmpeg: 2 } })
      expect(r.built).toHaveLength(8)
      expect(w.peak.get("verify")).toBe(2)
      expect(w.peak.get("provider")).toBe(1)
      // With one provider slot, another clip was being made while some clip was checked: the slot was free.
      expect(Math.max(...w.providerBusyDuringVerify)).toBe(1)
    }))

  it.live("without a verify pool, verification holds the rule's own slot (as before)", () =>
    Effect.gen(function* () {
      const w = watch()
      const nodes = Array.from({ length: 4 }, (_, i) => node(`clip:${i + 1}`, { n: i + 1 }))
      yield* build(clipRule(w, false), nodes, { pools: { provider: 1, ffmpeg: 2 } })
      // The one provider slot is this clip's own while it is checked: no other clip is being made.
      expect(w.providerBusyDuringVerify.every((n) => n === 0)).toBe(true)
      expect(w.peak.get("verify")).toBe(1)
    }))

  it.live("a failed check fails the node with the check's own error, once (no retry)", () =>
    Effect.gen(function* () {
      let checks = 0
      const rule: Rule<unknown> = {
        kind: "clip",
        pool: () => "provider",
        paid: () => true,
        run: () => Effect.succeed({ clip: { value: 1 } }),
        verify: () => Effect.suspend(() => (checks++, Effect.fail(new Error("ffprobe: the clip has no video stream")))),
        verifyPool: () => "ffmpeg"
      }
      const r = yield* build(rule, [node("clip:1")], { retryBaseMs: 1 })
      expect(checks).toBe(1)
      expect(r.failed.map((f) => f.error)).toEqual(["ffprobe: the clip has no video stream"])
    }))
})

describe("a part of a rule in another pool", () => {
  it.live("ctx.withPool keeps that pool's limit across nodes", () =>
    Effect.gen(function* () {
      const w = watch()
      const rule: Rule<unknown> = {
        kind: "clip",
        pool: () => "provider",
        paid: () => true,
        run: (ctx) =>
          Effect.gen(function* () {
            yield* ctx.withPool("upload", inside(w, "upload", Effect.sleep(15)))
            return { clip: { value: ctx.node.id } }
          })
      }
      const nodes = Array.from({ length: 6 }, (_, i) => node(`clip:${i + 1}`, { n: i + 1 }))
      const r = yield* build(rule, nodes, { pools: { provider: 4, upload: 1 } })
      expect(r.built).toHaveLength(6)
      expect(w.peak.get("upload")).toBe(1)
    }))
})

describe("ready order within a pool", () => {
  it.live("waiting nodes get the slot by priority, highest first; equal priorities in arrival order", () =>
    Effect.gen(function* () {
      const w = watch()
      const rule: Rule<unknown> = {
        kind: "clip",
        pool: () => "one",
        paid: () => false,
        run: (ctx) => Effect.sync(() => w.order.push(ctx.node.id)).pipe(Effect.zipRight(Effect.sleep(5)), Effect.as({ v: { value: 1 } }))
      }
      const nodes = [node("first", { p: 0 }), node("low", { p: 1 }), node("high", { p: 9 }), node("mid", { p: 5 }), node("mid-later", { p: 5 })]
      yield* build(rule, nodes, { pools: { one: 1 }, priority: (n) => Number(n.recipe.p) })
      // "first" took the free slot at once; the others waited and were served by priority.
      expect(w.order).toEqual(["first", "high", "mid", "mid-later", "low"])
      // Without a priority: arrival order.
      const plain = watch()
      const plainRule = { ...rule, run: (ctx: Parameters<Rule["run"]>[0]) => Effect.sync(() => plain.order.push(ctx.node.id)).pipe(Effect.zipRight(Effect.sleep(5)), Effect.as({ v: { value: 1 } })) }
      yield* build(plainRule, nodes, { pools: { one: 1 } })
      expect(plain.order).toEqual(["first", "low", "high", "mid", "mid-later"])
    }))
})
