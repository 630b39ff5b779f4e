/**
 * The service every media room runs ffmpeg and ffprobe through: `run` and `probe`. It is the one place that
 * spawns them (see `Process.ts`), so a test can swap the real binaries for the fake command rig
 * (`Ffmpeg.layerTest`, `Rig.ts`) where real ffmpeg would be too slow.
 *
 * The rooms around it, in the order a render uses them: `Binary.ts` (finding the binaries), `Process.ts`
 * (running them), `Probe.ts` (reading a file), `Escape.ts` (values that enter a filtergraph), `Verify.ts`
 * (is this file usable media?), then the renderers: `Card.ts`, `KenBurns.ts`, `Assemble.ts`.
 */
import { Context, Effect, Layer } from "effect"
import { resolveBinary } from "./Binary.ts"
import type { FfmpegError, MediaInvalid } from "./Errors.ts"
import * as Probe from "./Probe.ts"
import { runFfmpeg, type RunOptions, type RunResult } from "./Process.ts"
import type { Rig } from "./Rig.ts"

export { FfmpegFailed, FfmpegMissing, MediaInvalid, type FfmpegError } from "./Errors.ts"
export type { RunOptions, RunResult } from "./Process.ts"
export type { ProbeResult, StreamInfo, StreamType } from "./Probe.ts"

export class Ffmpeg extends Context.Tag("storyshot/Ffmpeg")<
  Ffmpeg,
  {
    /** Runs ffmpeg with `args` (the last one is the output). Interrupting kills the process with SIGKILL. */
    readonly run: (args: ReadonlyArray<string>, opts?: RunOptions) => Effect.Effect<RunResult, FfmpegError>
    /** Reads a media file's container and streams. A file ffprobe cannot read is `MediaInvalid`. */
    readonly probe: (file: string) => Effect.Effect<Probe.ProbeResult, FfmpegError | MediaInvalid>
  }
>() {
  /** The real binaries (`FFMPEG_PATH` / `FFPROBE_PATH`, else the npm installer packages). */
  static readonly layer: Layer.Layer<Ffmpeg> = Layer.sync(this, () => ({
    run: Effect.fn("Ffmpeg.run")(function* (args: ReadonlyArray<string>, opts?: RunOptions) {
      const binaryPath = yield* resolveBinary("ffmpeg")
      return yield* runFfmpeg(binaryPath, args, opts ?? {})
    }),
    probe: Probe.probe
  }))

  /** The fake command rig: records every command, writes described stand-ins for outputs, probes them back. */
  static readonly layerTest = (rig: Rig): Layer.Layer<Ffmpeg> => Layer.succeed(this, rig.service)
}
