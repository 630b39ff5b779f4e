/**
 * Which waiting node gets a free slot first: critical-path scheduling (Ninja's and Bazel's, the usual
 * list-scheduling heuristic), in a form that keeps the film flowing sentence after sentence.
 *
 * A node's urgency is the longest remaining path from it to its target (`final` for the film's nodes),
 * weighted by how long each stage takes: the last runs' work times per kind of node and pool (the records
 * of the last build, kept in its state), a film's defaults for a first run (`BuildOptions.estimateMs`), else
 * 1 ms. Two refinements make it work on a film:
 *
 * - Work in the node's own pool does not count. Those slots have to do that work whatever the order, so
 *   starting a node early buys only the work it lets *other* pools start: a narration (fal) goes before a
 *   clip (fal) because its prompts, image and mux wait for it elsewhere; a card goes no sooner than an
 *   earlier sentence's mux (all ffmpeg), which is what lets sentence 1 reach its mux while later ones are
 *   still being narrated.
 * - Between equal urgencies, the film's order: the earlier input of the earlier target first (sentence 1's
 *   nodes before sentence 2's), then arrival order (the pool's).
 *
 * The graph grows while it builds: a sentence's shots exist once its narration is measured. Until a node is
 * expanded, the path through what its expansion will add is taken from its siblings already expanded in
 * this build (the median, per kind). Each expansion moves an `epoch`; pools re-read their waiters'
 * priorities once it moved (see `Pool.ts`).
 *
 * Everything here is made on the first node that waits for a slot: a no-op build never pays for it.
 */
import type { NodeSpec } from "../Node.ts"
import type { BuildState } from "./State.ts"

/** Bits of a priority taken by the film's order (targets × inputs): the urgency, in ms, is above them. */
const ORDER_BITS = 21
const MAJOR_BITS = 18
const MAJOR_MAX = (1 << MAJOR_BITS) - 1
const ORDER_MAX = (1 << ORDER_BITS) - 1

export interface PriorityState {
  /** Bumped whenever urgencies may have changed (an expansion); pools re-read their waiters then. */
  epoch: number
  /** The last build's median work time by kind of node and pool (made on first use). */
  past: Map<string, number> | undefined
  /** This build's work times so far by kind of node and pool, sorted: newer than the last build's. */
  readonly current: Map<string, Array<number>>
  /** Each started node's place in the film's order (lower first): target index, then input of it. */
  readonly order: Map<string, number>
  /** Made on first use (`ready`). */
  graph: Graph | undefined
}

interface Graph {
  /** Data dependents (declared and expanded deps) and `after` dependents of each node. */
  readonly dependents: Map<string, Array<string>>
  readonly afterDependents: Map<string, Array<string>>
  readonly estimate: (spec: NodeSpec) => number
  readonly pool: (spec: NodeSpec) => string
  /** Per kind of expanding node: the path lengths its expansions added, sorted. */
  readonly through: Map<string, Array<number>>
  /** Per pool: each node's urgency for a node of that pool. */
  readonly memo: Map<string, Map<string, number>>
}

export const make = (): PriorityState => ({ epoch: 0, past: undefined, current: new Map(), order: new Map(), graph: undefined })

const push = (map: Map<string, Array<string>>, key: string, value: string) => {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}

const median = (sorted: ReadonlyArray<number>) => (sorted.length === 0 ? 0 : sorted[sorted.length >> 1]!)

/**
 * Work times of the last build by kind of node and pool, the medians: a node's time in its own pool, and in
 * the pools it asked for a part of its work (`ctx.withPool`, `verifyPool`).
 */
const pastEstimates = (state: BuildState): Map<string, number> => {
  if (state.priority.past) return state.priority.past
  const samples = new Map<string, Array<number>>()
  const add = (key: string, ms: number) => {
    if (!Number.isFinite(ms) || ms < 0) return
    const list = samples.get(key)
    if (list) list.push(ms)
    else samples.set(key, [ms])
  }
  for (const n of Object.values(state.previous.nodes)) {
    if (n.pool !== undefined && typeof n.workMs === "number") add(`${n.kind}\u0000${n.pool}`, n.workMs)
    for (const [pool, ms] of Object.entries(n.work ?? {})) if (pool !== n.pool) add(`${n.kind}\u0000${pool}`, ms)
  }
  const out = new Map<string, number>()
  for (const [key, list] of samples) out.set(key, Math.round(median(list.sort((a, b) => a - b))))
  state.priority.past = out
  return out
}

/**
 * How long a node of `spec`'s kind typically works in `pool`: the median of this build's nodes of that kind
 * so far (a first build learns from its own first clips), else of the last build's (undefined: no record).
 */
export const typicalMs = (state: BuildState, spec: NodeSpec, pool: string): number | undefined => {
  const key = `${spec.kind}\u0000${pool}`
  const now = state.priority.current.get(key)
  return now && now.length > 0 ? now[now.length >> 1] : pastEstimates(state).get(key)
}

/** A node finished: its work times join this build's samples for its kind. */
export const noteWork = (state: BuildState, spec: NodeSpec, byPool: { readonly [pool: string]: number }) => {
  for (const [pool, ms] of Object.entries(byPool)) {
    if (!Number.isFinite(ms) || ms < 0) continue
    const key = `${spec.kind}\u0000${pool}`
    let list = state.priority.current.get(key)
    if (!list) state.priority.current.set(key, (list = []))
    let i = list.length
    while (i > 0 && list[i - 1]! > ms) i--
    list.splice(i, 0, ms)
  }
}

const addEdges = (g: Graph, state: BuildState, spec: NodeSpec) => {
  for (const d of new Set(spec.deps.map((d) => d.id))) push(g.dependents, d, spec.id)
  for (const a of spec.after ?? []) push(g.afterDependents, a, spec.id)
  for (const d of state.expandedDeps.get(spec.id) ?? []) push(g.dependents, d, spec.id)
}

const ready = (state: BuildState): Graph => {
  const p = state.priority
  if (p.graph) return p.graph
  const past = pastEstimates(state)
  const estimates = new Map<string, number>()
  const pools = new Map<string, string>()
  const pool = (spec: NodeSpec) => {
    let name = pools.get(spec.id)
    if (name === undefined) {
      const rule = state.rules[spec.kind]
      name = rule ? rule.pool(spec) : "?"
      pools.set(spec.id, name)
    }
    return name
  }
  const estimate = (spec: NodeSpec) => {
    let ms = estimates.get(spec.id)
    if (ms === undefined) {
      const name = pool(spec)
      ms = past.get(`${spec.kind}\u0000${name}`) ?? state.settings.estimateMs?.(spec, name) ?? 1
      ms = Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : 1
      estimates.set(spec.id, ms)
    }
    return ms
  }
  const g: Graph = { dependents: new Map(), afterDependents: new Map(), estimate, pool, through: new Map(), memo: new Map() }
  for (const spec of state.specs.values()) addEdges(g, state, spec)
  p.graph = g
  return g
}

/** The target a node serves (its index in the build's targets), from its place in the order. */
const homeOf = (state: BuildState, id: string) => {
  const code = state.priority.order.get(id)
  return code === undefined ? undefined : Math.floor(code / (MAJOR_MAX + 1))
}

/**
 * The longest path from `id` (exclusive) to its target, counting the work of nodes outside `pool`.
 * Paths into another target (the storyboard page reads every shot) do not count: the film is `final`.
 */
const tail = (state: BuildState, g: Graph, pool: string, id: string, depth = 0): number => {
  let memo = g.memo.get(pool)
  if (!memo) g.memo.set(pool, (memo = new Map()))
  const known = memo.get(id)
  if (known !== undefined) return known
  // A very deep chain is cut short rather than overflowing the stack; priorities are a heuristic.
  if (depth > 2000) return 0
  const home = homeOf(state, id)
  const weight = (y: NodeSpec) => (g.pool(y) === pool ? 0 : g.estimate(y))
  let best = 0
  for (const y of g.dependents.get(id) ?? []) {
    const spec = state.specs.get(y)
    if (!spec) continue
    const h = homeOf(state, y)
    if (home !== undefined && h !== undefined && h !== home) continue
    best = Math.max(best, weight(spec) + tail(state, g, pool, y, depth + 1))
  }
  for (const y of g.afterDependents.get(id) ?? []) {
    const spec = state.specs.get(y)
    if (!spec) continue
    const h = homeOf(state, y)
    if (home !== undefined && h !== undefined && h !== home) continue
    // Not expanded yet: what its expansion will put between this node and it, as its siblings showed.
    const through = spec.expand && !state.expandedDeps.has(y) ? median(g.through.get(spec.kind) ?? []) : 0
    best = Math.max(best, through + weight(spec) + tail(state, g, pool, y, depth + 1))
  }
  memo.set(id, best)
  return best
}

/** The priority of node `id` waiting in `pool`: higher first (its urgency, then the film's order). */
export const of = (state: BuildState, id: string, pool: string): number => {
  const g = ready(state)
  const urgency = Math.min(tail(state, g, pool, id), 2 ** 31)
  const order = Math.min(state.priority.order.get(id) ?? ORDER_MAX, ORDER_MAX)
  return urgency * 2 ** ORDER_BITS + (ORDER_MAX - order)
}

// ---------------------------------------------------------------------------------------------------------
// The film's order

const targetIndex = (state: BuildState, id: string) => {
  const i = state.settings.targets.indexOf(id)
  return i < 0 ? state.settings.targets.length : i
}

const positions = new WeakMap<NodeSpec, Map<string, number>>()

/** Where `dep` stands among a target's inputs (1-based): declared deps, `after` nodes, then expanded ones. */
const positionIn = (target: NodeSpec, dep: string) => {
  let map = positions.get(target)
  if (!map) {
    map = new Map()
    for (const id of [...target.deps.map((d) => d.id), ...(target.after ?? [])]) if (!map.has(id)) map.set(id, map.size + 1)
    positions.set(target, map)
  }
  let at = map.get(dep)
  if (at === undefined) {
    at = map.size + 1
    map.set(dep, at)
  }
  return at
}

const codeUnder = (state: BuildState, parent: string, id: string) => {
  const order = state.priority.order
  const base = order.get(parent) ?? targetIndex(state, parent) * (MAJOR_MAX + 1)
  const isTarget = state.settings.targets.includes(parent) && base % (MAJOR_MAX + 1) === 0
  if (!isTarget) return base
  const spec = state.specs.get(parent)
  return base + Math.min(spec ? positionIn(spec, id) : 1, MAJOR_MAX)
}

/**
 * A node was started by `parent` (undefined: it is a target): its place in the film's order is the earliest
 * one any of its dependents gives it. A node found earlier in the order than before passes that on to the
 * inputs already started.
 */
export const noteStart = (state: BuildState, id: string, parent: string | undefined) => {
  const order = state.priority.order
  const code = parent === undefined ? targetIndex(state, id) * (MAJOR_MAX + 1) : codeUnder(state, parent, id)
  const old = order.get(id)
  if (old !== undefined && old <= code) return
  order.set(id, code)
  if (old === undefined) return
  // Which target a node serves decides which of its paths count: pass the new place on to the inputs
  // already started, then forget the urgencies of everything those nodes are made from.
  const changed = [id]
  const stack = [id]
  while (stack.length > 0) {
    const top = stack.pop()!
    for (const dep of inputsOf(state, top)) {
      const was = order.get(dep)
      const now = codeUnder(state, top, dep)
      if (was !== undefined && now < was) {
        order.set(dep, now)
        changed.push(dep)
        stack.push(dep)
      }
    }
  }
  const g = state.priority.graph
  if (g) forget(g, upstream(state, changed))
  state.priority.epoch++
}

const inputsOf = (state: BuildState, id: string): ReadonlyArray<string> => {
  const spec = state.specs.get(id)
  if (!spec) return []
  const expanded = state.expandedDeps.get(id)
  return [...spec.deps.map((d) => d.id), ...(spec.after ?? []), ...(expanded ?? [])]
}

/** The nodes given and everything they are made from (their inputs, transitively; `after` nodes too). */
const upstream = (state: BuildState, from: ReadonlyArray<string>, limit = 20_000): Set<string> => {
  const seen = new Set<string>()
  const stack = [...from]
  while (stack.length > 0 && seen.size < limit) {
    const top = stack.pop()!
    if (seen.has(top)) continue
    seen.add(top)
    for (const d of inputsOf(state, top)) if (!seen.has(d)) stack.push(d)
  }
  return seen
}

const forget = (g: Graph, ids: ReadonlySet<string>) => {
  for (const memo of g.memo.values()) for (const x of ids) memo.delete(x)
}

// ---------------------------------------------------------------------------------------------------------
// Expansions

/**
 * Node `id` expanded: its new nodes and edges enter the graph, the path its expansion put between its
 * `after` nodes and it is noted for its unexpanded siblings, and the urgencies it changed are forgotten.
 */
export const noteExpansion = (state: BuildState, id: string, created: ReadonlyArray<NodeSpec>) => {
  const p = state.priority
  const g = p.graph
  if (!g) return
  const spec = state.specs.get(id)
  if (!spec) return
  for (const n of created) addEdges(g, state, n)
  for (const d of new Set(state.expandedDeps.get(id) ?? [])) push(g.dependents, d, id)

  // Everything this node's result is made from (backwards from it, through its new inputs).
  const region = new Set<string>()
  const stack = [id]
  while (stack.length > 0 && region.size < 10_000) {
    const top = stack.pop()!
    if (region.has(top)) continue
    region.add(top)
    const s = state.specs.get(top)
    if (!s) continue
    for (const d of s.deps) stack.push(d.id)
    for (const d of state.expandedDeps.get(top) ?? []) stack.push(d)
  }
  // The longest path from one of its `after` nodes to it, inside that region.
  const dist = new Map<string, number>()
  const toHere = (x: string, depth: number): number => {
    const known = dist.get(x)
    if (known !== undefined) return known
    dist.set(x, -Infinity)
    let best = -Infinity
    if (depth < 500)
      for (const y of g.dependents.get(x) ?? []) {
        if (y === id) best = Math.max(best, 0)
        else if (region.has(y)) {
          const ySpec = state.specs.get(y)
          if (ySpec) best = Math.max(best, g.estimate(ySpec) + toHere(y, depth + 1))
        }
      }
    dist.set(x, best)
    return best
  }
  let through = -Infinity
  for (const a of spec.after ?? []) if (region.has(a)) through = Math.max(through, toHere(a, 0))
  let changed = false
  if (Number.isFinite(through)) {
    const list = g.through.get(spec.kind) ?? []
    const before = median(list)
    let i = list.length
    while (i > 0 && list[i - 1]! > through) i--
    list.splice(i, 0, through)
    g.through.set(spec.kind, list)
    changed = median(list) !== before
  }
  if (changed) g.memo.clear()
  else forget(g, upstream(state, [id, ...created.map((n) => n.id)]))
  p.epoch++
}
