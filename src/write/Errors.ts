/**
 * What `storyshot write` can fail with: one closed union, each a line a person can act on. `reason` says
 * which kind of trouble it is, so the CLI and tests never match on words.
 */
import { Schema } from "effect"

export class WriteError extends Schema.TaggedError<WriteError>()("WriteError", {
  reason: Schema.Literal(
    /** The command line does not make sense (an unknown length, --topic with --verbatim, ...): exit 2. */
    "usage",
    /** A --from file cannot be read. */
    "file",
    /** A --url cannot be fetched: bad URL, network, time-out, HTTP status, not HTML, too big, redirects. */
    "page",
    /** A source has no main text to narrate. */
    "no-text",
    /** --topic, or a script to write, without the writer model's key. */
    "no-writer",
    /** The writer model's call failed (its provider's own words). */
    "writer",
    /** The estimate is over the spend cap: nothing was sent. */
    "over-budget",
    /** The transcript could not be written. */
    "output"
  ),
  message: Schema.String
}) {}
