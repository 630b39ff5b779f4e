/**
 * What a build of a graph could take at best, from the same latencies and pool limits the benchmark runs
 * with: a lower bound no scheduler can beat, an ideal greedy schedule (zero overhead), and the sequential
 * pipeline of the original spec (one request at a time, in order).
 *
 * The bound is the larger of
 *   - the critical path: the longest chain of durations through the dependencies;
 *   - for each pool, a capacity bound: any set S of its jobs that cannot start before `h` (their earliest
 *     start) and must leave `t` after them (their shortest tail) needs at least h + work(S) / limit + t.
 *     Taking every (h, t) pair of the pool's jobs covers the classic "release time + work / m + tail" bound.
 */

export interface Job {
  readonly id: string
  readonly ms: number
  readonly pool: string
  /** Jobs that must finish before this one starts (data deps, `after`, and what discovered it). */
  readonly deps: ReadonlyArray<string>
}

export interface Bounds {
  readonly criticalPathMs: number
  /** The pool whose capacity bound is the largest, and that bound. */
  readonly pool: { readonly name: string; readonly ms: number }
  readonly lowerBoundMs: number
  /** A greedy list schedule (first ready, first served in each pool) with no overhead at all. */
  readonly idealGreedyMs: number
  /** One job at a time, the original spec's loop. */
  readonly sequentialMs: number
}

const topo = (jobs: ReadonlyArray<Job>): ReadonlyArray<Job> => {
  const byId = new Map(jobs.map((j) => [j.id, j]))
  const out: Array<Job> = []
  const state = new Map<string, 1 | 2>()
  for (const start of jobs) {
    if (state.has(start.id)) continue
    const stack: Array<{ job: Job; next: number }> = [{ job: start, next: 0 }]
    state.set(start.id, 1)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      if (top.next < top.job.deps.length) {
        const dep = byId.get(top.job.deps[top.next++]!)
        if (!dep) continue
        const s = state.get(dep.id)
        if (s === 1) throw new Error(`cycle through ${dep.id}`)
        if (s === 2) continue
        state.set(dep.id, 1)
        stack.push({ job: dep, next: 0 })
      } else {
        stack.pop()
        state.set(top.job.id, 2)
        out.push(top.job)
      }
    }
  }
  return out
}

export const bounds = (jobs: ReadonlyArray<Job>, limits: (pool: string) => number): Bounds => {
  const order = topo(jobs)
  const head = new Map<string, number>()
  const tail = new Map<string, number>()
  const dependents = new Map<string, Array<Job>>()
  for (const j of order) for (const d of j.deps) (dependents.get(d) ?? dependents.set(d, []).get(d)!).push(j)
  const msOf = new Map(jobs.map((j) => [j.id, j.ms]))
  for (const j of order) head.set(j.id, Math.max(0, ...j.deps.map((d) => (head.get(d) ?? 0) + (msOf.get(d) ?? 0))))
  for (const j of [...order].reverse())
    tail.set(j.id, Math.max(0, ...(dependents.get(j.id) ?? []).map((k) => msOf.get(k.id)! + tail.get(k.id)!)))
  const criticalPathMs = Math.max(0, ...jobs.map((j) => head.get(j.id)! + j.ms + tail.get(j.id)!))

  let pool = { name: "-", ms: 0 }
  const pools = new Map<string, Array<Job>>()
  for (const j of jobs) if (j.ms > 0) (pools.get(j.pool) ?? pools.set(j.pool, []).get(j.pool)!).push(j)
  for (const [name, members] of pools) {
    const limit = limits(name)
    const heads = [...new Set(members.map((j) => head.get(j.id)!))]
    const tails = [...new Set(members.map((j) => tail.get(j.id)!))]
    for (const h of heads)
      for (const t of tails) {
        let work = 0
        for (const j of members) if (head.get(j.id)! >= h && tail.get(j.id)! >= t) work += j.ms
        const ms = h + work / limit + t
        if (ms > pool.ms) pool = { name, ms }
      }
  }

  return {
    criticalPathMs,
    pool,
    lowerBoundMs: Math.max(criticalPathMs, pool.ms),
    idealGreedyMs: simulate(jobs, limits),
    sequentialMs: jobs.reduce((a, j) => a + j.ms, 0)
  }
}

/** Event simulation of a greedy scheduler: a job is queued on its pool when its deps finish (FIFO). */
export const simulate = (jobs: ReadonlyArray<Job>, limits: (pool: string) => number): number => {
  const waiting = new Map(jobs.map((j) => [j.id, new Set(j.deps.filter((d) => jobs.some((x) => x.id === d)))]))
  const dependents = new Map<string, Array<string>>()
  for (const j of jobs) for (const d of j.deps) (dependents.get(d) ?? dependents.set(d, []).get(d)!).push(j.id)
  const byId = new Map(jobs.map((j) => [j.id, j]))
  const queues = new Map<string, Array<Job>>()
  const busy = new Map<string, number>()
  let running: Array<{ job: Job; end: number }> = []
  let now = 0
  let done = 0
  const ready = (j: Job) => (queues.get(j.pool) ?? queues.set(j.pool, []).get(j.pool)!).push(j)
  for (const j of jobs) if (waiting.get(j.id)!.size === 0) ready(j)
  const startAll = () => {
    for (const [pool, q] of queues)
      while (q.length > 0 && (busy.get(pool) ?? 0) < limits(pool)) {
        const job = q.shift()!
        busy.set(pool, (busy.get(pool) ?? 0) + 1)
        running.push({ job, end: now + job.ms })
      }
  }
  startAll()
  while (done < jobs.length) {
    if (running.length === 0) throw new Error("deadlock in simulation")
    now = Math.min(...running.map((r) => r.end))
    const finished = running.filter((r) => r.end === now)
    running = running.filter((r) => r.end !== now)
    for (const { job } of finished) {
      done++
      busy.set(job.pool, busy.get(job.pool)! - 1)
      for (const k of dependents.get(job.id) ?? []) {
        const w = waiting.get(k)!
        w.delete(job.id)
        if (w.size === 0) ready(byId.get(k)!)
      }
    }
    startAll()
  }
  return now
}
