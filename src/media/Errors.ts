/**
 * The media rooms' failures, one closed union: the binary is missing or broken (the user's to fix, before a
 * build starts), a command failed (with ffmpeg's own last words), a file is not usable media, or a file around
 * a render (a temporary name, a scratch folder, a list) could not be written.
 */
import { Schema } from "effect"

export type Binary = "ffmpeg" | "ffprobe"

export class FfmpegMissing extends Schema.TaggedError<FfmpegMissing>()("FfmpegMissing", {
  binary: Schema.Literal("ffmpeg", "ffprobe"),
  path: Schema.optional(Schema.String),
  message: Schema.String
}) {
  readonly transient = false
}

export class FfmpegFailed extends Schema.TaggedError<FfmpegFailed>()("FfmpegFailed", {
  binary: Schema.Literal("ffmpeg", "ffprobe"),
  purpose: Schema.String,
  exitCode: Schema.optional(Schema.Number),
  signal: Schema.optional(Schema.String),
  stderrTail: Schema.String,
  message: Schema.String
}) {
  readonly transient = false
}

export class MediaInvalid extends Schema.TaggedError<MediaInvalid>()("MediaInvalid", {
  path: Schema.String,
  reason: Schema.String,
  message: Schema.String
}) {
  readonly transient = false
}

/** A file next to a render could not be written or moved (disk full, permissions). */
export class MediaIoError extends Schema.TaggedError<MediaIoError>()("MediaIoError", {
  path: Schema.String,
  message: Schema.String
}) {
  readonly transient = false
}

/** What running or probing can fail with. */
export type FfmpegError = FfmpegMissing | FfmpegFailed

/** What a renderer (card, Ken Burns, assemble) can fail with. */
export type RenderError = FfmpegError | MediaInvalid | MediaIoError

export const invalid = (file: string, reason: string): MediaInvalid =>
  new MediaInvalid({ path: file, reason, message: `${file} is not usable media: ${reason}.` })
