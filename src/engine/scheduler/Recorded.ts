/**
 * The recorded graph, taken whole when nothing it was made from changed: a no-op build that does no per-node
 * work beyond checking that every result is still in the store.
 *
 * A node's fingerprint is a function of its spec and its inputs' output hashes; the specs an expansion adds are
 * a function of the expanding node's spec, the values it reads, and the code. So when
 *   - the caller's key is the same (it names the code and everything the rules' closures see: the config, the
 *     text, the director's inputs, the providers' settings), and
 *   - the declared nodes and the targets are the same (hashed as written), and
 *   - the recorded graph is the one the last complete, successful build wrote with that key (no journal line
 *     since, no partial build),
 * every fingerprint would come out as recorded, and every node would be found fresh in the recorded graph, as
 * the fast path (Fresh.ts) would find it one by one. What can still differ is the store: each node's record and
 * file outputs are checked to be there (the same check as the fast path's), and one that is not sends the
 * build down the ordinary path, which rebuilds it.
 *
 * Without a key (tests in process, `why`, which needs each node's fingerprint data) nothing here is used.
 */
import { sha256 } from "../Hash.ts"
import * as Cost from "../Cost.ts"
import type { Built, Dep, NodeSpec, Outputs } from "../Node.ts"
import type { State, StateNode } from "../Store.ts"
import { resolved } from "./Fresh.ts"
import type { BuildState } from "./State.ts"

/** The key a complete build's recorded graph is written with, or undefined when it cannot be made. */
export const keyOf = (caller: string, nodes: ReadonlyArray<NodeSpec>, targets: ReadonlyArray<string>): string | undefined => {
  try {
    // JSON.stringify, not the sorted writer: the same code writes the same specs in the same order, and a
    // different text only costs the shortcut. Functions (expansions) are left out: the caller's key names the code.
    return sha256(`${caller}\n${JSON.stringify(targets)}\n${JSON.stringify(nodes)}`)
  } catch {
    return undefined
  }
}

/**
 * Takes the recorded graph as this build's result when its key matches and the store still holds every
 * node's record and files. Returns whether it did; when not, the state is untouched.
 */
export const take = (state: BuildState, previous: State, key: string): boolean => {
  if (previous.recorded !== key) return false
  const nodes = Object.values(previous.nodes)
  if (nodes.length === 0) return false
  for (const n of nodes) if (n.outputs === undefined) return false
  if (!state.store.hasRecordsWith(nodes as ReadonlyArray<StateNode & { readonly outputs: Outputs }>)) return false
  const discovered: Array<{ id: string; stage: string }> = []
  let saved = state.saved
  for (const n of nodes) {
    const built: Built = { id: n.id, fingerprint: n.fingerprint, outputs: n.outputs!, hash: n.hash }
    state.built.set(n.id, built)
    state.stateNodes.set(n.id, n)
    state.cachedIds.push(n.id)
    const cost = n.cost ?? Cost.unknown
    saved = Cost.add(saved, cost)
    discovered.push({ id: n.id, stage: n.stage })
    state.pending.push({ _tag: "Cached", id: n.id, stage: n.stage, saved: cost, savedMs: n.ms ?? 0 })
    const spec = state.specs.get(n.id)
    if (spec === undefined) {
      // A node an expansion added: known here by what the graph recorded of it (its inputs), as `graph` shows it.
      state.specs.set(n.id, { id: n.id, kind: n.kind, stage: n.stage, version: 0, recipe: {}, deps: n.deps.map((id) => ({ id })) })
    } else if (spec.expand) {
      const declared = new Set(spec.deps.map((d) => d.id))
      const extra = n.deps.filter((id) => !declared.has(id))
      state.expandedDeps.set(n.id, extra)
      state.expansions.set(n.id, resolved<ReadonlyArray<Dep>>(extra.map((id) => ({ id }))))
    }
  }
  state.saved = saved
  state.taken = true
  state.pending.unshift({ _tag: "Discovered", nodes: discovered })
  return true
}
