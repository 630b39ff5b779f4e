/**
 * The files around a render. Each renderer writes the file it is given to a temporary name next to it first
 * (same folder, same extension, so the same file system and the same muxer) and renames it into place once
 * ffmpeg succeeded: an interrupted or failed render never leaves a half-written file under the real name.
 */
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { MediaIoError } from "./Errors.ts"

export const io = <A>(file: string, what: string, f: () => A): Effect.Effect<A, MediaIoError> =>
  Effect.try({
    try: f,
    catch: (error) =>
      new MediaIoError({ path: file, message: `Could not ${what} ${file}: ${(error as Error).message ?? String(error)}` })
  })

const temporaryName = (target: string) => {
  const ext = path.extname(target)
  return path.join(path.dirname(target), `.${path.basename(target, ext)}.${crypto.randomBytes(4).toString("hex")}.tmp${ext}`)
}

/**
 * Runs `render` with temporary paths next to each of `outs` and renames them into place when it succeeds.
 * The temporary files are removed on failure and on interruption.
 */
export const writeAllAtomically = <A, E, R>(
  outs: ReadonlyArray<string>,
  render: (tmps: ReadonlyArray<string>) => Effect.Effect<A, E, R>
): Effect.Effect<ReadonlyArray<string>, E | MediaIoError, R> => {
  const targets = outs.map((out) => path.resolve(out))
  return Effect.acquireUseRelease(
    io(path.dirname(targets[0] ?? "."), "create the folder", () =>
      targets.map((target) => {
        fs.mkdirSync(path.dirname(target), { recursive: true })
        return temporaryName(target)
      })
    ),
    (tmps) =>
      render(tmps).pipe(
        Effect.zipRight(
          Effect.forEach(targets, (target, i) => io(target, "write", () => fs.renameSync(tmps[i]!, target)), { discard: true })
        ),
        Effect.as(targets)
      ),
    (tmps) => Effect.sync(() => tmps.forEach((tmp) => fs.rmSync(tmp, { force: true })))
  )
}

/** `writeAllAtomically` for one output. */
export const writeAtomically = <A, E, R>(
  out: string,
  render: (tmp: string) => Effect.Effect<A, E, R>
): Effect.Effect<string, E | MediaIoError, R> =>
  writeAllAtomically([out], ([tmp]) => render(tmp!)).pipe(Effect.map(([target]) => target!))

/** A scratch folder that is removed afterwards, whatever happens. */
export const withScratchDir = <A, E, R>(use: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    io(os.tmpdir(), "create a scratch folder in", () => fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-media-"))),
    use,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** Sizes and rates come from the config, which validates them; a bad one here is a bug upstream. */
export const requireFrame = (who: string, width: number, height: number, fps?: number) => {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2 || width % 2 || height % 2) {
    return Effect.dieMessage(`${who}: frame size ${width}x${height} must be even positive integers (H.264 yuv420p)`)
  }
  if (fps !== undefined && !(fps > 0 && Number.isFinite(fps))) return Effect.dieMessage(`${who}: bad fps ${fps}`)
  return Effect.void
}
