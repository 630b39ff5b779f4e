/**
 * A node's fingerprint: its kind and rule version, its recipe, and the output hashes of its immediate
 * dependencies — never the root inputs (with nondeterministic generators, hashing from the roots gives wrong
 * builds: "Build Systems à la Carte", §8). Computed only once the dependencies are built.
 * Like wireit's FingerprintData, the data is a plain object, hashed once with sorted keys.
 */
import type { Built, Dep, NodeSpec } from "./Node.ts"
import { hashJson, type Json } from "./Hash.ts"

export interface FingerprintData {
  readonly kind: string
  readonly version: number
  readonly recipe: { readonly [key: string]: Json }
  /**
   * The hashes of what the node read, in the order of its dependencies. By position and output name, never
   * by the dependency's id: ids are positional ("sentence:3"), and inserting a sentence must not change the
   * fingerprints of the sentences after it.
   */
  readonly deps: ReadonlyArray<{ readonly output?: string | undefined; readonly hash: string }>
  /** A new take asked for with --force: a counter that makes the fingerprint new. */
  readonly take?: number | undefined
}

export const depKey = (dep: Dep): string => (dep.output === undefined ? dep.id : `${dep.id}#${dep.output}`)

export const depHash = (dep: Dep, built: Built): string => {
  if (dep.output === undefined) return built.hash
  const output = built.outputs[dep.output]
  if (!output && isGuess(built)) return `${built.hash}#${dep.output}`
  if (!output) throw new Error(`${built.id} has no output "${dep.output}"`)
  return output.hash
}

/** A dry run's stand-in for a node that is not built yet (see `Rule.guess`). */
export const isGuess = (built: Built): boolean => built.hash.startsWith("guess:")

export const data = (
  node: NodeSpec,
  deps: ReadonlyArray<Dep>,
  lookup: (id: string) => Built
): FingerprintData => ({
  // Keys in sorted order (the hash does not depend on it): the hashing writer then takes its fast path.
  deps: deps.map((dep) => ({ hash: depHash(dep, lookup(dep.id)), output: dep.output })),
  kind: node.kind,
  recipe: node.recipe,
  version: node.version
})

export const of = (fingerprintData: FingerprintData): string => hashJson(fingerprintData)

export interface Change {
  readonly ingredient: string
  readonly before: Json | undefined
  readonly after: Json | undefined
}

/**
 * What differs between two fingerprints' data, ingredient by ingredient: what `why` prints. `names` are the
 * current dependencies' ids, to say which input changed.
 */
export const diff = (
  before: FingerprintData,
  after: FingerprintData,
  names: ReadonlyArray<string> = []
): ReadonlyArray<Change> => {
  const changes: Array<Change> = []
  if (before.kind !== after.kind) changes.push({ ingredient: "kind", before: before.kind, after: after.kind })
  if (before.version !== after.version)
    changes.push({ ingredient: "rule version", before: before.version, after: after.version })
  const keys = (a: object, b: object) => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
  for (const k of keys(before.recipe, after.recipe)) {
    const b = before.recipe[k]
    const a = after.recipe[k]
    if (hashJson(b ?? null) !== hashJson(a ?? null)) changes.push({ ingredient: k, before: b, after: a })
  }
  const beforeDeps = Array.isArray(before.deps) ? before.deps : []
  const n = Math.max(beforeDeps.length, after.deps.length)
  for (let i = 0; i < n; i++) {
    const b = beforeDeps[i]
    const a = after.deps[i]
    if (b?.hash === a?.hash && b?.output === a?.output) continue
    const name = names[i] ?? `input ${i + 1}`
    const output = a?.output ?? b?.output
    changes.push({
      ingredient: `input ${name}${output ? `#${output}` : ""}`,
      before: b ? b.hash.slice(0, 12) : undefined,
      after: a ? a.hash.slice(0, 12) : undefined
    })
  }
  if ((before.take ?? 0) !== (after.take ?? 0))
    changes.push({ ingredient: "take (--force)", before: before.take ?? 0, after: after.take ?? 0 })
  return changes
}
