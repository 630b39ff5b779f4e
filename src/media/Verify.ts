/**
 * Is this file usable media? Run before anything is recorded: a record is written only after its outputs
 * are verified (DESIGN.md), so a truncated download or a half-written clip is never cached as a result.
 */
import { Effect } from "effect"
import * as path from "node:path"
import { invalid } from "./Errors.ts"
import { Ffmpeg } from "./Ffmpeg.ts"

export interface MediaExpectation {
  readonly video?: boolean | undefined
  readonly audio?: boolean | undefined
  readonly image?: boolean | undefined
}

/**
 * Fails with `MediaInvalid` unless `file` exists, is non-empty, decodes, and has the expected streams.
 * Decodes only the first fraction of a second: enough to catch a file that merely has valid-looking headers.
 */
export const verifyMedia = Effect.fn("Ffmpeg.verifyMedia")(function* (file: string, expect: MediaExpectation) {
  const ff = yield* Ffmpeg
  const absolute = path.resolve(file)
  const info = yield* ff.probe(absolute)
  const video = info.streams.find((s) => s.type === "video")
  const audio = info.streams.find((s) => s.type === "audio")
  if ((expect.video || expect.image) && (video === undefined || !(video.width! > 0) || !(video.height! > 0))) {
    return yield* Effect.fail(invalid(absolute, expect.image ? "it has no picture" : "it has no video stream"))
  }
  if (expect.audio && audio === undefined) return yield* Effect.fail(invalid(absolute, "it has no audio stream"))
  if ((expect.video || expect.audio) && !(info.durationSec > 0)) {
    return yield* Effect.fail(invalid(absolute, "its duration is zero"))
  }
  yield* ff
    .run(["-v", "error", "-xerror", "-i", absolute, "-t", "0.2", "-f", "null", "-"], { purpose: `decode ${absolute}` })
    .pipe(
      Effect.catchTag("FfmpegFailed", (error) =>
        Effect.fail(invalid(absolute, `it does not decode${error.stderrTail ? ` (${error.stderrTail.split("\n")[0]})` : ""}`))
      )
    )
  return info
})
