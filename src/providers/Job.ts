/**
 * A paid request that runs at the provider under an id we can come back to (Replicate's predictions,
 * OpenAI's background responses), the way fal's queue runs (`fal/Queue.ts`), for adapters that speak other
 * protocols: submit once, keep the handle, poll, collect.
 *
 * What the node's journal holds, in order:
 * - "submit": the raw bytes of the create answer, kept before they are decoded, and the handle (its id and
 *   URLs) as notes in the same write: a kill right after the create answer loses nothing, and the next build
 *   polls the same request instead of paying for another;
 * - "answer": the bytes of the poll that said the request is done (results are free to fetch again while the
 *   provider holds them, so this only saves a round trip and outlives the provider's retention).
 *
 * Ctrl-C: a request still waiting to start (nothing made, nothing billed) is cancelled and forgotten; one the
 * provider is working on is left alone (cancelling would not give the money back), its handle kept for the
 * next build. A request the provider no longer holds (`isGone`, e.g. a 404 after its retention) is bought
 * again, once, and the new request carries why (`repaid`).
 */
import { Duration, Effect, Option } from "effect"
import type { Json } from "../engine/Hash.ts"
import type { Http } from "./http/Client.ts"
import type { Follow } from "./Keep.ts"

export type JobState = "queued" | "working" | "done" | "failed"

export interface Polled<E> {
  readonly state: JobState
  /** The answer's bytes (kept as "answer" when done). */
  readonly bytes: Uint8Array
  /** Why it failed, in the provider's words (for `failed`). */
  readonly error?: E | undefined
}

export interface JobSpec<H extends { readonly [k: string]: Json }, E> {
  /** "clip", "image": how the build names it when it says what it keeps. */
  readonly what: string
  /** The handle in the journal's notes, when an earlier run noted one. */
  readonly handleOf: (notes: { readonly [k: string]: Json }) => H | undefined
  /** A kept create answer decoded into a handle (a kill came between the answer and its decoding). */
  readonly handleFromSubmit: (bytes: Uint8Array) => H | undefined
  /** The paid create call; it keeps its answer's bytes as "submit" with the handle as notes. */
  readonly submit: Effect.Effect<H, E, Http>
  /** A create failure that was a refusal (nothing was created): the "sent" note is cleared. */
  readonly refused?: ((error: E) => boolean) | undefined
  /** Why a new request may pay again when an earlier build sent a create and stopped before its answer. */
  readonly unansweredWhy?: string | undefined
  /** One status read (free: the adapter retries it in place). */
  readonly poll: (handle: H) => Effect.Effect<Polled<E>, E, Http>
  /** Cancels a request that has not started; whether the provider took it. */
  readonly cancel: (handle: H) => Effect.Effect<boolean, never, Http>
  /** The provider no longer holds this request. */
  readonly isGone: (error: E) => boolean
  /** Why a new request is bought when an earlier one is gone (for `repaid`). */
  readonly goneWhy: (handle: H) => string
  /** A failure that the handle's request could not be decoded from the kept create answer. */
  readonly garbledSubmit: (bytes: Uint8Array) => E
  readonly interval: { readonly initialMs: number; readonly maxMs: number }
}

export interface JobResult<H> {
  readonly handle: H
  readonly bytes: Uint8Array
  /** An earlier run's request was collected: nothing new was paid for. */
  readonly resumed: boolean
  /** from the first poll to the first sign of work */
  readonly queueMs: number
  readonly repaid?: string | undefined
}

/** What Ctrl-C does to a request we follow: a fresh look at its status decides (see the top). */
const onStop = <H extends { readonly [k: string]: Json }, E>(spec: JobSpec<H, E>, handle: H, follow: Follow) =>
  Effect.gen(function*() {
    const now = yield* spec.poll(handle).pipe(Effect.timeout(Duration.seconds(3)), Effect.option)
    if (Option.isSome(now) && now.value.state === "queued" && (yield* spec.cancel(handle))) {
      yield* follow.journal.forget
      return
    }
    if (follow.onKept) yield* follow.onKept(spec.what)
  }).pipe(Effect.ignore)

const await_ = <H extends { readonly [k: string]: Json }, E>(spec: JobSpec<H, E>, handle: H, follow: Follow) =>
  Effect.gen(function*() {
    const from = Date.now()
    let started: number | undefined
    let interval = spec.interval.initialMs
    for (;;) {
      const polled = yield* spec.poll(handle)
      if (polled.state !== "queued" && started === undefined) started = Date.now()
      if (polled.state === "failed") return yield* Effect.fail(polled.error as E)
      if (polled.state === "done") {
        yield* follow.journal.keep("answer", polled.bytes, "json")
        return { bytes: polled.bytes, queueMs: (started ?? Date.now()) - from }
      }
      yield* Effect.sleep(Duration.millis(interval))
      interval = Math.min(spec.interval.maxMs, Math.round(interval * 1.5))
    }
  }).pipe(Effect.onInterrupt(() => onStop(spec, handle, follow)))

/** Collects the request an earlier run of this node kept, or submits a new one, and waits for it. */
export const run = <H extends { readonly [k: string]: Json }, E>(spec: JobSpec<H, E>, follow: Follow) =>
  Effect.gen(function*() {
    const kept = yield* follow.journal.read
    const fresh = (repaid?: string) =>
      Effect.gen(function*() {
        // Noted before the create is sent: a kill while its answer is on its way leaves this note and no
        // handle, and the next build says that its new request may pay a second time.
        yield* follow.journal.note({ submitSentAt: Date.now() })
        const handle = yield* spec.submit.pipe(
          Effect.tapError((e) => (spec.refused?.(e) === true ? follow.journal.note({ submitSentAt: undefined }) : Effect.void))
        )
        const done = yield* await_(spec, handle, follow)
        return { handle, ...done, resumed: false, ...(repaid === undefined ? {} : { repaid }) } satisfies JobResult<H>
      })
    let handle = spec.handleOf(kept.notes)
    if (handle === undefined) {
      const submitted = kept.answer("submit")
      if (submitted !== undefined) {
        handle = spec.handleFromSubmit(submitted)
        if (handle === undefined) return yield* Effect.fail(spec.garbledSubmit(submitted))
        yield* follow.journal.note(handle)
      }
    }
    if (handle === undefined) {
      const unanswered = typeof kept.notes.submitSentAt === "number"
      return yield* fresh(unanswered ? spec.unansweredWhy ?? "an earlier build sent this request and stopped before its answer arrived (it may have been billed)" : undefined)
    }
    const resumed = handle
    const answer = kept.answer("answer")
    if (answer !== undefined) return { handle: resumed, bytes: answer, resumed: true, queueMs: 0 } satisfies JobResult<H>
    return yield* await_(spec, resumed, follow).pipe(
      Effect.map((done): JobResult<H> => ({ handle: resumed, ...done, resumed: true })),
      Effect.catchIf(
        (e): e is E => spec.isGone(e as E),
        () => follow.journal.forget.pipe(Effect.zipRight(fresh(spec.goneWhy(resumed))))
      )
    )
  })
