/**
 * A named concurrency pool: at most `limit` nodes run in it at once; the others wait in line, the highest
 * priority first and, within one priority, first come first served (every node has priority 0 unless the
 * build says otherwise: the place where a critical-path order plugs in).
 *
 * Why not Effect's Semaphore: in effect 3.x a release wakes *every* waiter (each re-checks and all but one
 * go back to sleep), so n nodes waiting on a pool cost O(n²) wake-ups. A build of 10,000 nodes on one pool
 * ran out of memory that way. Here a release hands its permit straight to the next waiter.
 */
import { Effect } from "effect"

export interface Pool {
  readonly limit: number
  /** Runs `self` holding one permit; the permit is returned however `self` ends (also on interruption). */
  readonly withPermit: <A, E, R>(self: Effect.Effect<A, E, R>, priority?: number) => Effect.Effect<A, E, R>
  /** How many permits are in use now. */
  readonly inUse: () => number
}

export const make = (limit: number): Pool => {
  let free = Math.max(1, Math.floor(limit))
  // One line per priority, each in arrival order (a Set keeps insertion order and deletes in O(1) when a
  // waiter gives up); `priorities` lists the lines, highest first. Usually there is one line.
  const lines = new Map<number, Set<() => void>>()
  const priorities: Array<number> = []

  const leave = (priority: number, line: Set<() => void>, waiter: () => void) => {
    if (!line.delete(waiter) || line.size > 0) return
    lines.delete(priority)
    priorities.splice(priorities.indexOf(priority), 1)
  }

  const release = () => {
    const top = priorities[0]
    if (top === undefined) {
      free++
      return
    }
    const line = lines.get(top)!
    const next = line.values().next().value!
    leave(top, line, next)
    next()
  }

  const lineOf = (priority: number) => {
    let line = lines.get(priority)
    if (!line) {
      line = new Set()
      lines.set(priority, line)
      let i = 0
      while (i < priorities.length && priorities[i]! > priority) i++
      priorities.splice(i, 0, priority)
    }
    return line
  }

  const acquire = (priority: number) =>
    Effect.async<void>((resume) => {
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
      const line = lineOf(priority)
      line.add(waiter)
      // Interrupted while waiting: leave the line, or pass on a permit that was handed over but not used.
      return Effect.sync(() => (granted ? release() : leave(priority, line, waiter)))
    })

  return {
    limit: free,
    withPermit: (self, priority = 0) =>
      Effect.uninterruptibleMask((restore) =>
        restore(acquire(Number.isFinite(priority) ? priority : 0)).pipe(Effect.zipRight(restore(self).pipe(Effect.ensuring(Effect.sync(release)))))
      ),
    inUse: () => Math.max(1, Math.floor(limit)) - free
  }
}
