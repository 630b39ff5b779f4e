/**
 * How everything under `.storyshot/` is written so that a file is whole or absent, even when the disk fills
 * up or fails (ENOSPC, EDQUOT, EIO).
 *
 * `fs.writeSync` may write fewer bytes than asked and say so only in its return value: on a nearly full
 * disk the first call returns 32768 of 40000 and the next one throws ENOSPC. Writing once and renaming is
 * how `state.json` used to be cut at exactly 32768 bytes. Here every write loops until each byte is
 * written or fails; a file is fsynced and renamed into place only when it is whole, and a temp file that
 * could not be finished is removed.
 *
 * Appends (the journal, a run's `io.jsonl`) write one whole line or, when that fails part-way, cut the file
 * back to the length it had, so a failed append never leaves half a line for the next one to be glued to.
 * A line torn by a crash (no truncation happens then) is ended before the next line is written; readers
 * skip it with a warning.
 *
 * Every call goes through `io`, so a test can make the disk fill up or fail at any byte (see
 * `test/engine/faults.ts`) without needing a small file system.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { Effect, Schedule, Schema } from "effect"

/** Why a store write failed: the first two stop a build (nothing more can be written). */
export const StoreErrorReason = Schema.Literal("DiskFull", "IoError", "NotWritable", "Other")
export type StoreErrorReason = typeof StoreErrorReason.Type

export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  reason: StoreErrorReason,
  message: Schema.String,
  path: Schema.String,
  /** The system's error code (ENOSPC, EIO, ...), when there was one. */
  code: Schema.optional(Schema.String)
}) {}

/** A store that cannot take another write: the build stops instead of failing node after node. */
export const isStoreFailure = (e: unknown): boolean =>
  e instanceof StoreError && (e.reason === "DiskFull" || e.reason === "IoError" || e.reason === "NotWritable")

const reasonOf = (code: string | undefined): StoreErrorReason =>
  code === "ENOSPC" || code === "EDQUOT"
    ? "DiskFull"
    : code === "EIO"
      ? "IoError"
      : code === "EROFS" || code === "EACCES" || code === "EPERM"
        ? "NotWritable"
        : "Other"

/** A failed file operation as a StoreError whose message says what happened to which file and what to do. */
export const fsError = (what: string, p: string) => (e: unknown): StoreError => {
  if (e instanceof StoreError) return e
  const code = (e as NodeJS.ErrnoException)?.code
  const reason = reasonOf(code)
  const message =
    reason === "DiskFull"
      ? `the disk is full: could not ${what} ${p} (${code}); free some space and build again (what was stored so far is kept)`
      : reason === "IoError"
        ? `the disk failed: could not ${what} ${p} (${code}: input/output error); check the disk, then build again (what was stored so far is kept)`
        : reason === "NotWritable"
          ? `the store is not writable: could not ${what} ${p} (${code}); check the folder's permissions`
          : `could not ${what} ${p}: ${(e as Error)?.message ?? String(e)}`
  return new StoreError({ reason, message, path: p, code })
}

/** The file calls every store write makes; `withIo` swaps some of them (tests only). */
export interface Io {
  readonly openSync: (file: string, flags: string) => number
  readonly writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number) => number
  readonly fsyncSync: (fd: number) => void
  readonly ftruncateSync: (fd: number, length: number) => void
  readonly closeSync: (fd: number) => void
  readonly renameSync: (from: string, to: string) => void
  readonly copyFileSync: (from: string, to: string) => void
}

const nodeIo: Io = {
  openSync: (file, flags) => fs.openSync(file, flags),
  writeSync: (fd, buffer, offset, length) => fs.writeSync(fd, buffer, offset, length),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  closeSync: (fd) => fs.closeSync(fd),
  renameSync: (from, to) => fs.renameSync(from, to),
  copyFileSync: (from, to) => fs.copyFileSync(from, to)
}

export let io: Io = nodeIo

/** Replaces some file calls until the returned function is called (a test's disk that fills up or fails). */
export const withIo = (override: Partial<Io>): (() => void) => {
  const before = io
  io = { ...before, ...override }
  return () => {
    io = before
  }
}

/** Writes every byte of `bytes` at the file's current position, or throws: a short count is not an end. */
export const writeAll = (fd: number, bytes: Uint8Array) => {
  let offset = 0
  while (offset < bytes.length) {
    const n = io.writeSync(fd, bytes, offset, bytes.length - offset)
    // A write that makes no progress and raises nothing would loop forever: call it what it is.
    if (n <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })
    offset += n
  }
}

export const removeQuietly = (p: string) => {
  try {
    fs.rmSync(p, { force: true, recursive: true })
  } catch {}
}

const fsyncDir = (dir: string) => {
  // Directory fsync makes the rename itself durable on Linux/macOS; Windows cannot open directories.
  if (process.platform === "win32") return
  try {
    const fd = fs.openSync(dir, "r")
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    // best effort
  }
}

const isRetryableRename = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException)?.code
  return code === "EPERM" || code === "EBUSY" || code === "EACCES"
}

/** Renames retry briefly on Windows, where a virus scanner or indexer may hold a file for a moment. */
export const renameRetrying = (from: string, to: string) =>
  Effect.try({ try: () => io.renameSync(from, to), catch: (e) => e }).pipe(
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 20, while: isRetryableRename })
  )

/** Renames synchronously, retrying briefly on Windows (a sync caller cannot wait on a schedule). */
const renameSyncRetrying = (from: string, to: string) => {
  for (let i = 0; ; i++) {
    try {
      io.renameSync(from, to)
      return
    } catch (e) {
      if (i >= 20 || !isRetryableRename(e)) throw e
      const until = Date.now() + 50
      while (Date.now() < until) {
        // busy wait: rare, and only on Windows
      }
    }
  }
}

/**
 * fsync on libuv's thread pool: as durable once it returns as `fsyncSync`, but the process's other fibers run
 * meanwhile. A build writes every record, in-flight entry and object this way, two fsyncs each; done in the
 * main thread they were a third of a 40-sentence cloud build's wall time (34 s of 102 s, all else waiting).
 * Not interruptible: the descriptor is closed only once its fsync is over.
 */
const fsyncOff = (fd: number): Effect.Effect<void, unknown> =>
  Effect.uninterruptible(Effect.async<void, unknown>((resume) => fs.fsync(fd, (e) => resume(e ? Effect.fail(e) : Effect.void))))

/** `fsyncDir`, off the main thread (best effort too). */
const fsyncDirOff = (dir: string): Effect.Effect<void> => {
  if (process.platform === "win32") return Effect.void
  return Effect.suspend(() => {
    let fd: number
    try {
      fd = fs.openSync(dir, "r")
    } catch {
      return Effect.void
    }
    return fsyncOff(fd).pipe(Effect.ignore, Effect.ensuring(Effect.sync(() => fs.closeSync(fd))))
  })
}

/** Moves a finished temp file into place: fsync'd already; the rename and its directory are made durable. */
const commit = (tmp: string, target: string, what: string) =>
  renameRetrying(tmp, target).pipe(
    Effect.tap(() => fsyncDirOff(path.dirname(target))),
    Effect.catchAll((e) => {
      removeQuietly(tmp)
      return Effect.fail(fsError(what, target)(e))
    })
  )

/** Writes `data` to the new file `tmp`, every byte, and returns it open; a temp that could not be written is removed. */
const openTemp = (tmp: string, target: string, data: string | Uint8Array): number => {
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.mkdirSync(path.dirname(tmp), { recursive: true })
    const fd = io.openSync(tmp, "w")
    try {
      writeAll(fd, typeof data === "string" ? Buffer.from(data) : data)
    } catch (e) {
      io.closeSync(fd)
      throw e
    }
    return fd
  } catch (e) {
    removeQuietly(tmp)
    throw fsError("write", target)(e)
  }
}

/** Fsyncs and closes a temp file `openTemp` wrote (off the main thread); one that fails is removed. */
const syncTemp = (fd: number, tmp: string, target: string, what: string) =>
  fsyncOff(fd).pipe(
    Effect.ensuring(Effect.sync(() => io.closeSync(fd))),
    Effect.catchAll((e) => {
      removeQuietly(tmp)
      return Effect.fail(fsError(what, target)(e))
    })
  )

/** Writes `data` to the new file `tmp`, every byte, and fsyncs it (on this thread); a temp that could not be finished is removed. */
const writeTemp = (tmp: string, target: string, data: string | Uint8Array) => {
  const fd = openTemp(tmp, target, data)
  try {
    try {
      io.fsyncSync(fd)
    } finally {
      io.closeSync(fd)
    }
  } catch (e) {
    // Closed first: Windows cannot remove a file that is still open.
    removeQuietly(tmp)
    throw fsError("write", target)(e)
  }
}

/**
 * temp → write every byte → fsync → rename: the file at `target` is the old one or the whole new one.
 * `tmp` is a fresh name on the same volume (the store's `tmp/`, so that leftovers are found and removed).
 */
export const writeAtomic = (target: string, data: string | Uint8Array, tmp: string) =>
  // One step, as when it was all synchronous: a build stopped meanwhile leaves no temp file behind.
  Effect.uninterruptible(
    Effect.try({ try: () => openTemp(tmp, target, data), catch: (e) => (e instanceof StoreError ? e : fsError("write", target)(e)) }).pipe(
      Effect.flatMap((fd) => syncTemp(fd, tmp, target, "write")),
      Effect.zipRight(commit(tmp, target, "write"))
    )
  )

/** The same, for synchronous callers: throws a StoreError. */
export const writeAtomicSync = (target: string, data: string | Uint8Array, tmp: string) => {
  writeTemp(tmp, target, data)
  try {
    renameSyncRetrying(tmp, target)
  } catch (e) {
    removeQuietly(tmp)
    throw fsError("write", target)(e)
  }
  fsyncDir(path.dirname(target))
}

/** A fresh temp name in a store's `tmp/`, named by this process (housekeeping removes those of dead ones). */
export const tempName = (storeDir: string) => path.join(storeDir, "tmp", `${process.pid}-${randomBytes(6).toString("hex")}.tmp`)

/**
 * Copies a finished file to `tmp` (the store may be on another volume than the file), checks the copy is
 * whole, fsyncs it and renames it to `target`.
 */
export const copyAtomic = (file: string, target: string, size: number, tmp: string) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(target), { recursive: true })
      io.copyFileSync(file, tmp)
      const fd = io.openSync(tmp, "r+")
      try {
        const copied = fs.fstatSync(fd).size
        if (copied !== size)
          throw Object.assign(new Error(`ENOSPC: the copy holds ${copied} of ${size} bytes`), { code: "ENOSPC" })
      } catch (e) {
        io.closeSync(fd)
        throw e
      }
      return fd
    },
    catch: (e) => {
      removeQuietly(tmp)
      return fsError("store", target)(e)
    }
  }).pipe(
    Effect.flatMap((fd) => syncTemp(fd, tmp, target, "store")),
    Effect.zipRight(commit(tmp, target, "store")),
    Effect.uninterruptible
  )

/**
 * Moves `file`, the caller's own and on the store's volume (a rule's scratch output), to `target`: fsync, then
 * rename. Where it cannot be moved (another volume, a rename Windows refuses) it is copied (`copyAtomic`);
 * the file itself is never removed here, so a failure leaves it where it was.
 */
export const moveAtomic = (file: string, target: string, size: number, tmp: string) =>
  Effect.suspend(() => {
    let fd: number
    try {
      fs.mkdirSync(path.dirname(target), { recursive: true })
      fd = io.openSync(file, "r+")
    } catch {
      return copyAtomic(file, target, size, tmp)
    }
    return fsyncOff(fd).pipe(
      Effect.ensuring(Effect.sync(() => io.closeSync(fd))),
      Effect.zipRight(renameRetrying(file, target)),
      Effect.zipRight(fsyncDirOff(path.dirname(target))),
      Effect.catchAll(() => copyAtomic(file, target, size, tmp)),
      Effect.uninterruptible
    )
  })

/**
 * Appends one line (a newline is added) as a whole or not at all. A file whose last line was torn by a
 * crash gets that line ended first, so the new one stays readable. Not fsynced: what is appended here is
 * a hint that the records (which are fsynced) can rebuild.
 */
export const appendLine = (file: string, line: string) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      const fd = io.openSync(file, "a+")
      let before = 0
      try {
        before = fs.fstatSync(fd).size
        let prefix = ""
        if (before > 0) {
          const last = Buffer.alloc(1)
          fs.readSync(fd, last, 0, 1, before - 1)
          if (last[0] !== 0x0a) prefix = "\n"
        }
        writeAll(fd, Buffer.from(`${prefix}${line}\n`))
      } catch (e) {
        try {
          io.ftruncateSync(fd, before)
        } catch {}
        throw e
      } finally {
        io.closeSync(fd)
      }
    },
    catch: fsError("append to", file)
  })
