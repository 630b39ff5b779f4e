/**
 * What a media file holds, from `ffprobe -of json -show_format -show_streams`: the container's duration and
 * each stream's codec, size, frame count and rate, or sample rate and channels. A file ffprobe cannot read
 * is `MediaInvalid` (the file's fault); ffprobe that cannot run is `FfmpegFailed` / `FfmpegMissing`.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { resolveBinary } from "./Binary.ts"
import { type FfmpegError, invalid, type MediaInvalid } from "./Errors.ts"
import { collect } from "./Process.ts"

export type StreamType = "video" | "audio" | "subtitle" | "data" | "attachment" | "unknown"

export interface StreamInfo {
  readonly type: StreamType
  readonly codec: string
  readonly width?: number | undefined
  readonly height?: number | undefined
  /** Frame count from the container header (`nb_frames`), when it has one. */
  readonly frames?: number | undefined
  /** Frames per second (`r_frame_rate`), for video. */
  readonly fps?: number | undefined
  readonly pixelFormat?: string | undefined
  readonly sampleRate?: number | undefined
  readonly channels?: number | undefined
  readonly durationSec?: number | undefined
}

export interface ProbeResult {
  /** 0 when the container has no duration (a still image). */
  readonly durationSec: number
  readonly formatName: string
  readonly streams: ReadonlyArray<StreamInfo>
}

const num = (value: unknown): number | undefined => {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN
  return Number.isFinite(n) ? n : undefined
}

const rate = (value: unknown): number | undefined => {
  if (typeof value !== "string") return undefined
  const [a, b] = value.split("/")
  const n = num(a)
  const d = b === undefined ? 1 : num(b)
  return n !== undefined && d !== undefined && d !== 0 && n !== 0 ? n / d : undefined
}

const streamTypes: ReadonlyArray<StreamType> = ["video", "audio", "subtitle", "data", "attachment"]

/** Turns `ffprobe -of json -show_format -show_streams` output into a ProbeResult. */
export const parseProbe = (json: string): ProbeResult | undefined => {
  let data: any
  try {
    data = JSON.parse(json)
  } catch {
    return undefined
  }
  if (typeof data !== "object" || data === null || typeof data.format !== "object") return undefined
  const streams: Array<StreamInfo> = (Array.isArray(data.streams) ? data.streams : []).map((s: any) => {
    const type: StreamType = streamTypes.includes(s.codec_type) ? s.codec_type : "unknown"
    return {
      type,
      codec: typeof s.codec_name === "string" ? s.codec_name : "unknown",
      width: num(s.width),
      height: num(s.height),
      frames: num(s.nb_frames),
      fps: type === "video" ? rate(s.r_frame_rate) : undefined,
      pixelFormat: typeof s.pix_fmt === "string" ? s.pix_fmt : undefined,
      sampleRate: num(s.sample_rate),
      channels: num(s.channels),
      durationSec: num(s.duration)
    }
  })
  return {
    durationSec: num(data.format.duration) ?? 0,
    formatName: typeof data.format.format_name === "string" ? data.format.format_name : "unknown",
    streams
  }
}

/** The checks every probe makes before running ffprobe: the file exists, is a file, and is not empty. */
export const checkFile = (absolute: string): Effect.Effect<void, MediaInvalid> =>
  Effect.suspend(() => {
    let stat: fs.Stats | undefined
    try {
      stat = fs.statSync(absolute)
    } catch {
      stat = undefined
    }
    if (stat === undefined) return Effect.fail(invalid(absolute, "the file does not exist"))
    if (!stat.isFile()) return Effect.fail(invalid(absolute, "it is not a file"))
    if (stat.size === 0) return Effect.fail(invalid(absolute, "the file is empty"))
    return Effect.void
  })

/** Reads a media file's container and streams with ffprobe. */
export const probe = Effect.fn("Ffmpeg.probe")(function* (file: string): Effect.fn.Return<ProbeResult, FfmpegError | MediaInvalid> {
  const absolute = path.resolve(file)
  yield* checkFile(absolute)
  const binaryPath = yield* resolveBinary("ffprobe")
  const result = yield* collect(
    "ffprobe",
    binaryPath,
    ["-v", "error", "-of", "json", "-show_format", "-show_streams", absolute],
    `read ${absolute}`
  ).pipe(
    Effect.catchTag("FfmpegFailed", (error): Effect.Effect<never, MediaInvalid | FfmpegError> =>
      // ffprobe exits 1 for a file it cannot read; a spawn failure (no exit code) is ffprobe's own problem.
      error.exitCode !== undefined
        ? Effect.fail(invalid(absolute, `ffprobe cannot read it${error.stderrTail ? ` (${error.stderrTail.split("\n")[0]})` : ""}`))
        : Effect.fail(error)
    )
  )
  const parsed = parseProbe(result.stdout)
  if (parsed === undefined) return yield* Effect.fail(invalid(absolute, "ffprobe gave no readable description of it"))
  return parsed
})
