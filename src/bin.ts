/**
 * The only file that touches process.argv. Exit codes: 0 success, 1 a target failed, 2 bad usage, config or
 * input, 130 interrupted. Errors a user can fix print as one line, without a stack trace.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { ValidationError } from "@effect/cli"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { cli } from "./cli/Main.ts"

let interrupts = 0
const onSignal = (signal: NodeJS.Signals) => {
  // The first SIGINT/SIGTERM interrupts the build (runMain's handler): scheduling stops, queued provider
  // requests are cancelled, ffmpeg is killed, finished nodes stay recorded, and the exit code is 130.
  // A second one exits at once. Every store write is temp → fsync → rename and a record is written only
  // after its objects, so even that leaves the store valid; the workspace lock goes with the process
  // (an exit hook removes it, and a lock whose process is dead is taken over anyway).
  if (++interrupts > 1) {
    process.stderr.write(`\nstoryshot: stopped at once (second ${signal === "SIGINT" ? "Ctrl-C" : signal})\n`)
    process.exit(130)
  }
  process.stderr.write(
    `\nstoryshot: stopping (nothing new starts; finished steps are kept, and so is paid work a provider has started; ${signal === "SIGINT" ? "Ctrl-C" : signal} again to quit at once)\n`
  )
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

// `storyshot graph | head -1`: the reader has what it wanted and closed the pipe. As for a Unix tool killed by
// SIGPIPE, that ends the command, quietly and successfully (Node would otherwise throw an unhandled EPIPE
// 'error' with a stack trace and exit 1). Store writes are atomic and the lock goes with the process.
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0)
    throw error
  })

const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.isInterruptedOnly(exit.cause)) return 130
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return 70
  const error = failure.value as { _tag?: string }
  if (error._tag === "BuildFailed") return 1
  return 2
}

// What @effect/cli needs (files and folders named by options, help on the terminal); not NodeContext, whose
// command executor and workers nothing here uses (their modules cost start-up time). Rules may need any
// service; every one is provided by the commands themselves (Session.layers).
const platform = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)
const program = (cli(process.argv) as Effect.Effect<void, unknown, Layer.Layer.Success<typeof platform>>).pipe(
  Effect.tapErrorCause((cause) =>
    Effect.sync(() => {
      if (Cause.isInterruptedOnly(cause)) return
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure)) {
        const error = failure.value as { _tag?: string; message?: string }
        // @effect/cli already printed its usage errors with help.
        if (ValidationError.isValidationError(error)) return
        if (error._tag === "BuildFailed") return
        process.stderr.write(`storyshot: ${error.message ?? String(error)}\n`)
      } else {
        process.stderr.write(`storyshot: internal error (please report it):\n${Cause.pretty(cause)}\n`)
      }
    })
  ),
  Effect.provide(platform)
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => onExit(exitCodeOf(exit))
})
