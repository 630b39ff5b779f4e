/**
 * A named concurrency pool: at most `limit` nodes run in it at once; the others wait in line, the highest
 * priority first and, within one priority, first come first served. The build gives each waiter its
 * priority (the critical-path order of `scheduler/Priority.ts`, or the build's own `priority` option).
 *
 * A priority may be a function: the build's estimate of a node's urgency changes while it waits (the graph
 * grows as expansions add shots). The line is re-read only when the build says something changed (`epoch`
 * moved), once per hand-over at most, so a pool with thousands of waiters does not recompute them all on
 * every release.
 *
 * Why not Effect's Semaphore: in effect 3.x a release wakes *every* waiter (each re-checks and all but one
 * go back to sleep), so n nodes waiting on a pool cost O(n²) wake-ups. A build of 10,000 nodes on one pool
 * ran out of memory that way. Here a release hands its permit straight to the next waiter (a binary heap).
 */
import { Effect } from "effect"

export type Priority = number | (() => number)

export interface Pool {
  readonly limit: number
  /** Runs `self` holding one permit; the permit is returned however `self` ends (also on interruption). */
  readonly withPermit: <A, E, R>(self: Effect.Effect<A, E, R>, priority?: Priority) => Effect.Effect<A, E, R>
  /**
   * Without a fiber: `go` runs once a permit is the caller's, at once or at a release (synchronously, in
   * whatever releases it). The caller gives the permit back with `release`, however its work ends. A
   * node waiting this way is an entry in the line, not a parked fiber.
   */
  readonly offer: (go: () => void, priority?: Priority) => void
  readonly release: () => void
  /** How many permits are in use now. */
  readonly inUse: () => number
  /** How many are waiting for one. */
  readonly waiting: () => number
}

interface Waiter {
  key: number
  readonly seq: number
  readonly priority: Priority
  readonly wake: () => void
  /** Its place in the heap (-1 once it left). */
  at: number
}

const read = (p: Priority): number => {
  const v = typeof p === "function" ? p() : p
  return Number.isFinite(v) ? v : 0
}

/** `a` goes before `b`: higher priority, then earlier arrival. */
const before = (a: Waiter, b: Waiter) => a.key > b.key || (a.key === b.key && a.seq < b.seq)

export const make = (limit: number, epoch: () => number = () => 0): Pool => {
  const size = Math.max(1, Math.floor(limit))
  let free = size
  let seq = 0
  let readAt = epoch()
  const heap: Array<Waiter> = []

  const swap = (i: number, j: number) => {
    const a = heap[i]!
    const b = heap[j]!
    heap[i] = b
    heap[j] = a
    b.at = i
    a.at = j
  }
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) return
      swap(i, parent)
      i = parent
    }
  }
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let best = i
      if (l < heap.length && before(heap[l]!, heap[best]!)) best = l
      if (r < heap.length && before(heap[r]!, heap[best]!)) best = r
      if (best === i) return
      swap(i, best)
      i = best
    }
  }
  const remove = (w: Waiter) => {
    const i = w.at
    if (i < 0) return
    w.at = -1
    const last = heap.pop()!
    if (i < heap.length) {
      heap[i] = last
      last.at = i
      up(i)
      down(i)
    }
  }
  /** The build's estimates moved: read every waiter's priority again and restore the heap. */
  const refresh = () => {
    const now = epoch()
    if (now === readAt) return
    readAt = now
    for (const w of heap) if (typeof w.priority === "function") w.key = read(w.priority)
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i)
  }

  const release = () => {
    if (heap.length === 0) {
      free++
      return
    }
    refresh()
    const next = heap[0]!
    remove(next)
    next.wake()
  }

  /** `wake` runs at once when a permit is free, else once a release hands it one; the waiter, if it waits. */
  const enter = (priority: Priority, wake: () => void): Waiter | undefined => {
    if (free > 0) {
      free--
      wake()
      return undefined
    }
    const w: Waiter = { key: read(priority), seq: seq++, priority, at: heap.length, wake }
    heap.push(w)
    up(w.at)
    return w
  }

  const acquire = (priority: Priority) =>
    Effect.async<void>((resume) => {
      let granted = false
      const w = enter(priority, () => {
        granted = true
        resume(Effect.void)
      })
      // Interrupted while waiting: leave the line, or pass on a permit that was handed over but not used.
      if (w) return Effect.sync(() => (granted ? release() : remove(w)))
    })

  return {
    limit: size,
    withPermit: (self, priority = 0) =>
      Effect.uninterruptibleMask((restore) =>
        restore(acquire(priority)).pipe(Effect.zipRight(restore(self).pipe(Effect.ensuring(Effect.sync(release)))))
      ),
    offer: (go, priority = 0) => void enter(priority, go),
    release,
    inUse: () => size - free,
    waiting: () => heap.length
  }
}
