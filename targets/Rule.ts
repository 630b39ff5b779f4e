/**
 * How a rule is written here: its recipe declared with a Schema, so `ctx.recipe` is typed (no `Number()` or
 * `String()` on untyped JSON), and, for the four stages a provider makes, one implementation per provider
 * (`targets/<stage>/<name>.ts`) picked once by the plan from the config (`providers: { image: "openai" }`).
 *
 * The engine sees one rule per kind (`stageRule`): a node's recipe names its implementation (`provider`), so
 * a stored result keeps its fingerprint whichever implementations exist. Adding a provider is one new file
 * that calls `defineImpl`, and one `register` line (`targets/registry.ts`, or a test's own).
 */
import { Effect, Schema } from "effect"
import type * as Cost from "../src/engine/Cost.ts"
import type { BuiltLookup, Json, NodeSpec, Produced, Rule, RunContext } from "../src/engine/Node.ts"
import type { Config } from "../src/Config.ts"
import type { Bible } from "../src/director/Bible.ts"
import type { Director } from "../src/director/Inputs.ts"
import type { ProviderStage } from "../src/Film.ts"
import type { ProviderConfig } from "../src/providers/ProviderConfig.ts"
import type { DirectedShot } from "../src/Shot.ts"
import type { RefineBrief } from "./prompts/Writer.ts"

export interface TypedContext<Recipe> extends RunContext {
  readonly recipe: Recipe
}

export interface RuleSpec<Recipe, E, R, VE = E, VR = R> {
  readonly kind: string
  /** The recipe's shape: every setting that changes the output (it enters the fingerprint as it is). */
  readonly recipe: Schema.Schema<Recipe, any>
  readonly pool: string | ((recipe: Recipe) => string)
  readonly paid?: boolean | undefined
  /** Where `verify` runs, once the rule's own pool is released (media checks take "ffmpeg"). */
  readonly verifyPool?: string | undefined
  readonly estimate?: ((recipe: Recipe, node: NodeSpec) => Cost.Cost) | undefined
  readonly guess?: ((recipe: Recipe, node: NodeSpec, built: BuiltLookup) => { readonly [name: string]: Json }) | undefined
  readonly run: (ctx: TypedContext<Recipe>) => Effect.Effect<Produced, E, R>
  readonly verify?: ((produced: Produced, ctx: TypedContext<Recipe>) => Effect.Effect<void, VE, VR>) | undefined
}

/** A node's recipe as its rule declared it. Recipes are written by the plan from the same Schema, so one that
 *  does not decode is a bug (an old record never reaches here: records are matched by fingerprint). */
const decoder = <Recipe>(schema: Schema.Schema<Recipe, any>) => {
  const decode = Schema.decodeUnknownSync(schema)
  const cache = new WeakMap<object, Recipe>()
  return (node: NodeSpec): Recipe => {
    let recipe = cache.get(node.recipe)
    if (recipe === undefined) {
      recipe = decode(node.recipe)
      cache.set(node.recipe, recipe)
    }
    return recipe
  }
}

const typed = <Recipe>(ctx: RunContext, recipe: Recipe): TypedContext<Recipe> => ({ ...ctx, recipe })

export const defineRule = <Recipe, E = never, R = never, VE = never, VR = never>(spec: RuleSpec<Recipe, E, R, VE, VR>): Rule<E | VE, R | VR> => {
  const recipeOf = decoder(spec.recipe)
  const pool = spec.pool
  return {
    kind: spec.kind,
    pool: (node) => (typeof pool === "string" ? pool : pool(recipeOf(node))),
    paid: () => spec.paid === true,
    ...(spec.verifyPool === undefined ? {} : { verifyPool: () => spec.verifyPool! }),
    ...(spec.estimate === undefined ? {} : { estimate: (node: NodeSpec) => spec.estimate!(recipeOf(node), node) }),
    ...(spec.guess === undefined ? {} : { guess: (node: NodeSpec, built: BuiltLookup) => spec.guess!(recipeOf(node), node, built) }),
    run: (ctx) => Effect.suspend(() => spec.run(typed(ctx, recipeOf(ctx.node)))),
    ...(spec.verify === undefined
      ? {}
      : { verify: (produced: Produced, ctx: RunContext) => Effect.suspend(() => spec.verify!(produced, typed(ctx, recipeOf(ctx.node)))) })
  }
}

// ---------------------------------------------------------------------------------------------------------
// Provider implementations

/** What the plan knows when it declares a node. */
export interface PlanContext {
  readonly config: Config
  readonly providers: ProviderConfig
  readonly storeDir: string
  /** The workspace's story bible and shot edits (src/director/Inputs.ts). */
  readonly director: Director
}

export interface ShotRef {
  /** Sentence number (1-based) and the shot's index within it (1-based). */
  readonly n: number
  readonly j: number
  /** Shot number across the film (1-based). */
  readonly k: number
}

/** What each provider stage's `node` is given. */
export interface StageArgs {
  readonly audio: { readonly n: number; readonly sentence: string }
  readonly prompts: { readonly n: number; readonly sentences: ReadonlyArray<string> }
  readonly image: { readonly shot: ShotRef; readonly sentence: string }
  /** `tail`: the next shot, whose image the clip must end on (`continuity: "end-frames"`), when there is one. */
  readonly video: { readonly shot: ShotRef; readonly tail?: ShotRef | undefined }
}

/** What `storyshot providers` prints about an implementation. */
export interface About {
  readonly summary: string
  /** Variables it needs set (keys), as an error would name them; model names and URLs have defaults. */
  readonly needs: ReadonlyArray<string>
  /** Where its prices come from, and when they were last checked; "free" for local work. */
  readonly price: { readonly source: string; readonly checkedOn: string } | "free"
  /** What the next build does with work a crash or Ctrl-C interrupted. */
  readonly afterCrash: string
  /** Whether it re-attaches to (or reuses) the paid work an interrupted build left. */
  readonly reattaches: boolean
}

export interface Impl<S extends ProviderStage = any, Recipe = any, E = any, R = any, VE = any, VR = any>
  extends Omit<RuleSpec<Recipe, E, R, VE, VR>, "kind" | "paid"> {
  readonly stage: S
  /** What `providers: { <stage>: "<name>" }` selects; the recipe's `provider` field. */
  readonly name: string
  readonly paid: boolean
  readonly about: About
  /** The variables this implementation needs and the config lacks (checked before any paid call). */
  readonly missing?: ((providers: ProviderConfig) => ReadonlyArray<string>) | undefined
  /** Runs once before a build that uses it (e.g. saving OpenRouter's model list for estimates); returns a
   *  warning to show, if any. Never fails the build. */
  readonly before?: ((plan: PlanContext) => Effect.Effect<string | undefined, never, any>) | undefined
  readonly node: (args: StageArgs[S], plan: PlanContext) => NodeSpec
  /** An image implementation's outputs besides `image` that a clip maker may use instead: a text-free `plate`
   *  to move, and `lettering` to lay over it unmoved (the draft card's). */
  readonly layers?: { readonly plate: string; readonly lettering: string } | undefined
  /**
   * An image implementation's use of the character sheets a shot shows (contract 6): "edit" sends them with
   * the request as references (and the sheets' output hashes enter the shot's fingerprint); "none" ignores
   * them (only the bible entries' text does). Default "none"; `storyshot providers` says which.
   */
  readonly references?: "none" | "edit" | ((providers: ProviderConfig) => "none" | "edit") | undefined
  /** An image implementation's character sheet `character:ID:sheet`: one reference image per character. */
  readonly sheet?: ((args: { readonly id: string }, plan: PlanContext) => NodeSpec) | undefined
  /** A video implementation that can end a clip on a given image (contract 8): `tailImage` input. */
  readonly tailImage?: boolean | ((plan: PlanContext) => boolean) | undefined
  /** A prompt writer's rewrite of one shot with a person's feedback (`storyshot refine`), as one paid call. */
  readonly refine?: ((ctx: RunContext, req: { readonly recipe: Recipe; readonly brief: RefineBrief }) => Effect.Effect<DirectedShot, E, R>) | undefined
  /** A prompt writer's first draft of the story bible (`storyshot direct`), from the whole transcript. */
  readonly direct?:
    | ((ctx: RunContext, req: { readonly recipe: Recipe; readonly sentences: ReadonlyArray<string>; readonly style: string }) => Effect.Effect<Bible, E, R>)
    | undefined
}

/** How an implementation uses a shot's reference images, with this configuration. */
export const referencesOf = (impl: Impl, providers: ProviderConfig): "none" | "edit" =>
  typeof impl.references === "function" ? impl.references(providers) : impl.references ?? "none"

/** Whether a video implementation takes an end frame, with this configuration. */
export const takesTailImage = (impl: Impl, plan: PlanContext): boolean =>
  typeof impl.tailImage === "function" ? impl.tailImage(plan) : impl.tailImage === true

export const defineImpl = <S extends ProviderStage, Recipe, E = never, R = never, VE = never, VR = never>(
  impl: Impl<S, Recipe, E, R, VE, VR>
): Impl<S, Recipe, E, R, VE, VR> => impl

// ---------------------------------------------------------------------------------------------------------
// The registry

const registry = new Map<string, Impl>()
const key = (stage: string, name: string) => `${stage}/${name}`

/** Makes an implementation selectable by `providers: { <stage>: "<name>" }`. A name used twice replaces the first. */
export const register = (...impls: ReadonlyArray<Impl>): void => {
  for (const impl of impls) registry.set(key(impl.stage, impl.name), impl)
}

export const implementations = (): ReadonlyArray<Impl> => [...registry.values()]

export const find = (stage: string, name: string): Impl | undefined => registry.get(key(stage, name))

export const namesFor = (stage: string): ReadonlyArray<string> => implementations().filter((i) => i.stage === stage).map((i) => i.name)

/** The implementation the config selects for a stage (`checkProviders` has refused unknown names before). */
export const pick = <S extends ProviderStage>(stage: S, config: Config): Impl<S> => {
  const impl = find(stage, config.providers[stage])
  if (impl === undefined) throw new Error(`no ${stage} provider "${config.providers[stage]}" is registered (known: ${namesFor(stage).join(", ")})`)
  return impl as unknown as Impl<S>
}

/** One line per stage whose configured provider is unknown. */
export const unknownProviders = (config: Config): ReadonlyArray<string> =>
  (Object.entries(config.providers) as Array<[ProviderStage, string]>)
    .filter(([stage, name]) => find(stage, name) === undefined)
    .map(([stage, name]) => `providers.${stage} is "${name}": the ${stage} providers are ${namesFor(stage).map((n) => `"${n}"`).join(", ")}`)

const Provider = Schema.Struct({ provider: Schema.String })
const providerOf = Schema.decodeUnknownSync(Provider)

/** The implementation a node's recipe names (`provider`), for its stage; a name not registered is a defect. */
export const implOfNode = (stage: ProviderStage, node: NodeSpec): Impl => {
  const name = providerOf(node.recipe).provider
  const impl = find(stage, name)
  if (impl === undefined) throw new Error(`${node.id}: no ${stage} provider "${name}" is registered`)
  return impl
}

/** A node's recipe as its implementation declares it (fields other rules add are ignored). */
export const recipeOf = (impl: Impl, node: NodeSpec) => Schema.decodeUnknownSync(impl.recipe)(node.recipe, { onExcessProperty: "ignore" })

/** What an implementation would charge for a node, before paying: its estimate, else unknown when it is paid. */
export const estimateOf = (impl: Impl, node: NodeSpec): Cost.Cost =>
  impl.estimate?.(recipeOf(impl, node), node) ?? (impl.paid ? { usd: undefined, source: "unknown" } : { usd: 0, source: "free" })

/** The engine rule of a provider stage: the node's recipe names its implementation, looked up once here. */
export const stageRule = (kind: string, stage: ProviderStage): Rule<unknown, any> => {
  const rules = new Map<Impl, Rule<unknown, any>>()
  const ruleOf = (node: NodeSpec): Rule<unknown, any> => {
    const impl = implOfNode(stage, node)
    let rule = rules.get(impl)
    if (rule === undefined) {
      rule = defineRule({ ...impl, kind, paid: impl.paid })
      rules.set(impl, rule)
    }
    return rule
  }
  return {
    kind,
    pool: (node) => ruleOf(node).pool(node),
    paid: (node) => ruleOf(node).paid(node),
    verifyPool: (node) => ruleOf(node).verifyPool?.(node) ?? ruleOf(node).pool(node),
    estimate: (node) => ruleOf(node).estimate?.(node) ?? (ruleOf(node).paid(node) ? { usd: undefined, source: "unknown" } : { usd: 0, source: "free" }),
    guess: (node, built) => {
      const rule = ruleOf(node)
      if (rule.guess === undefined) throw new Error(`${node.id} cannot be guessed`)
      return rule.guess(node, built)
    },
    run: (ctx) => Effect.suspend(() => ruleOf(ctx.node).run(ctx)),
    verify: (produced, ctx) => Effect.suspend(() => ruleOf(ctx.node).verify?.(produced, ctx) ?? Effect.void)
  }
}
