/**
 * The retry room (contract 1) and re-payments (contract 2) on toy rules: a build's `retryable` predicate
 * decides, Retry-After is waited for (TestClock), the legacy `transient` flag decides without a predicate,
 * a paid node that timed out is tried again only when its rule kept a handle to re-attach to, and every
 * request that knowingly paid again is listed in the result.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Schema, TestClock } from "effect"
import { BuildEvents, type BuildEvent } from "../../src/engine/Events.ts"
import type { NodeSpec, Rule, RunContext } from "../../src/engine/Node.ts"
import type { Retryable } from "../../src/engine/Retry.ts"
import * as Scheduler from "../../src/engine/Scheduler.ts"
import { Store } from "../../src/engine/Store.ts"

/** A provider's error as the providers' unions shape them: a tag and a reason, no `transient` flag. */
class Refused extends Schema.TaggedError<Refused>()("Refused", {
  reason: Schema.Literal("RateLimited", "Billed"),
  retryAfterMs: Schema.optional(Schema.Number),
  message: Schema.String
}) {}

/** What the providers engineer passes: retry only what was refused before acceptance. */
const payOnce: Retryable = (e) =>
  e instanceof Refused && e.reason === "RateLimited" ? { retry: true, afterMs: e.retryAfterMs } : { retry: false }

const node = (id: string, recipe: Record<string, string | number | boolean> = {}): NodeSpec => ({
  id,
  kind: "paid",
  stage: "paid",
  version: 1,
  recipe,
  deps: []
})

interface Script {
  /** Errors the next attempts fail with, in order; then the attempt succeeds. */
  readonly failures: Array<unknown>
  readonly attempts: Array<number>
  /** An attempt that never answers (the time-out fires), keeping a handle first when `keep` is set. */
  hang?: { readonly times: number; readonly keep: boolean }
  readonly sawHandle: Array<unknown>
}

const script = (failures: Array<unknown> = []): Script => ({ failures, attempts: [], sawHandle: [] })

const rule = (s: Script, paid = true): Rule<unknown> => ({
  kind: "paid",
  pool: () => "provider",
  paid: () => paid,
  timeoutMs: 10_000,
  run: (ctx: RunContext) =>
    Effect.gen(function* () {
      s.attempts.push(ctx.attempt)
      s.sawHandle.push(yield* ctx.inflight.get)
      if (s.hang && s.hang.times > 0) {
        s.hang = { ...s.hang, times: s.hang.times - 1 }
        if (s.hang.keep) yield* ctx.inflight.set({ requestId: "req-1" })
        return yield* Effect.never
      }
      yield* ctx.request({
        provider: "toy",
        model: "m",
        startedAt: 0,
        endedAt: 1,
        cost: { usd: 0.25, source: "table" },
        ...(ctx.node.recipe.repaid ? { repaid: String(ctx.node.recipe.repaid) } : {})
      })
      const next = s.failures.shift()
      if (next !== undefined) return yield* Effect.fail(next)
      return { value: { value: ctx.attempt } }
    })
})

const build = (rules: Record<string, Rule<unknown>>, nodes: ReadonlyArray<NodeSpec>, options: Partial<Scheduler.BuildOptions> = {}) => {
  const events: Array<BuildEvent> = []
  return Scheduler.build({ nodes, rules }, { targets: nodes.map((n) => n.id), retryBaseMs: 1, keepGoing: true, ...options }).pipe(
    Effect.map((result) => ({ result, events })),
    Effect.provide(Layer.mergeAll(Store.layerMemory(), BuildEvents.layerFanout((e) => events.push(e))))
  )
}

describe("retry decisions", () => {
  it.live("BuildOptions.retryable decides: a refusal before acceptance is retried, a billed failure is not", () =>
    Effect.gen(function* () {
      const refused = script([new Refused({ reason: "RateLimited", message: "429" })])
      const billed = script([new Refused({ reason: "Billed", message: "the answer was cut off (paid)" })])
      const r = yield* build({ paid: rule(refused) }, [node("a")], { retryable: payOnce })
      expect(r.result.built).toEqual(["a"])
      expect(refused.attempts).toEqual([1, 2])
      const b = yield* build({ paid: rule(billed) }, [node("b")], { retryable: payOnce })
      expect(billed.attempts).toEqual([1])
      expect(b.result.failed.map((f) => f.error)).toEqual(["the answer was cut off (paid)"])
      expect(b.result.failed[0]!.cause).toBeInstanceOf(Refused)
    }))

  it.live("the predicate wins over an error's own `transient` flag", () =>
    Effect.gen(function* () {
      const flagged = script([Object.assign(new Refused({ reason: "Billed", message: "paid, flagged transient by hand" }), { transient: true })])
      yield* build({ paid: rule(flagged) }, [node("a")], { retryable: payOnce })
      expect(flagged.attempts).toEqual([1])
      // Without a predicate the legacy flag decides, as before.
      const legacy = script([Object.assign(new Refused({ reason: "Billed", message: "flagged" }), { transient: true })])
      yield* build({ paid: rule(legacy) }, [node("a")])
      expect(legacy.attempts).toEqual([1, 2])
    }))

  it.effect("a verdict's Retry-After is waited for before the next attempt (TestClock)", () =>
    Effect.gen(function* () {
      const s = script([new Refused({ reason: "RateLimited", retryAfterMs: 30_000, message: "429, retry after 30 s" })])
      const fiber = yield* Effect.fork(build({ paid: rule(s) }, [node("a")], { retryable: payOnce }))
      yield* TestClock.adjust("29 seconds")
      expect(s.attempts).toEqual([1])
      yield* TestClock.adjust("2 seconds")
      const r = yield* Fiber.join(fiber)
      expect(s.attempts).toEqual([1, 2])
      const retrying = r.events.find((e) => e._tag === "Retrying")
      expect(retrying && retrying._tag === "Retrying" && retrying.delayMs).toBeGreaterThanOrEqual(30_000)
    }))

  it.live("retries stop at `retries`", () =>
    Effect.gen(function* () {
      const busy = () => new Refused({ reason: "RateLimited", message: "429" })
      const s = script([busy(), busy(), busy(), busy()])
      const r = yield* build({ paid: rule(s) }, [node("a")], { retryable: payOnce, retries: 2 })
      expect(s.attempts).toEqual([1, 2, 3])
      expect(r.result.failed.map((f) => f.id)).toEqual(["a"])
    }))
})

describe("a node that times out", () => {
  it.effect("a free node is tried again", () =>
    Effect.gen(function* () {
      const s = script()
      s.hang = { times: 1, keep: false }
      const fiber = yield* Effect.fork(build({ paid: rule(s, false) }, [node("free")], { retryable: payOnce }))
      yield* TestClock.adjust("11 seconds")
      const r = yield* Fiber.join(fiber)
      expect(s.attempts).toEqual([1, 2])
      expect(r.result.built).toEqual(["free"])
    }))

  it.effect("a paid node without a kept handle is not sent again (it may have been billed), and says so", () =>
    Effect.gen(function* () {
      const s = script()
      s.hang = { times: 1, keep: false }
      const fiber = yield* Effect.fork(build({ paid: rule(s) }, [node("clip")], { retryable: payOnce }))
      yield* TestClock.adjust("11 seconds")
      const r = yield* Fiber.join(fiber)
      expect(s.attempts).toEqual([1])
      const failure = r.result.failed[0]!
      expect(failure.cause).toBeInstanceOf(Scheduler.NodeTimeout)
      expect(failure.error).toBe(
        "clip took longer than 10 s and was stopped; its request may have been billed, so it is not sent again automatically (build clip again to pay for it again)"
      )
    }))

  it.effect("a paid node whose rule kept a handle is tried again, and the new attempt re-attaches to it", () =>
    Effect.gen(function* () {
      const s = script()
      s.hang = { times: 1, keep: true }
      const fiber = yield* Effect.fork(build({ paid: rule(s) }, [node("clip")], { retryable: payOnce }))
      yield* TestClock.adjust("11 seconds")
      const r = yield* Fiber.join(fiber)
      expect(s.attempts).toEqual([1, 2])
      expect(s.sawHandle).toEqual([undefined, { requestId: "req-1" }])
      expect(r.result.built).toEqual(["clip"])
    }))
})

describe("re-payments", () => {
  it.effect("every request that knowingly paid again is in the result, with its cost and why", () =>
    Effect.gen(function* () {
      const r = yield* build({ paid: rule(script()) }, [node("once"), node("twice", { repaid: "the first answer arrived damaged" })])
      expect(r.result.repaid).toEqual([{ id: "twice", usd: 0.25, why: "the first answer arrived damaged" }])
      const none = yield* build({ paid: rule(script()) }, [node("once")])
      expect(none.result.repaid).toEqual([])
    }))
})
