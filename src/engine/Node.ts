/**
 * What the engine knows about a target: data, not behaviour. A rule (in `targets/`) declares nodes with
 * these shapes and implements them separately (`Rule`), the way Effect's Workflow separates `make` from
 * `toLayer`. Nothing here knows what a sentence or a shot is.
 */
import type { Effect } from "effect"
import type * as Cost from "./Cost.ts"
import type { Json } from "./Hash.ts"

export type { Json }

/** A dependency on another node, or on one named output of it (so a shot depends on its own prompt only). */
export interface Dep {
  readonly id: string
  readonly output?: string | undefined
}

export interface Expansion {
  /** Nodes that become known once the `after` nodes are built (e.g. the shots, once the shot count is). */
  readonly nodes: ReadonlyArray<NodeSpec>
  /** Further data dependencies of the expanding node; they enter its fingerprint like `deps`. */
  readonly deps: ReadonlyArray<Dep>
}

export interface NodeSpec {
  readonly id: string
  readonly kind: string
  readonly stage: string
  /** Bumped when the rule's code changes what it makes. */
  readonly version: number
  /** Every setting that changes the output, and nothing else. Enters the fingerprint. */
  readonly recipe: { readonly [key: string]: Json }
  /** Seen by the rule but deliberately kept out of the fingerprint (e.g. neighbouring text given to an LLM
   *  for continuity: an edit must stay local). Kept in the record so `why` can show it. */
  readonly context?: { readonly [key: string]: Json } | undefined
  readonly deps: ReadonlyArray<Dep>
  /** Nodes whose outputs decide the rest of this node's dependencies (dynamic dependencies, as in Shake).
   *  They are built first; they do not enter the fingerprint unless `expand` returns them as deps. */
  readonly after?: ReadonlyArray<string> | undefined
  readonly expand?: ((built: BuiltLookup) => Expansion) | undefined
}

/** A stored output: a file in the content-addressed store, or a small JSON value. */
export interface Output {
  readonly hash: string
  readonly ext?: string | undefined
  readonly size?: number | undefined
  readonly value?: Json | undefined
}

export type Outputs = { readonly [name: string]: Output }

export interface Built {
  readonly id: string
  readonly fingerprint: string
  readonly outputs: Outputs
  /** Hash over all outputs: what dependents see when they depend on the whole node. */
  readonly hash: string
}

export interface BuiltLookup {
  readonly get: (id: string) => Built
  readonly value: (id: string, output: string) => Json
}

/** What a rule produces: files it wrote (moved into the store by the engine) or JSON values. */
export type Produced = {
  readonly [name: string]: { readonly file: string; readonly ext: string } | { readonly value: Json }
}

/** What a running rule can see and do. */
export interface RunContext {
  readonly node: NodeSpec
  readonly fingerprint: string
  /** A fresh folder for the rule's files; removed after the outputs are stored. */
  readonly scratch: string
  readonly attempt: number
  /** All data dependencies: the declared ones and those the expansion added. */
  readonly deps: ReadonlyArray<Dep>
  readonly dep: (id: string) => Built
  readonly value: (id: string, output: string) => Json
  /** Path of a stored file output of a dependency. */
  readonly file: (id: string, output: string) => string
  /** Records one request to an outside service (cost, timing, request id). */
  readonly request: (request: Cost.RequestRecord) => Effect.Effect<void>
  /** A paid request that was submitted but whose result is not stored yet survives a crash here: the next
   *  build re-attaches to it instead of paying again. */
  readonly inflight: {
    readonly get: Effect.Effect<Json | undefined>
    /** Kept before anything else is done with the request. A paid answer kept as an object is named here
     *  (`{ ...handle, answer: { hash, ext } }`): garbage collection never removes an object an entry names.
     *  A store that cannot take the write (a full disk) stops the build once this node ends. */
    readonly set: (handle: Json) => Effect.Effect<void>
    readonly clear: Effect.Effect<void>
  }
  /**
   * Runs a part of the rule's work in another pool (an upload, a download), waiting for a slot there. The
   * node keeps its own slot meanwhile: a rule should not wait on a pool whose nodes wait on its own.
   */
  readonly withPool: <A, E, R>(pool: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * How long a node of this kind typically works in `pool` (its own pool by default), in ms: the median of the
   * last build's work times there, when it recorded some. A provider's adapter polls first at about this.
   */
  readonly typicalMs: (pool?: string) => number | undefined
}

export interface Rule<E = unknown, R = never> {
  readonly kind: string
  /** Named concurrency pool the rule runs in (e.g. "fal", "openai", "ffmpeg"). */
  readonly pool: (node: NodeSpec) => string
  /** Whether running it costs money; paid nodes are what `--max-cost` and dry-run estimates count. */
  readonly paid: (node: NodeSpec) => boolean
  readonly run: (ctx: RunContext) => Effect.Effect<Produced, E, R>
  /** Checks the produced files before anything is recorded (e.g. ffprobe). */
  readonly verify?: ((produced: Produced, ctx: RunContext) => Effect.Effect<void, E, R>) | undefined
  /**
   * The pool `verify` runs in (e.g. "ffmpeg"), after the rule's own pool is released: a provider slot is
   * not held while its answer is checked, and the checks keep that pool's limit. Without it, `verify`
   * runs inside the rule's own pool.
   */
  readonly verifyPool?: ((node: NodeSpec) => string) | undefined
  /** Estimated cost of building the node, for dry runs and the cost cap. */
  readonly estimate?: ((node: NodeSpec) => Cost.Cost) | undefined
  readonly timeoutMs?: number | undefined
  /** For dry runs and `graph`: a cheap guess at the node's value outputs when it is not built yet (e.g. a
   *  narration's length from its word count), so expansions can be estimated without paying. */
  readonly guess?: ((node: NodeSpec, built: BuiltLookup) => { readonly [name: string]: Json }) | undefined
}
