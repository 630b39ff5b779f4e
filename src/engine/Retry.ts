/**
 * The retry room: whether a failed attempt of a node is tried again, and when.
 *
 * The money rule decides it: a paid request is repeated automatically only when the provider cannot have
 * billed it (refused before acceptance: 429, 5xx at submit, connection refused). Which errors those are is
 * the providers' knowledge, so a build passes one predicate (`BuildOptions.retryable`) that answers from an
 * error's tag and reason. Reads (status, result, upload, download) are retried inside the adapters, within
 * their own time budget, never here.
 *
 * The engine answers for its own errors first: a time-out of a free node is retried; of a paid node only
 * when its rule kept an in-flight handle to re-attach to (see `NodeTimeout`); a missing output or a store
 * that cannot be written is not. Without a predicate, the legacy `transient` flag an error carries decides
 * (`Transient.ts`), as before the predicate existed.
 *
 * Back-off is exponential with jitter from `retryBaseMs`; a verdict's `afterMs` (the provider's
 * Retry-After) is waited for at least.
 */
import { Duration, Effect, Schedule } from "effect"
import { StoreError } from "./Atomic.ts"
import { BudgetExceeded, NodeTimeout, OutputMissing } from "./scheduler/Errors.ts"
import { isTransient, retryAfterMs } from "./Transient.ts"

export interface RetryVerdict {
  readonly retry: boolean
  /** Wait at least this long before the next attempt (the other side's Retry-After). */
  readonly afterMs?: number | undefined
}

/** Whether a failure may be tried again without paying twice. */
export type Retryable = (error: unknown) => RetryVerdict

/** Without a predicate: the `transient` flag (and `retryAfterMs`) an error carries. */
export const legacy: Retryable = (error) => ({ retry: isTransient(error), afterMs: retryAfterMs(error) })

const no: RetryVerdict = { retry: false }

/** The verdict for one failure: the engine's own errors first, then the build's predicate. */
export const decide =
  (retryable: Retryable | undefined) =>
  (error: unknown): RetryVerdict => {
    if (error instanceof NodeTimeout) return { retry: error.retryable }
    if (error instanceof OutputMissing || error instanceof BudgetExceeded || error instanceof StoreError) return no
    const v = (retryable ?? legacy)(error)
    const after = v.afterMs
    return { retry: v.retry === true, afterMs: typeof after === "number" && Number.isFinite(after) && after >= 0 ? after : undefined }
  }

/**
 * At most `retries` more attempts while the verdict says so, each after the back-off or the verdict's
 * `afterMs`, whichever is longer. `onRetry` hears of each (the Retrying event) with the wait it will take.
 */
export const policy = (options: {
  readonly retries: number
  readonly baseMs: number
  readonly verdict: (error: unknown) => RetryVerdict
  readonly onRetry: (error: unknown, delayMs: number) => Effect.Effect<void>
}) =>
  Schedule.exponential(Duration.millis(options.baseMs), 2).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(options.retries)),
    Schedule.whileInput((e: unknown) => options.verdict(e).retry),
    Schedule.intersect(Schedule.identity<unknown>()),
    Schedule.modifyDelayEffect(([, error], delay) => {
      const wait = Math.max(Duration.toMillis(delay), options.verdict(error).afterMs ?? 0)
      return options.onRetry(error, wait).pipe(Effect.as(Duration.millis(wait)))
    })
  )
