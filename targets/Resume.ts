/**
 * Paid requests that outlive a crash: the handle a provider returns on submit is written to the store
 * (`inflight/`) before waiting, and the next build hands it back so the provider client re-attaches to the
 * same request instead of paying for a new one (the provider keeps results about an hour).
 */
import { Effect, Option, Schema } from "effect"
import type { RunContext } from "../src/engine/Node.ts"
import { FalHandle } from "../src/providers/fal/Queue.ts"

const decode = Schema.decodeUnknownOption(FalHandle)

/** Options for a fal call: record the handle on submit, re-attach to one recorded by an unfinished run. */
export const fal = (ctx: RunContext) =>
  ctx.inflight.get.pipe(
    Effect.map((json) => ({
      onSubmitted: (handle: FalHandle) => ctx.inflight.set(handle as any),
      resume: json === undefined ? undefined : Option.getOrUndefined(decode(json)),
      // Ctrl-C cancels requests still queued (nothing is billed for them) and forgets them, so the next build
      // submits anew instead of re-attaching to a cancelled request; a crash cancels nothing, and the next
      // build re-attaches.
      cancelOnInterrupt: true,
      onCancelled: () => ctx.inflight.clear
    }))
  )
