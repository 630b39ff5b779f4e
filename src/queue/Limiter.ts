/**
 * Providers' concurrency limits held across every worker: at most `limit` requests of one provider at once,
 * whichever worker sends them. BullMQ's own limits count jobs (whole builds), not the requests inside them,
 * and its per-group limits are in the paid edition only; so this is a semaphore in Redis, with leases:
 *
 *   a sorted set `storyshot:limit:<pool>` of permit → expiry (Redis's own clock, `TIME`, so workers' clocks
 *   do not matter). Taking one is one script: drop the expired, and add ours if fewer than `limit` remain.
 *   A held permit is renewed; a worker killed with -9 stops renewing and its permit expires by itself.
 *
 * Each shared pool is a local pool of the same size in front of the Redis permit: this worker's nodes wait in
 * its own line (by priority, as any pool) and at most `limit` of them ask Redis.
 *
 * Machine pools (ffmpeg, espeak, local, transfer) are this computer's cores and links: they stay local.
 */
import { randomBytes } from "node:crypto"
import type { Redis as IORedis } from "ioredis"
import { Effect, Fiber, Schedule } from "effect"
import * as Pool from "../engine/Pool.ts"
import { keys } from "./Redis.ts"

/** Pools that are this machine's resources, not a provider's limit. */
export const machinePools: ReadonlySet<string> = new Set(["ffmpeg", "espeak", "local", "transfer"])

const nowMs = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`
const takeScript = `${nowMs}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return 1
end
return 0`
const renewScript = `${nowMs}
local r = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return r`

export interface Options {
  /** How long a permit lasts without renewal. */
  readonly leaseMs: number
  /** How often a waiting request asks again. */
  readonly pollMs?: number | undefined
}

/** One provider's limit across workers, as a pool the scheduler uses like any other. */
export const make = (redis: IORedis, name: string, limit: number, options: Options): Pool.Pool => {
  const local = Pool.make(limit)
  const key = keys.limit(name)
  const pollMs = options.pollMs ?? 50
  const take = (token: string) =>
    Effect.promise(() => redis.eval(takeScript, 1, key, token, String(limit), String(options.leaseMs)).then((r) => r === 1, () => false))
  const acquire = (token: string) => Effect.repeat(take(token), { until: (got) => got, schedule: Schedule.spaced(pollMs) })
  const renew = (token: string) =>
    Effect.promise(() => redis.eval(renewScript, 1, key, token, String(options.leaseMs)).then(() => undefined, () => undefined)).pipe(
      Effect.delay(Math.max(50, Math.floor(options.leaseMs / 3))),
      Effect.forever
    )
  const release = (token: string) => Effect.promise(() => redis.zrem(key, token).then(() => undefined, () => undefined))
  const global = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) => {
      const token = `${process.pid}.${randomBytes(6).toString("hex")}`
      return restore(acquire(token)).pipe(
        Effect.onInterrupt(() => release(token)),
        // Forked interruptible: a fiber forked in an uninterruptible region would be one, and never stop.
        Effect.zipRight(Effect.fork(Effect.interruptible(renew(token)))),
        Effect.flatMap((renewing) => restore(self).pipe(Effect.ensuring(Effect.zipRight(Fiber.interrupt(renewing), release(token)))))
      )
    })
  return {
    ...local,
    limit: local.limit,
    withPermit: (self, priority) => local.withPermit(global(self), priority),
    inUse: local.inUse
  }
}

/**
 * The pools a worker's build uses: provider pools shared across workers (made on first use, with the limit
 * the worker was given or the project's config), machine pools left to the scheduler (it makes them itself).
 */
export class SharedPools extends Map<string, Pool.Pool> {
  readonly makePool: (name: string) => Pool.Pool | undefined
  constructor(makePool: (name: string) => Pool.Pool | undefined) {
    super()
    this.makePool = makePool
  }
  override get(name: string): Pool.Pool | undefined {
    const known = super.get(name)
    if (known !== undefined) return known
    const made = this.makePool(name)
    if (made !== undefined) super.set(name, made)
    return made
  }
}

/** How many of this provider's permits are held now, by every worker (for /metrics and the tests). */
export const held = (redis: IORedis, name: string) =>
  Effect.promise(() =>
    redis.eval(`${nowMs} redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) return redis.call('ZCARD', KEYS[1])`, 1, keys.limit(name)).then(
      (n) => Number(n),
      () => 0
    )
  )
