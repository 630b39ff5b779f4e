/**
 * What a build says while it runs. The engine only emits these; reporters (TTY progress, plain lines,
 * JSON) decide what a person sees. Engine code never calls `console`.
 */
import { Context, Effect, Layer } from "effect"
import type * as Cost from "./Cost.ts"
import type { Outputs } from "./Node.ts"

export type BuildEvent =
  | { readonly _tag: "Discovered"; readonly nodes: ReadonlyArray<{ readonly id: string; readonly stage: string }> }
  | { readonly _tag: "Started"; readonly id: string; readonly stage: string; readonly attempt: number; readonly pool: string }
  | {
      readonly _tag: "Cached"
      readonly id: string
      readonly stage: string
      /** What the stored result cost when it was made: money this build did not spend again. */
      readonly saved: Cost.Cost
      readonly savedMs: number
    }
  | {
      readonly _tag: "Built"
      readonly id: string
      readonly stage: string
      readonly cost: Cost.Cost
      readonly startedAt: number
      readonly endedAt: number
      readonly attempts: number
      /** What it stored (so a finished part can be shown while the rest is built). */
      readonly outputs?: Outputs | undefined
    }
  | {
      readonly _tag: "Retrying"
      readonly id: string
      readonly stage: string
      readonly attempt: number
      readonly delayMs: number
      readonly error: string
    }
  | { readonly _tag: "Failed"; readonly id: string; readonly stage: string; readonly error: string }
  | { readonly _tag: "Skipped"; readonly id: string; readonly stage: string; readonly because: string }
  | { readonly _tag: "WouldBuild"; readonly id: string; readonly stage: string; readonly estimate: Cost.Cost; readonly reason: string }
  | { readonly _tag: "Request"; readonly id: string; readonly request: Cost.RequestRecord }
  /** A paid node not started because its estimate would take the run over the cost cap. `spentUsd` is what
   *  finished nodes cost so far, `runningUsd` the estimates of paid nodes still running. */
  | {
      readonly _tag: "OverBudget"
      readonly id: string
      readonly stage: string
      readonly estimate: Cost.Cost
      readonly spentUsd: number
      readonly runningUsd: number
    }
  | { readonly _tag: "Warning"; readonly message: string }
  /** The build was stopped while a provider works on a paid request of this node: `kept`, its handle stays
   *  for the next build to collect; `waiting`, its answer is on the way and the build waits for it. */
  | {
      readonly _tag: "InFlight"
      readonly id: string
      readonly stage: string
      readonly provider: string
      readonly what: string
      readonly state: "kept" | "waiting"
    }

export class BuildEvents extends Context.Tag("storyshot/BuildEvents")<
  BuildEvents,
  { readonly emit: (event: BuildEvent) => Effect.Effect<void> }
>() {
  static readonly layerNoop = Layer.succeed(this, { emit: () => Effect.void })
  static readonly layerFanout = (...sinks: ReadonlyArray<(event: BuildEvent) => void>) =>
    Layer.succeed(this, {
      emit: (event) =>
        Effect.sync(() => {
          for (const sink of sinks) sink(event)
        })
    })
}
