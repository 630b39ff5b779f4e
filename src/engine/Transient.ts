/**
 * The one place that decides whether a failure is worth retrying.
 *
 * Any error may opt in by carrying `transient: true` (and, when the other side said how long to
 * wait, `retryAfterMs`). Providers set these fields where they classify HTTP answers
 * (`src/providers/Http.ts`); the scheduler reads them here and nowhere else.
 */
export interface RetryHint {
  readonly transient: boolean
  readonly retryAfterMs?: number | undefined
}

const hint = (error: unknown): RetryHint | undefined =>
  typeof error === "object" && error !== null && "transient" in error && typeof (error as any).transient === "boolean"
    ? (error as RetryHint)
    : undefined

export const isTransient = (error: unknown): boolean => hint(error)?.transient === true

export const retryAfterMs = (error: unknown): number | undefined => {
  const ms = hint(error)?.retryAfterMs
  return typeof ms === "number" && Number.isFinite(ms) && ms >= 0 ? ms : undefined
}
