/**
 * The workspace lock: one build (or clean) at a time writes a store.
 *
 * No flock: it does not exist on Windows and is unreliable on network drives. The lock is a file created
 * with an exclusive create (`wx`), holding who took it (pid, hostname, start time, command). Whoever finds
 * it taken either waits (polling) or gives up at once (`wait: false`).
 *
 * A lock left by a dead process (kill -9, a power cut, a second Ctrl-C) is taken over: on the same host,
 * `process.kill(pid, 0)` answers ESRCH for a process that no longer exists (EPERM means it exists but is
 * someone else's: alive). A lock from another host cannot be checked, so it is never taken over.
 *
 * Taking over is a rename of the stale file to a private name followed by a check that what was moved is
 * the stale lock that was judged dead; if a live process re-took the lock in between, its file is linked
 * back (link is exclusive too), so two takers never both win.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { Duration, Effect, Schema, type Scope } from "effect"
import * as Atomic from "./Atomic.ts"

export interface Holder {
  readonly pid: number
  readonly hostname: string
  readonly startedAt: number
  readonly command: string
  /** Tells this process's own lock apart from another one taken by the same pid (a test, a watch mode). */
  readonly token: string
}

export class LockBusy extends Schema.TaggedError<LockBusy>()("LockBusy", {
  message: Schema.String,
  path: Schema.String
}) {}

export class LockError extends Schema.TaggedError<LockError>()("LockError", {
  message: Schema.String,
  path: Schema.String
}) {}

export const lockPath = (storeDir: string) => path.join(storeDir, "lock")

export const describe = (h: Holder): string =>
  `${h.command || "storyshot"} (pid ${h.pid}${h.hostname === os.hostname() ? "" : ` on ${h.hostname}`}, started ${new Date(h.startedAt).toLocaleTimeString()})`

const readHolder = (file: string): Holder | "missing" | "unreadable" => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : "unreadable"
  }
  try {
    const h = JSON.parse(text) as Holder
    if (typeof h.pid !== "number" || typeof h.hostname !== "string") return "unreadable"
    return h
  } catch {
    return "unreadable"
  }
}

/** Whether the process that took the lock still runs (always true for another host: it cannot be checked). */
export const isAlive = (h: Holder): boolean => {
  if (h.hostname !== os.hostname()) return true
  try {
    process.kill(h.pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** A lock file with no readable content older than this was torn by a crash while it was written. */
const tornAfterMs = 5_000

const sameHolder = (a: Holder, b: Holder) => a.pid === b.pid && a.token === b.token && a.startedAt === b.startedAt

/**
 * Moves a dead holder's lock out of the way. Returns true when the lock is free to take now.
 * `judged` is what was read when the holder was found dead ("unreadable" for a torn file).
 */
const takeOver = (file: string, judged: Holder | "unreadable"): boolean => {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString("hex")}`
  try {
    fs.renameSync(file, aside)
  } catch {
    return true // gone already: someone released or took it over; the next create decides
  }
  const moved = readHolder(aside)
  const same = judged === "unreadable" ? moved === "unreadable" || moved === "missing" : typeof moved === "object" && sameHolder(moved, judged)
  if (!same) {
    // A live process took the lock between our check and the rename: put its file back.
    try {
      fs.linkSync(aside, file)
    } catch {}
  }
  try {
    fs.rmSync(aside, { force: true })
  } catch {}
  return same
}

export interface AcquireOptions {
  /** Wait for the holder to finish (default), or fail at once with LockBusy. */
  readonly wait: boolean
  /** Called once, when the lock is found taken and the caller will wait. */
  readonly onWait?: ((holder: Holder, message: string) => Effect.Effect<void>) | undefined
  /** Called when a dead holder's lock is taken over. */
  readonly onTakeOver?: ((holder: Holder | undefined, message: string) => Effect.Effect<void>) | undefined
  /** Poll interval while waiting (default 250 ms). */
  readonly pollMs?: number | undefined
  /** What `describe` shows to the next comer, e.g. "storyshot build". */
  readonly command?: string | undefined
}

const ownLocks = new Set<string>()
let exitHookInstalled = false
/** A second Ctrl-C calls process.exit, which runs no finalizer: remove our locks on the way out anyway. */
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on("exit", () => {
    for (const file of ownLocks) {
      try {
        fs.rmSync(file, { force: true })
      } catch {}
    }
  })
}

type Attempt =
  | { readonly _tag: "Acquired"; readonly holder: Holder }
  | { readonly _tag: "Busy"; readonly holder: Holder }
  | { readonly _tag: "TookOver"; readonly holder: Holder | undefined }
  | { readonly _tag: "Retry" }

const tryOnce = (file: string, me: Holder): Effect.Effect<Attempt, LockError> =>
  Effect.try({
    try: (): Attempt => {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      let fd: number
      try {
        fd = fs.openSync(file, "wx")
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
        const holder = readHolder(file)
        if (holder === "missing") return { _tag: "Retry" }
        if (holder === "unreadable") {
          // Being written this very moment, or torn by a crash: only an old one is taken over.
          let age = 0
          try {
            age = Date.now() - fs.statSync(file).mtimeMs
          } catch {
            return { _tag: "Retry" }
          }
          if (age < tornAfterMs) return { _tag: "Busy", holder: { pid: 0, hostname: "?", startedAt: Date.now(), command: "another build", token: "" } }
          return takeOver(file, "unreadable") ? { _tag: "TookOver", holder: undefined } : { _tag: "Retry" }
        }
        if (isAlive(holder)) return { _tag: "Busy", holder }
        return takeOver(file, holder) ? { _tag: "TookOver", holder } : { _tag: "Retry" }
      }
      try {
        // Every byte, or no lock file at all: a torn one would make the next build wait for nothing.
        Atomic.writeAll(fd, Buffer.from(JSON.stringify(me)))
        fs.fsyncSync(fd)
      } catch (e) {
        fs.closeSync(fd)
        Atomic.removeQuietly(file)
        throw e
      }
      fs.closeSync(fd)
      return { _tag: "Acquired", holder: me }
    },
    catch: (e) => {
      const code = (e as NodeJS.ErrnoException)?.code
      const hint =
        code === "EROFS" || code === "EACCES" || code === "EPERM"
          ? ": the store folder is not writable (check its permissions, or build a copy of the workspace)"
          : code === "ENOSPC"
            ? ": the disk is full (free some space and build again)"
            : ""
      return new LockError({ message: `could not lock the workspace at ${file}: ${(e as Error)?.message ?? String(e)}${hint}`, path: file })
    }
  })

/** Releases the lock if it is still ours (a lock taken over by someone else after we died is not). */
const release = (file: string, me: Holder) =>
  Effect.sync(() => {
    ownLocks.delete(file)
    const now = readHolder(file)
    if (typeof now === "object" && sameHolder(now, me)) {
      try {
        fs.rmSync(file, { force: true })
      } catch {}
    }
  })

/**
 * Takes the lock on `storeDir` for the life of the scope. Waits (interruptibly) while a live process holds
 * it, unless `wait` is false; takes over a lock whose process is dead.
 */
export const acquire = (storeDir: string, options: AcquireOptions): Effect.Effect<Holder, LockBusy | LockError, Scope.Scope> => {
  const file = lockPath(storeDir)
  const me: Holder = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: Date.now(),
    command: options.command ?? "storyshot",
    token: randomBytes(8).toString("hex")
  }
  const pollMs = options.pollMs ?? 250
  const loop = (waited: boolean): Effect.Effect<Holder, LockBusy | LockError> =>
    tryOnce(file, me).pipe(
      Effect.flatMap((attempt): Effect.Effect<Holder, LockBusy | LockError> => {
        switch (attempt._tag) {
          case "Acquired":
            return Effect.succeed(me)
          case "Retry":
            return loop(waited)
          case "TookOver": {
            const message = attempt.holder
              ? `took over the workspace lock left by ${describe(attempt.holder)}, which is no longer running`
              : "took over a damaged workspace lock left by a crashed build"
            return (options.onTakeOver ? options.onTakeOver(attempt.holder, message) : Effect.void).pipe(Effect.zipRight(loop(waited)))
          }
          case "Busy": {
            const who = describe(attempt.holder)
            if (!options.wait)
              return Effect.fail(
                new LockBusy({
                  message: `another build is using this workspace: ${who}; wait for it to finish, or build without --no-wait to wait automatically${attempt.holder.hostname !== os.hostname() ? ` (it runs on another computer; if it is gone, delete ${file})` : ""}`,
                  path: file
                })
              )
            const say = !waited && options.onWait
              ? options.onWait(attempt.holder, `waiting for ${who} to finish with this workspace (Ctrl-C to stop; --no-wait exits instead)`)
              : Effect.void
            return say.pipe(Effect.zipRight(Effect.sleep(Duration.millis(pollMs))), Effect.zipRight(loop(true)))
          }
        }
      })
    )
  return Effect.acquireRelease(
    Effect.suspend(() => loop(false)).pipe(
      Effect.tap(() =>
        Effect.sync(() => {
          installExitHook()
          ownLocks.add(file)
        })
      )
    ),
    () => release(file, me)
  )
}

/** Who holds the lock now, if anyone alive does (for `verify` and messages). */
export const holder = (storeDir: string): Holder | undefined => {
  const h = readHolder(lockPath(storeDir))
  return typeof h === "object" && isAlive(h) ? h : undefined
}
