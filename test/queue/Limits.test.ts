/**
 * The two things in Redis that keep workers from paying twice or too much at once, against Debian's
 * redis-server: the lease per fingerprint (one holder; the next one waits; a holder that dies without
 * letting go loses it when it runs out) and a provider's limit shared by several workers' pools (never more
 * than the limit at once, whatever each pool's own line; a permit comes back when its holder is interrupted).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import type { Redis as IORedis } from "ioredis"
import * as Lease from "../../src/queue/Lease.ts"
import * as Limiter from "../../src/queue/Limiter.ts"
import { connect, keys, parseUrl, type QueueSettings } from "../../src/queue/Redis.ts"
import { leaf } from "../engine/toy.ts"
import { redisServerPath, startRedis, type RedisServer } from "./redis.ts"

let redis: RedisServer
let settings: QueueSettings
const clients: Array<{ client: IORedis; scope: Scope.CloseableScope }> = []
const client = async () => {
  const scope = Effect.runSync(Scope.make())
  const c = await Effect.runPromise(Scope.extend(connect(settings), scope))
  clients.push({ client: c, scope })
  return c
}

beforeAll(async () => {
  if (redisServerPath === undefined) return
  redis = await startRedis()
  settings = parseUrl(redis.url) as QueueSettings
})
afterAll(async () => {
  for (const c of clients) await Effect.runPromise(Scope.close(c.scope, Exit.void))
  await redis?.stop()
})

const node = leaf("shot:1:image", 1)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.skipIf(redisServerPath === undefined)("leases and shared limits in Redis", () => {
  it("a queue URL that is not redis:// is refused in one line that says what to give", () => {
    expect(parseUrl("http://127.0.0.1:6379")).toBe("http:// is not a Redis URL: give redis://HOST:PORT (or rediss:// for TLS)")
    expect(parseUrl("not a url")).toMatch(/^"not a url" is not a URL: give redis:\/\/HOST:PORT/)
    expect(parseUrl("redis://:hunter2secret@127.0.0.1:6379")).toMatchObject({ shown: "redis://:***@127.0.0.1:6379" })
  })

  it("a lease has one holder; the next waits for it; one whose holder died runs out and is taken", async () => {
    const [a, b] = await Promise.all([client(), client()])
    const waited: Array<string> = []
    const claimA = Lease.claimer(a, { leaseMs: 600, pollMs: 25 })
    const claimB = Lease.claimer(b, { leaseMs: 600, pollMs: 25, onWait: (n) => waited.push(n.id) })
    const fp = "a".repeat(64)

    // A holds it for 1.5 s (longer than the lease: renewals keep it); B waits all that time.
    const order: Array<string> = []
    const holdA = Effect.scoped(Effect.zipRight(claimA(node, fp), Effect.sync(() => order.push("A in")).pipe(Effect.zipRight(Effect.sleep(1500)), Effect.zipRight(Effect.sync(() => order.push("A out"))))))
    const holdB = Effect.scoped(Effect.zipRight(claimB(node, fp), Effect.sync(() => order.push("B in"))))
    const fa = Effect.runFork(holdA)
    await sleep(100)
    await Effect.runPromise(holdB)
    await Effect.runPromise(Fiber.join(fa))
    expect(order).toEqual(["A in", "A out", "B in"])
    expect(waited).toEqual(["shot:1:image"])

    // A holder killed with -9 never lets go: its lease (a key that is not renewed) runs out by itself.
    await a.set(keys.lease(fp), "dead-worker-token", "PX", 600)
    const started = Date.now()
    await Effect.runPromise(Effect.scoped(claimB(node, fp)))
    expect(Date.now() - started).toBeGreaterThanOrEqual(400)
    expect(await a.get(keys.lease(fp))).toBeNull()
  })

  it("three workers' pools of limit 2 never hold more than 2 permits between them; an interrupted holder's comes back", async () => {
    const cs = await Promise.all([client(), client(), client()])
    const pools = cs.map((c) => Limiter.make(c, "fal-test", 2, { leaseMs: 2000, pollMs: 10 }))
    let open = 0
    let peak = 0
    const work = Effect.acquireUseRelease(
      Effect.sync(() => {
        open++
        peak = Math.max(peak, open)
      }),
      () => Effect.sleep(30),
      () => Effect.sync(() => open--)
    )
    // 3 workers × 6 requests each, every pool letting 2 of its own through.
    await Effect.runPromise(
      Effect.all(
        pools.flatMap((p) => Array.from({ length: 6 }, () => p.withPermit(work))),
        { concurrency: "unbounded" }
      )
    )
    expect(peak).toBe(2)
    expect(await Effect.runPromise(Limiter.held(cs[0]!, "fal-test"))).toBe(0)

    // Interrupted while it holds a permit (Ctrl-C on that worker): the permit is given back at once.
    const holding = Effect.runFork(pools[0]!.withPermit(Effect.never))
    await sleep(200)
    expect(await Effect.runPromise(Limiter.held(cs[1]!, "fal-test"))).toBe(1)
    await Effect.runPromise(Fiber.interrupt(holding))
    expect(await Effect.runPromise(Limiter.held(cs[1]!, "fal-test"))).toBe(0)

    // A holder killed with -9 stops renewing: its permit expires (Redis's clock) and the slot is free again.
    await cs[0]!.zadd(keys.limit("fal-test"), Date.now() + 300, "dead-a", Date.now() + 300, "dead-b")
    const started = Date.now()
    await Effect.runPromise(pools[1]!.withPermit(Effect.void))
    expect(Date.now() - started).toBeGreaterThanOrEqual(200)
  })
})
