/**
 * Running the binaries: ffmpeg through fluent-ffmpeg (the stack's wrapper), ffprobe spawned directly. No
 * shell is involved, and a run dies with the scope that started it: interruption kills the process with
 * SIGKILL and waits until it has exited, so no file is still being written behind our back.
 *
 * Surprises:
 * - fluent-ffmpeg builds its argument list as inputs (each with its options), `-y`, output options, output, and
 *   checks any `-f` among output options as a *muxer* (so `-f lavfi` there fails). We split our argument array
 *   at each `-i`: what precedes an `-i` becomes that input's options, the rest the output's, the last argument
 *   the output, so ffmpeg sees our order. `inputOptions`/`outputOptions` split a lone "a b" string on its
 *   space unless given several arguments, so we always pass them as separate arguments.
 * - fluent-ffmpeg runs `ffmpeg -encoders` once per process before the first command (it caches the answer).
 * - fluent-ffmpeg only exposes the child process as the undocumented `ffmpegProc` property once its `start`
 *   event fires; an interruption that arrives before that is honoured as soon as the process starts.
 */
import { Effect } from "effect"
import { spawn, type ChildProcess } from "node:child_process"
import ffmpeg from "fluent-ffmpeg"
import { type Binary, FfmpegFailed } from "./Errors.ts"

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

const TAIL_LINES = 15

export const tail = (text: string | null | undefined, lines = TAIL_LINES): string =>
  (text ?? "")
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .slice(-lines)
    .join("\n")

const hasOption = (args: ReadonlyArray<string>, ...names: ReadonlyArray<string>) => args.some((arg) => names.includes(arg))

/** The failure of a command, with its last lines of stderr: what the user needs to see. */
export const failed = (
  binary: Binary,
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

/** Runs ffmpeg with `args` (the last one is the output). Interrupting kills the process with SIGKILL. */
export const runFfmpeg = (binaryPath: string, args: ReadonlyArray<string>, opts: RunOptions) =>
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
export const collect = (binary: Binary, binaryPath: string, args: ReadonlyArray<string>, purpose: string) =>
  Effect.async<{ stdout: string; stderr: string }, FfmpegFailed>((resume) => {
    const child = spawn(binaryPath, [...args], { windowsHide: true, stdio: ["ignore", "pipe", "pipe"] })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
    let settled = false
    // A process that never started emits "error" and maybe no "close": either ends the wait on interruption.
    const done = new Promise<void>((resolve) => {
      child.once("close", () => resolve())
      child.once("error", () => resolve())
    })
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
      else resume(Effect.fail(failed(binary, purpose, { exitCode: code ?? undefined, signal: signal ?? undefined, stderr: out.stderr })))
    })
    return Effect.promise(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      return done
    })
  })
