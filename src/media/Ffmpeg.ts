/**
 * The one place that spawns ffmpeg and ffprobe.
 *
 * Surprises this file deals with:
 * - npm here does not run the `@ffmpeg-installer/*` / `@ffprobe-installer/*` postinstall (`chmod u+x`), so the
 *   bundled binaries can arrive without the execute bit: we try to chmod them once before giving up.
 * - The installer packages *throw* (a string, not an Error) at require time when their binary is missing, so
 *   they are required lazily, inside a try.
 * - fluent-ffmpeg builds its argument list as inputs (each with its options), `-y`, output options, output, and
 *   checks any `-f` among output options as a *muxer* (so `-f lavfi` there fails). We split our argument array
 *   at each `-i`: what precedes an `-i` becomes that input's options, the rest the output's, the last argument
 *   the output, so ffmpeg sees our order. `inputOptions`/`outputOptions` split a lone "a b" string on its
 *   space unless given several arguments, so we always pass them as separate arguments. No shell is involved.
 * - fluent-ffmpeg runs `ffmpeg -encoders` once per process before the first command (it caches the answer).
 * - fluent-ffmpeg only exposes the child process as the undocumented `ffmpegProc` property once its `start`
 *   event fires; an interruption that arrives before that is honoured as soon as the process starts.
 * - drawtext text goes through up to three levels of escaping (text expansion, the filter's option string, the
 *   filtergraph). Prefer `textfile=` with `expansion=none`; paths that enter a filter still need `filterPath`.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import ffmpeg from "fluent-ffmpeg"

// ---------------------------------------------------------------------------------------------------------
// Errors

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

export type FfmpegError = FfmpegMissing | FfmpegFailed

// ---------------------------------------------------------------------------------------------------------
// Types

export interface RunOptions {
  /** What the command is for, in words a person reads in an error ("render storyboard card"). */
  readonly purpose?: string | undefined
  /** Called with the child's pid as soon as it runs (tests, progress displays). */
  readonly onSpawn?: ((pid: number) => void) | undefined
  readonly cwd?: string | undefined
}

export interface RunResult {
  /** The last lines ffmpeg wrote to stderr (at `-loglevel warning` unless the arguments say otherwise). */
  readonly stderr: string
}

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

export class Ffmpeg extends Context.Tag("storyshot/Ffmpeg")<
  Ffmpeg,
  {
    /** Runs ffmpeg with `args` (the last one is the output). Interrupting kills the process with SIGKILL. */
    readonly run: (args: ReadonlyArray<string>, opts?: RunOptions) => Effect.Effect<RunResult, FfmpegError>
    /** Reads a media file's container and streams. A file ffprobe cannot read is `MediaInvalid`. */
    readonly probe: (file: string) => Effect.Effect<ProbeResult, FfmpegError | MediaInvalid>
  }
>() {
  static readonly layer: Layer.Layer<Ffmpeg> = Layer.sync(this, () => make())
}

// ---------------------------------------------------------------------------------------------------------
// Binary resolution

const require = createRequire(import.meta.url)

const installerPath = (binary: "ffmpeg" | "ffprobe"): string | undefined => {
  try {
    const mod = require(binary === "ffmpeg" ? "@ffmpeg-installer/ffmpeg" : "@ffprobe-installer/ffprobe") as {
      path?: unknown
    }
    return typeof mod.path === "string" ? mod.path : undefined
  } catch {
    return undefined
  }
}

const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Finds the binary: `FFMPEG_PATH` / `FFPROBE_PATH`, else the npm installer package. */
export const resolveBinary = (binary: "ffmpeg" | "ffprobe"): Effect.Effect<string, FfmpegMissing> =>
  Effect.suspend(() => {
    const envName = binary === "ffmpeg" ? "FFMPEG_PATH" : "FFPROBE_PATH"
    const fromEnv = process.env[envName]
    const candidate = fromEnv !== undefined && fromEnv !== "" ? fromEnv : installerPath(binary)
    const howToFix =
      `reinstall the dependencies (npm ci) so that ${binary === "ffmpeg" ? "@ffmpeg-installer/ffmpeg" : "@ffprobe-installer/ffprobe"} ` +
      `is present, or set ${envName} to a working ${binary} binary`
    if (candidate === undefined) {
      return Effect.fail(
        new FfmpegMissing({ binary, message: `${binary} was not found: ${howToFix}.` })
      )
    }
    let stat: fs.Stats
    try {
      stat = fs.statSync(candidate)
    } catch {
      return Effect.fail(
        new FfmpegMissing({
          binary,
          path: candidate,
          message: `${binary} was not found at ${candidate}${fromEnv ? ` (from ${envName})` : ""}: ${howToFix}.`
        })
      )
    }
    if (!stat.isFile()) {
      return Effect.fail(
        new FfmpegMissing({ binary, path: candidate, message: `${candidate} is not a file: ${howToFix}.` })
      )
    }
    if (!isExecutable(candidate)) {
      // The installer's postinstall would have done this; on Windows X_OK is only an existence check.
      try {
        fs.chmodSync(candidate, stat.mode | 0o111)
      } catch {
        // Not ours to chmod (read-only install): the check below explains what to do.
      }
      if (!isExecutable(candidate)) {
        return Effect.fail(
          new FfmpegMissing({
            binary,
            path: candidate,
            message: `${binary} at ${candidate} is not executable and could not be made so: run "chmod u+x ${candidate}", or ${howToFix}.`
          })
        )
      }
    }
    return Effect.succeed(candidate)
  })

const working = new Map<string, true>()

/**
 * Resolves the binary and checks that it runs (`-version` exits 0 and names itself), before a build starts:
 * a wrong FFMPEG_PATH, a binary for another platform or a broken install is the user's to fix (exit 2), not
 * a failure of every render later. Remembered per binary file for the life of the process.
 */
export const checkWorks = (binary: "ffmpeg" | "ffprobe"): Effect.Effect<string, FfmpegMissing> =>
  resolveBinary(binary).pipe(
    Effect.flatMap((candidate) =>
      Effect.async<string, FfmpegMissing>((resume) => {
        const key = `${candidate}:${fs.statSync(candidate).mtimeMs}`
        if (working.has(key)) return resume(Effect.succeed(candidate))
        const envName = binary === "ffmpeg" ? "FFMPEG_PATH" : "FFPROBE_PATH"
        const broken = (why: string) =>
          resume(
            Effect.fail(
              new FfmpegMissing({
                binary,
                path: candidate,
                message: `${binary} at ${candidate} does not work (${why}): set ${envName} to a working ${binary}, or reinstall the dependencies (npm ci).`
              })
            )
          )
        let out = ""
        const child = spawn(candidate, ["-version"], { stdio: ["ignore", "pipe", "ignore"], windowsHide: true })
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
        child.stdout.on("data", (chunk) => (out += String(chunk)))
        child.on("error", (e) => {
          clearTimeout(timer)
          broken(e.message)
        })
        child.on("close", (code, signal) => {
          clearTimeout(timer)
          if (code === 0 && new RegExp(`${binary} version`, "i").test(out)) {
            working.set(key, true)
            resume(Effect.succeed(candidate))
          } else broken(signal ? `\`${binary} -version\` was killed by ${signal}` : `\`${binary} -version\` exited with code ${code}`)
        })
        return Effect.sync(() => child.kill("SIGKILL"))
      })
    )
  )

// ---------------------------------------------------------------------------------------------------------
// Running

const TAIL_LINES = 15

const tail = (text: string | null | undefined, lines = TAIL_LINES): string =>
  (text ?? "")
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .slice(-lines)
    .join("\n")

const hasOption = (args: ReadonlyArray<string>, ...names: ReadonlyArray<string>) =>
  args.some((arg) => names.includes(arg))

const failed = (
  binary: "ffmpeg" | "ffprobe",
  purpose: string,
  detail: { exitCode?: number | undefined; signal?: string | undefined; stderr: string; cause?: string | undefined }
) => {
  const stderrTail = tail(detail.stderr)
  const how =
    detail.exitCode !== undefined
      ? `exited with code ${detail.exitCode}`
      : detail.signal !== undefined
        ? `was killed by ${detail.signal}`
        : `failed${detail.cause ? ` (${detail.cause})` : ""}`
  return new FfmpegFailed({
    binary,
    purpose,
    exitCode: detail.exitCode,
    signal: detail.signal,
    stderrTail,
    message: `${binary} ${how} while trying to ${purpose}${stderrTail ? `:\n${stderrTail}` : "."}`
  })
}

/** fluent-ffmpeg sets this undocumented property just before it emits `start`. */
interface WithProcess {
  readonly ffmpegProc?: ChildProcess | undefined
}

const runFfmpeg = (binaryPath: string, args: ReadonlyArray<string>, opts: RunOptions) =>
  Effect.async<RunResult, FfmpegFailed>((resume) => {
    const purpose = opts.purpose ?? "run ffmpeg"
    const output = args[args.length - 1]
    if (output === undefined) {
      resume(Effect.fail(failed("ffmpeg", purpose, { stderr: "", cause: "no arguments given" })))
      return
    }
    const leading = ["-hide_banner", "-nostdin"]
    if (!hasOption(args, "-loglevel", "-v")) leading.push("-loglevel", "warning")
    const command = ffmpeg({ stdoutLines: 200, cwd: opts.cwd })
    command.setFfmpegPath(binaryPath)
    let pending: Array<string> = [...leading]
    const body = args.slice(0, -1)
    for (let i = 0; i < body.length; i++) {
      if (body[i] === "-i" && i + 1 < body.length) {
        command.input(body[i + 1]!)
        if (pending.length > 0) command.inputOptions(pending[0]!, ...pending.slice(1))
        pending = []
        i++
      } else {
        pending.push(body[i]!)
      }
    }
    // Several arguments, so fluent-ffmpeg does not split any of them on spaces.
    if (pending.length > 0) command.outputOptions(pending[0]!, ...pending.slice(1))
    command.output(output)

    let interrupted = false
    let markDone: () => void = () => {}
    const done = new Promise<void>((resolve) => (markDone = resolve))

    command.on("start", () => {
      const child = (command as unknown as WithProcess).ffmpegProc
      if (child === undefined) return
      if (interrupted) {
        child.kill("SIGKILL")
        return
      }
      if (child.pid !== undefined) opts.onSpawn?.(child.pid)
    })
    command.on("error", (error, _stdout, stderr) => {
      markDone()
      const exit = /exited with code (\d+)/.exec(error.message)
      const signal = /killed with signal (\w+)/.exec(error.message)
      resume(
        Effect.fail(
          failed("ffmpeg", purpose, {
            exitCode: exit ? Number(exit[1]) : undefined,
            signal: signal ? signal[1] : undefined,
            stderr: stderr ?? "",
            cause: error.message.split("\n")[0]
          })
        )
      )
    })
    command.on("end", (_stdout, stderr) => {
      markDone()
      resume(Effect.succeed({ stderr: tail(stderr, 200) }))
    })
    command.run()

    // On interruption: kill, and wait until the process has really exited so no file is still being written.
    return Effect.promise(() => {
      interrupted = true
      ;(command as unknown as WithProcess).ffmpegProc?.kill("SIGKILL")
      return done
    })
  })

/** Spawns a binary directly (no shell) and collects its output; killed with SIGKILL on interruption. */
const collect = (binary: "ffmpeg" | "ffprobe", binaryPath: string, args: ReadonlyArray<string>, purpose: string) =>
  Effect.async<{ stdout: string; stderr: string }, FfmpegFailed>((resume) => {
    const child = spawn(binaryPath, [...args], { windowsHide: true, stdio: ["ignore", "pipe", "pipe"] })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
    let settled = false
    const done = new Promise<void>((resolve) => child.once("close", () => resolve()))
    child.once("error", (error) => {
      if (settled) return
      settled = true
      resume(Effect.fail(failed(binary, purpose, { stderr: "", cause: error.message })))
    })
    child.once("close", (code, signal) => {
      if (settled) return
      settled = true
      const out = { stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") }
      if (code === 0) resume(Effect.succeed(out))
      else
        resume(
          Effect.fail(failed(binary, purpose, { exitCode: code ?? undefined, signal: signal ?? undefined, stderr: out.stderr }))
        )
    })
    return Effect.promise(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      return done
    })
  })

// ---------------------------------------------------------------------------------------------------------
// Probing

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

// ---------------------------------------------------------------------------------------------------------
// The service

const make = (): Ffmpeg["Type"] => {
  const run = Effect.fn("Ffmpeg.run")(function* (args: ReadonlyArray<string>, opts?: RunOptions) {
    const binaryPath = yield* resolveBinary("ffmpeg")
    return yield* runFfmpeg(binaryPath, args, opts ?? {})
  })

  const probe = Effect.fn("Ffmpeg.probe")(function* (file: string) {
    const absolute = path.resolve(file)
    const invalid = (reason: string) =>
      new MediaInvalid({ path: absolute, reason, message: `${absolute} is not usable media: ${reason}.` })
    const stat = yield* Effect.sync(() => {
      try {
        return fs.statSync(absolute)
      } catch {
        return undefined
      }
    })
    if (stat === undefined) return yield* Effect.fail(invalid("the file does not exist"))
    if (!stat.isFile()) return yield* Effect.fail(invalid("it is not a file"))
    if (stat.size === 0) return yield* Effect.fail(invalid("the file is empty"))
    const binaryPath = yield* resolveBinary("ffprobe")
    const result = yield* collect(
      "ffprobe",
      binaryPath,
      ["-v", "error", "-of", "json", "-show_format", "-show_streams", absolute],
      `read ${absolute}`
    ).pipe(
      Effect.catchTag("FfmpegFailed", (error): Effect.Effect<never, MediaInvalid | FfmpegFailed> =>
        // ffprobe exits 1 for a file it cannot read; a spawn failure (no exit code) is ffprobe's own problem.
        error.exitCode !== undefined
          ? Effect.fail(invalid(`ffprobe cannot read it${error.stderrTail ? ` (${error.stderrTail.split("\n")[0]})` : ""}`))
          : Effect.fail(error)
      )
    )
    const parsed = parseProbe(result.stdout)
    if (parsed === undefined) return yield* Effect.fail(invalid("ffprobe gave no readable description of it"))
    return parsed
  })

  return { run, probe }
}

// ---------------------------------------------------------------------------------------------------------
// Verification

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
  const invalid = (reason: string) =>
    new MediaInvalid({ path: absolute, reason, message: `${absolute} is not usable media: ${reason}.` })
  const info = yield* ff.probe(absolute)
  const video = info.streams.find((s) => s.type === "video")
  const audio = info.streams.find((s) => s.type === "audio")
  if ((expect.video || expect.image) && (video === undefined || !(video.width! > 0) || !(video.height! > 0))) {
    return yield* Effect.fail(invalid(expect.image ? "it has no picture" : "it has no video stream"))
  }
  if (expect.audio && audio === undefined) return yield* Effect.fail(invalid("it has no audio stream"))
  if ((expect.video || expect.audio) && !(info.durationSec > 0)) {
    return yield* Effect.fail(invalid("its duration is zero"))
  }
  yield* ff
    .run(["-v", "error", "-xerror", "-i", absolute, "-t", "0.2", "-f", "null", "-"], {
      purpose: `decode ${absolute}`
    })
    .pipe(
      Effect.catchTag("FfmpegFailed", (error) =>
        Effect.fail(invalid(`it does not decode${error.stderrTail ? ` (${error.stderrTail.split("\n")[0]})` : ""}`))
      )
    )
  return info
})

// ---------------------------------------------------------------------------------------------------------
// Filtergraph escaping

/** Escapes a value for a filter's option string (level 1: `key=value:key=value`). */
export const escapeOptionValue = (value: string): string => value.replace(/[\\':]/g, (c) => `\\${c}`)

/** Escapes a filter description for a filtergraph (level 2: `a=1,b=2;[x]c[y]`). */
export const escapeGraph = (description: string): string => description.replace(/[\\'[\],;]/g, (c) => `\\${c}`)

/** A value (a path, a colour, any text) for `-vf`/`-filter_complex`, e.g. `fontfile=${filterValue(p)}`. */
export const filterValue = (value: string): string => escapeGraph(escapeOptionValue(value))

/**
 * A file path for a filter option. Windows separators become `/` (ffmpeg accepts both) so that only the
 * drive colon needs escaping: `C:\fonts\a.ttf` → `C\\:/fonts/a.ttf` in the graph, `C:/fonts/a.ttf` to the filter.
 */
export const filterPath = (file: string): string => filterValue(path.resolve(file).replace(/\\/g, "/"))

/**
 * Literal text for drawtext's `text=` with its default `expansion=normal`: `\` and `%` are escaped for the
 * expansion, then the value for the option string and the graph. Prefer `textfile=` + `expansion=none`.
 */
export const filterText = (text: string): string => filterValue(text.replace(/[\\%]/g, (c) => `\\${c}`))
