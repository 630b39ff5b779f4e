/**
 * The first room a node goes through: the graph as far as it is known. Declared nodes and their
 * dependencies, what expansions added (dynamic dependencies, as in Shake), cycle search, and the error for
 * a target no node has.
 */
import * as Fingerprint from "../Fingerprint.ts"
import type { Expansion, NodeSpec, Rule } from "../Node.ts"
import { UnknownTarget } from "./Errors.ts"
import { noteExpansion } from "./Priority.ts"
import type { BuildState } from "./State.ts"

/**
 * A dependency cycle reachable from `starts`, as the ids around it (first id repeated at the end), or
 * undefined. `depsOf` gives what is known of each node's dependencies, including expansions so far.
 */
export const findCycle = (
  starts: Iterable<string>,
  depsOf: (id: string) => ReadonlyArray<string>,
  /** Nodes already known to lie on no cycle (with everything they depend on): not searched again. */
  acyclic?: { readonly has: (id: string) => boolean }
): ReadonlyArray<string> | undefined => {
  const seen = new Set<string>()
  const done = acyclic ? { has: (id: string) => seen.has(id) || acyclic.has(id), add: (id: string) => seen.add(id) } : seen
  const onPath = new Map<string, number>()
  const pathStack: Array<string> = []
  for (const start of starts) {
    if (done.has(start)) continue
    // Iterative DFS: graphs of 10,000+ nodes must not overflow the stack. Each frame keeps its node's deps
    // (asked for once: a mux's list holds every earlier sentence's shot count).
    const stack: Array<{ id: string; deps: ReadonlyArray<string>; next: number }> = [{ id: start, deps: depsOf(start), next: 0 }]
    onPath.set(start, 0)
    pathStack.push(start)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const deps = top.deps
      if (top.next < deps.length) {
        const dep = deps[top.next++]!
        if (onPath.has(dep)) return [...pathStack.slice(onPath.get(dep)!), dep]
        if (done.has(dep)) continue
        onPath.set(dep, pathStack.length)
        pathStack.push(dep)
        stack.push({ id: dep, deps: depsOf(dep), next: 0 })
      } else {
        stack.pop()
        pathStack.pop()
        onPath.delete(top.id)
        done.add(top.id)
      }
    }
  }
  return undefined
}

/** Everything a node waits for: declared inputs, `after` nodes, and what its expansion added. */
export const depsOf = (state: BuildState) => (id: string): ReadonlyArray<string> => {
  const spec = state.specs.get(id)
  if (!spec) return []
  const extra = state.expandedDeps.get(id) ?? []
  return [...spec.deps.map((d) => d.id), ...(spec.after ?? []), ...extra]
}

/** A node's data dependencies (declared and expanded), for `graph`. */
export const edgesOf = (state: BuildState) => (id: string): ReadonlyArray<string> => {
  const spec = state.specs.get(id)
  return spec ? [...new Set([...spec.deps.map((d) => d.id), ...(state.expandedDeps.get(id) ?? [])])] : []
}

export const ruleOf = (state: BuildState, spec: NodeSpec): Rule<any, any> => {
  const rule = state.rules[spec.kind]
  if (!rule) throw new Error(`no rule implements kind "${spec.kind}" (${spec.id})`)
  return rule
}

/**
 * Adds what an expansion made known to the graph. Returns the cycle it closed, if any (then the caller
 * decides: the fast path takes it back, a fiber reports it).
 */
export const addExpansion = (state: BuildState, id: string, expansion: Expansion): ReadonlyArray<string> | undefined => {
  for (const n of expansion.nodes) state.specs.set(n.id, n)
  state.newExpansions[id] = expansion.nodes.map((n) => ({ id: n.id, kind: n.kind, stage: n.stage }))
  state.expandedDeps.set(id, expansion.deps.map((d) => d.id))
  // A cycle this expansion closed runs through one of its new edges: search from the new inputs and the new
  // nodes only. (Starting from the expanding node itself walked its `after` list every time: a film's muxes
  // wait on every earlier sentence's shot count, so that was quadratic in the sentences.) A path that comes
  // back to the expanding node goes on into its new inputs and is found there.
  // A node already built (not a dry run's guess) lies on no cycle, now or later: everything it waits for,
  // expansions included, was built before it, so no later edge can lead back to it. The search stops there;
  // without that, each expansion walked the whole film below its shots again (quadratic in the sentences).
  const cycle = findCycle([...expansion.deps.map((d) => d.id), ...expansion.nodes.map((n) => n.id)], depsOf(state), builtFor(state))
  if (!cycle) noteExpansion(state, id, expansion.nodes)
  return cycle
}

const builtFor = (state: BuildState) => ({
  has: (id: string) => {
    const b = state.built.get(id)
    return b !== undefined && !Fingerprint.isGuess(b)
  }
})

/** Takes back an expansion the fast path made (it closed a cycle: the fibers expand again and report it). */
export const undoExpansion = (state: BuildState, id: string) => {
  state.expandedDeps.delete(id)
  delete state.newExpansions[id]
}

/** The error for a target no node has, naming the ids of the same shape there are. */
export const unknownTarget = (state: BuildState, id: string): UnknownTarget => {
  const pattern = new RegExp(`^${id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\d+/g, "(\\d+)")}$`)
  const similar = [...state.specs.keys()].filter((k) => pattern.test(k))
  return new UnknownTarget({
    id,
    similar,
    message: similar.length
      ? `no target ${id} (there are ${similar.length} like it: ${similar[0]} … ${similar[similar.length - 1]})`
      : `no target ${id}`
  })
}
