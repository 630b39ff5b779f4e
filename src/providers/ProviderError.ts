import { Schema } from "effect"

/**
 * A failed call to an outside service. `transient` says whether trying again can help
 * (429, 502, 503, 504, time-outs, resets); the scheduler's retry policy reads it through
 * `src/engine/Transient.ts`. `message` is the provider's own words where it gave any, never a key.
 */
export class ProviderError extends Schema.TaggedError<ProviderError>()("ProviderError", {
  provider: Schema.String,
  message: Schema.String,
  status: Schema.optional(Schema.Number),
  code: Schema.optional(Schema.String),
  requestId: Schema.optional(Schema.String),
  transient: Schema.Boolean,
  retryAfterMs: Schema.optional(Schema.Number)
}) {}

/** A provider that the configuration names but that storyshot does not implement. */
export class ProviderUnavailable extends Schema.TaggedError<ProviderUnavailable>()("ProviderUnavailable", {
  provider: Schema.String,
  message: Schema.String
}) {
  readonly transient = false
}
