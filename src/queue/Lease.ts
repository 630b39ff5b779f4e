/**
 * A lease per paid node's fingerprint, in Redis, so that two workers never pay for the same node, also when
 * two projects share a sentence (same fingerprint, two stores): `SET key token NX PX lease`; renewed while
 * held; let go by its owner only (a compare-and-delete script). A worker killed with -9 cannot let go: its
 * lease runs out after `leaseMs`, and the next holder finds what it left in the shared cache (its in-flight
 * entry: the request it started, collected instead of paid again).
 *
 * The scheduler takes the lease before the node pays and looks again for the node's in-flight entry and its
 * record once it holds it (Run.ts), and lets go only once the store has sent what it wrote (`settled`).
 */
import { randomBytes } from "node:crypto"
import type { Redis as IORedis } from "ioredis"
import { Effect, Schedule, type Scope } from "effect"
import type { NodeSpec } from "../engine/Node.ts"
import { keys } from "./Redis.ts"

const renewScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`
const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`

export interface Options {
  /** How long a lease lasts without renewal (a killed worker's runs out after this). */
  readonly leaseMs: number
  /** How often a waiting worker asks again. */
  readonly pollMs?: number | undefined
  /** Told once per node that has to wait for another worker's lease. */
  readonly onWait?: ((node: NodeSpec) => void) | undefined
  /** Told when a held lease was lost (this process stalled longer than the lease): another may pay. */
  readonly onLost?: ((node: NodeSpec) => void) | undefined
}

/** What `Scheduler.BuildOptions.claim` takes: the lease on the node's fingerprint, held for the scope. */
export const claimer =
  (redis: IORedis, options: Options) =>
  (node: NodeSpec, fingerprint: string): Effect.Effect<void, never, Scope.Scope> => {
    const key = keys.lease(fingerprint)
    const token = `${process.pid}.${randomBytes(6).toString("hex")}`
    const pollMs = options.pollMs ?? 250
    // A Redis that fails for a moment is asked again: paying without the lease is what must not happen.
    const tryOnce = Effect.promise(() => redis.set(key, token, "PX", options.leaseMs, "NX").then((r) => r === "OK", () => false))
    let told = false
    const acquire = Effect.repeat(
      Effect.tap(tryOnce, (got) => Effect.sync(() => {
        if (!got && !told) {
          told = true
          options.onWait?.(node)
        }
      })),
      { until: (got) => got, schedule: Schedule.spaced(pollMs) }
    )
    const renew = Effect.promise(() => redis.eval(renewScript, 1, key, token, String(options.leaseMs)).then((r) => r === 1, () => true)).pipe(
      Effect.flatMap((held) => (held ? Effect.void : Effect.sync(() => options.onLost?.(node)))),
      Effect.repeat(Schedule.spaced(Math.max(100, Math.floor(options.leaseMs / 3)))),
      Effect.delay(Math.max(100, Math.floor(options.leaseMs / 3)))
    )
    const release = Effect.promise(() => redis.eval(releaseScript, 1, key, token).then(() => undefined, () => undefined))
    return Effect.acquireRelease(acquire, () => release).pipe(Effect.zipRight(Effect.forkScoped(Effect.interruptible(renew))), Effect.asVoid)
  }
