import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as Pool from "../../src/engine/Pool.ts"

describe("Pool", () => {
  it.effect("runs at most `limit` at once, and waiters get their turn in arrival order", () =>
    Effect.gen(function* () {
      const pool = Pool.make(2)
      const gate = yield* Deferred.make<void>()
      const order: Array<number> = []
      let running = 0
      let peak = 0
      const job = (i: number) =>
        pool.withPermit(
          Effect.gen(function* () {
            order.push(i)
            running++
            peak = Math.max(peak, running)
            yield* Deferred.await(gate)
            running--
          })
        )
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], (i) => Effect.fork(job(i)))
      yield* Effect.yieldNow()
      expect(order).toEqual([1, 2])
      expect(pool.inUse()).toBe(2)
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(fibers, Fiber.join)
      expect(order).toEqual([1, 2, 3, 4, 5])
      expect(peak).toBe(2)
      expect(pool.inUse()).toBe(0)
    }))

  it.effect("a waiter that is interrupted leaves the line; a holder that fails or is interrupted gives its permit back", () =>
    Effect.gen(function* () {
      const pool = Pool.make(1)
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(pool.withPermit(Deferred.await(gate)))
      yield* Effect.yieldNow()
      const waiter = yield* Effect.fork(pool.withPermit(Effect.succeed("never")))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiter)
      yield* Fiber.interrupt(holder)
      expect(pool.inUse()).toBe(0)
      const failed = yield* Effect.exit(pool.withPermit(Effect.fail("boom")))
      expect(failed._tag).toBe("Failure")
      expect(pool.inUse()).toBe(0)
      expect(yield* pool.withPermit(Effect.succeed(42))).toBe(42)
    }))

  it.effect("thousands of waiters on one permit all finish (each release wakes one waiter, not all)", () =>
    Effect.gen(function* () {
      const pool = Pool.make(1)
      let done = 0
      yield* Effect.forEach(Array.from({ length: 5000 }, (_, i) => i), () => pool.withPermit(Effect.sync(() => done++)), {
        concurrency: "unbounded",
        discard: true
      })
      expect(done).toBe(5000)
      expect(pool.inUse()).toBe(0)
    }))
})
