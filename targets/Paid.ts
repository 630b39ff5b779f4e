/**
 * What every paid implementation shares: how its calls follow the build (the node's journal keeps each paid
 * answer as it arrives; a Ctrl-C says what it keeps or waits for), and what happens to a paid answer that
 * cannot be used.
 *
 * A paid answer that arrived damaged, or never arrived, may have been billed. It is not bought again by
 * itself: the node fails with `PaidAnswerLost`, which says so and what to run to pay again, and the journal
 * notes it, so the request that does pay again is recorded as `repaid` (listed by `--json` and `report`).
 * `retryPaid: 1` in the config lets one build re-buy once by itself, reported the same way.
 */
import { Effect } from "effect"
import * as Cost from "../src/engine/Cost.ts"
import { BuildEvents } from "../src/engine/Events.ts"
import type { RunContext } from "../src/engine/Node.ts"
import type { Store } from "../src/engine/Store.ts"
import { PaidAnswerLost } from "../src/providers/Failure.ts"
import { displayName } from "../src/providers/Names.ts"
import type { Follow, Journal } from "../src/providers/Keep.ts"
import * as Once from "../src/providers/Once.ts"
import { isServiceError } from "../src/providers/Retryable.ts"
import * as JournalOnDisk from "./Journal.ts"
import { Settings } from "./Settings.ts"

export interface Paying {
  readonly follow: Follow
  readonly journal: Journal
  /** Why the request about to be made pays again for something an earlier attempt lost, if it does. */
  readonly repaid: string | undefined
}

const lostNote = "lost"

/** Failures in which a paid answer went missing or arrived unusable (not the model's own verdict). */
const lostReasons: ReadonlySet<string> = new Set(["no-answer", "dropped", "cut-off", "garbled", "not-an-image", "not-audio", "invalid-answer"])

/** The node's journal, and the build events its calls emit when the build is stopped. */
export const follow = (ctx: RunContext, provider: string): Effect.Effect<Paying, never, Store | BuildEvents> =>
  Effect.gen(function*() {
    const journal = yield* JournalOnDisk.of(ctx)
    const events = yield* BuildEvents
    const kept = yield* journal.read
    const emit = (state: "kept" | "waiting") => (what: string) =>
      events.emit({ _tag: "InFlight", id: ctx.node.id, stage: ctx.node.stage, provider, what, state })
    return {
      journal,
      follow: { journal, onKept: emit("kept"), onWaiting: emit("waiting") },
      // A lost answer noted by an earlier try, or a request an earlier build sent and never saw answered
      // (killed while the answer was on its way): the request about to be made may pay again, and says so.
      repaid: typeof kept.notes[lostNote] === "string" ? kept.notes[lostNote] : Once.unansweredWhy(kept.notes)
    }
  })

/**
 * The call's `Follow` with the provider's pool around the part the provider works in (`Follow.working`) and
 * its typical time from the last build's records (`Follow.typicalMs`: fal polls first then).
 */
export const inProvider = (ctx: RunContext, pool: string, follow: Follow): Follow => ({
  ...follow,
  working: (effect) => ctx.withPool(pool, effect),
  typicalMs: ctx.typicalMs(pool)
})

export interface PaidCall<A> {
  readonly provider: string
  readonly model: string
  /** What the request costs, to count a lost one (the provider billed it, or may have). */
  readonly estimate: Cost.Cost
  /** Kept answers to drop when the failure is in them, so the next try does not decode them again. */
  readonly kept: ReadonlyArray<string>
  readonly call: (paying: Paying) => Effect.Effect<A, unknown, any>
}

/**
 * Runs a paid call. A failure that may have cost money and that trying again cannot fix for free becomes
 * `PaidAnswerLost` (its request recorded at the estimate, so the run's spend shows it); with `retryPaid` the
 * call is made once more at once, as a recorded re-payment.
 */
export const paying = <A>(ctx: RunContext, spec: PaidCall<A>) =>
  Effect.gen(function*() {
    const ws = yield* Settings
    const first = yield* follow(ctx, spec.provider)
    const lose = (error: unknown, startedAt: number) =>
      Effect.gen(function*() {
        if (!isServiceError(error) || error.billed === "no" || error.worthRetrying || !lostReasons.has(error.reason)) return yield* Effect.fail(error)
        const why = `${error.message.split(": ")[0]} (an earlier attempt's answer was lost)`
        yield* first.journal.drop(spec.kept)
        yield* first.journal.note({ [lostNote]: why })
        yield* ctx.request({
          provider: spec.provider,
          model: spec.model,
          ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
          startedAt,
          endedAt: Date.now(),
          cost: spec.estimate.usd === undefined ? Cost.unknown : spec.estimate
        })
        return yield* Effect.fail(
          new PaidAnswerLost({
            service: displayName(spec.provider),
            failure: error.message,
            billed: error.billed,
            rerun: `storyshot build --target ${ctx.node.id}`
          })
        )
      })
    const attempt = (paying: Paying) => {
      const startedAt = Date.now()
      return spec.call(paying).pipe(Effect.catchAll((error) => lose(error, startedAt)))
    }
    return yield* attempt(first).pipe(
      Effect.catchIf(
        (e): e is PaidAnswerLost => e instanceof PaidAnswerLost && ws.config.retryPaid > 0,
        () => follow(ctx, spec.provider).pipe(Effect.flatMap(attempt))
      )
    )
  })

/**
 * A kept file that fails its check (ffprobe) must not be decoded again by every later build: it is dropped
 * from the journal, so the next try fetches it again (free while the provider still holds the result).
 */
export const droppingOnFailure = (ctx: RunContext, names: ReadonlyArray<string>, lost?: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Store> =>
    effect.pipe(
      Effect.tapError(() =>
        JournalOnDisk.of(ctx).pipe(
          Effect.flatMap((journal) => journal.drop(names).pipe(Effect.zipRight(lost === undefined ? Effect.void : journal.note({ [lostNote]: lost }))))
        )
      )
    )
