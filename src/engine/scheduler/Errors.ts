/**
 * The scheduler's own failures. Each is a tagged error with the node's id and a message a person can act
 * on; a node's failure reaches the build's summary as the error itself (`BuildResult.failed[].cause`), not
 * only as its message.
 */
import { Schema } from "effect"

/** A target id that no node of the graph (or of its expansions) has. */
export class UnknownTarget extends Schema.TaggedError<UnknownTarget>()("UnknownTarget", {
  id: Schema.String,
  /** Ids of the same shape that do exist (e.g. the shots there are), for the message. */
  similar: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/**
 * A node's rule ran longer than its time-out and was interrupted.
 *
 * Retried only when repeating it cannot pay twice: a free node, or a paid one whose rule kept an in-flight
 * handle (the next attempt re-attaches to the request instead of sending it again). A paid request that
 * timed out without a handle may have been billed, so it is not repeated automatically: the message says
 * what to run to pay for it again.
 */
export class NodeTimeout extends Schema.TaggedError<NodeTimeout>()("NodeTimeout", {
  id: Schema.String,
  paid: Schema.Boolean,
  /** An in-flight handle was kept: a retry re-attaches to the request. */
  reattach: Schema.Boolean,
  message: Schema.String
}) {
  get retryable(): boolean {
    return !this.paid || this.reattach
  }
  /** What the legacy predicate (`Transient.ts`) reads. */
  get transient(): boolean {
    return this.retryable
  }
}

/** A rule said it produced a file that is missing or empty. */
export class OutputMissing extends Schema.TaggedError<OutputMissing>()("OutputMissing", {
  id: Schema.String,
  output: Schema.String,
  file: Schema.String,
  message: Schema.String
}) {}

/** A node's `expand` threw, or its expansion closed a dependency cycle. */
export class ExpansionFailed extends Schema.TaggedError<ExpansionFailed>()("ExpansionFailed", {
  id: Schema.String,
  cycle: Schema.optional(Schema.Array(Schema.String)),
  message: Schema.String
}) {}

/** A rule died instead of failing (a bug: a throw, an `orDie`): kept apart from failures a user can fix. */
export class NodeDefect extends Schema.TaggedError<NodeDefect>()("NodeDefect", {
  id: Schema.String,
  defect: Schema.Defect,
  message: Schema.String
}) {}

export class CycleError extends Schema.TaggedError<CycleError>()("CycleError", {
  cycle: Schema.Array(Schema.String),
  message: Schema.String
}) {}

export const messageOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string" && error.message)
    return error.message
  return String(error)
}

/** A paid node not started because its estimate would take the build's spend over the cost cap. */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  id: Schema.String,
  capUsd: Schema.Number,
  spentUsd: Schema.Number,
  runningUsd: Schema.Number,
  message: Schema.String
}) {}
