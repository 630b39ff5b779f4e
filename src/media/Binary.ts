/**
 * Finding ffmpeg and ffprobe: `FFMPEG_PATH` / `FFPROBE_PATH`, else the npm installer packages.
 *
 * Surprises:
 * - npm here does not run the `@ffmpeg-installer/*` / `@ffprobe-installer/*` postinstall (`chmod u+x`), so the
 *   bundled binaries can arrive without the execute bit: we try to chmod them once before giving up.
 * - The installer packages *throw* (a string, not an Error) at require time when their binary is missing, so
 *   they are required lazily, inside a try.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { type Binary, FfmpegMissing } from "./Errors.ts"

const require = createRequire(import.meta.url)

const envName = (binary: Binary) => (binary === "ffmpeg" ? "FFMPEG_PATH" : "FFPROBE_PATH")
const packageName = (binary: Binary) => (binary === "ffmpeg" ? "@ffmpeg-installer/ffmpeg" : "@ffprobe-installer/ffprobe")

const installerPath = (binary: Binary): string | undefined => {
  try {
    const mod = require(packageName(binary)) as { path?: unknown }
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
export const resolveBinary = (binary: Binary): Effect.Effect<string, FfmpegMissing> =>
  Effect.suspend(() => {
    const name = envName(binary)
    const fromEnv = process.env[name]
    const candidate = fromEnv !== undefined && fromEnv !== "" ? fromEnv : installerPath(binary)
    const howToFix =
      `reinstall the dependencies (npm ci) so that ${packageName(binary)} is present, or set ${name} to a working ${binary} binary`
    if (candidate === undefined) {
      return Effect.fail(new FfmpegMissing({ binary, message: `${binary} was not found: ${howToFix}.` }))
    }
    let stat: fs.Stats
    try {
      stat = fs.statSync(candidate)
    } catch {
      return Effect.fail(
        new FfmpegMissing({
          binary,
          path: candidate,
          message: `${binary} was not found at ${candidate}${fromEnv ? ` (from ${name})` : ""}: ${howToFix}.`
        })
      )
    }
    if (!stat.isFile()) {
      return Effect.fail(new FfmpegMissing({ binary, path: candidate, message: `${candidate} is not a file: ${howToFix}.` }))
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
export const checkWorks = (binary: Binary): Effect.Effect<string, FfmpegMissing> =>
  resolveBinary(binary).pipe(
    Effect.flatMap((candidate) =>
      Effect.async<string, FfmpegMissing>((resume) => {
        const key = `${candidate}:${fs.statSync(candidate).mtimeMs}`
        if (working.has(key)) return resume(Effect.succeed(candidate))
        const broken = (why: string) =>
          resume(
            Effect.fail(
              new FfmpegMissing({
                binary,
                path: candidate,
                message: `${binary} at ${candidate} does not work (${why}): set ${envName(binary)} to a working ${binary}, or reinstall the dependencies (npm ci).`
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
        // Interrupted (Ctrl-C during start-up): the check dies with the scope that started it.
        return Effect.sync(() => child.kill("SIGKILL"))
      })
    )
  )
