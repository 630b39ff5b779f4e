/**
 * `shot:K:video`: motion for shot K. What every clip maker shares.
 */
import { Effect } from "effect"
import type { Produced } from "../../src/engine/Node.ts"
import { verifyMedia } from "../../src/media/Verify.ts"

export const version = 1

/** The clip decodes and has a picture. */
export const verify = (produced: Produced) => {
  const video = produced.video
  return video !== undefined && "file" in video ? verifyMedia(video.file, { video: true }).pipe(Effect.asVoid) : Effect.void
}
