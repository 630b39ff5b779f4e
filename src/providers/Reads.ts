/**
 * Calls that cost nothing to repeat (a status poll, fetching a finished result, an upload, a download) are
 * retried here, in the adapter, generously: growing jittered delays that honour `Retry-After`, until the call
 * succeeds, fails for good, or a time budget runs out. They never go through the scheduler's retry, which is
 * kept for paid requests the provider refused before accepting (`Retryable.ts`).
 */
import { Clock, Duration, Effect, Random } from "effect"

export interface ReadPolicy {
  /** First delay (doubles each try, with jitter). */
  readonly firstDelayMs: number
  /** Longest delay between two tries. */
  readonly maxDelayMs: number
  /** Give up once this much time has passed since the first try (a `Retry-After` past it ends the wait too). */
  readonly budgetMs: number
}

export const defaultPolicy: ReadPolicy = { firstDelayMs: 250, maxDelayMs: 10_000, budgetMs: 120_000 }

/** Optional calls (the model list) wait a few seconds at most, then the caller warns and goes on: a quick
 *  refusal is tried again within 2 s, a silent host (its answer time-out is 3 s) is not. */
export const optionalPolicy: ReadPolicy = { firstDelayMs: 250, maxDelayMs: 1_000, budgetMs: 2_000 }

export interface Retried<E> {
  readonly retryAfterMs?: number | undefined
  /** The same failure, saying how many times the call was made. */
  readonly tried: (tries: number) => E
}

export const retrying = <A, E extends Retried<E>, R>(
  call: Effect.Effect<A, E, R>,
  policy: ReadPolicy,
  worthRetrying: (error: E) => boolean
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    let delay = policy.firstDelayMs
    for (let tries = 1;; tries++) {
      const result = yield* Effect.either(call)
      if (result._tag === "Right") return result.right
      const error = result.left
      const now = yield* Clock.currentTimeMillis
      const jitter = yield* Random.nextRange(0.8, 1.2)
      const wait = Math.max(Math.round(delay * jitter), error.retryAfterMs ?? 0)
      if (!worthRetrying(error) || now + wait - start > policy.budgetMs) return yield* Effect.fail(error.tried(tries))
      yield* Effect.sleep(Duration.millis(wait))
      delay = Math.min(policy.maxDelayMs, delay * 2)
    }
  })
