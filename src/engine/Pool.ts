/**
 * A named concurrency pool: at most `limit` nodes run in it at once; the others wait in line, first come
 * first served.
 *
 * Why not Effect's Semaphore: in effect 3.x a release wakes *every* waiter (each re-checks and all but one
 * go back to sleep), so n nodes waiting on a pool cost O(n²) wake-ups. A build of 10,000 nodes on one pool
 * ran out of memory that way. Here a release hands its permit straight to the next waiter.
 */
import { Effect } from "effect"

export interface Pool {
  readonly limit: number
  /** Runs `self` holding one permit; the permit is returned however `self` ends (also on interruption). */
  readonly withPermit: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** How many permits are in use now. */
  readonly inUse: () => number
}

export const make = (limit: number): Pool => {
  let free = Math.max(1, Math.floor(limit))
  // Waiters in arrival order (a Set keeps insertion order and deletes in O(1) when a waiter gives up).
  const waiters = new Set<() => void>()

  const release = () => {
    const next = waiters.values().next()
    if (next.done) free++
    else {
      waiters.delete(next.value)
      next.value()
    }
  }

  const acquire = Effect.async<void>((resume) => {
    if (free > 0) {
      free--
      resume(Effect.void)
      return
    }
    let granted = false
    const waiter = () => {
      granted = true
      resume(Effect.void)
    }
    waiters.add(waiter)
    // Interrupted while waiting: leave the line, or pass on a permit that was handed over but not used.
    return Effect.sync(() => (granted ? release() : void waiters.delete(waiter)))
  })

  return {
    limit: free,
    withPermit: (self) =>
      Effect.uninterruptibleMask((restore) =>
        restore(acquire).pipe(Effect.zipRight(restore(self).pipe(Effect.ensuring(Effect.sync(release)))))
      ),
    inUse: () => Math.max(1, Math.floor(limit)) - free
  }
}
