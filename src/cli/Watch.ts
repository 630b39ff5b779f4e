/**
 * Watch mode: `storyshot build --watch` and `storyshot superprompt --watch`.
 *
 * An edit during a build queues the next build; it does not cancel the running one. A cancelled build would
 * throw away paid requests that were about to finish (a clip costs money whether or not we wait for it), and
 * the engine already makes the next build cheap: only what the edit made stale is rebuilt. So the running
 * build finishes, every change that arrived meanwhile is coalesced, and one build follows. Never two at once:
 * the loop is one fiber that builds, then waits. Ctrl-C interrupts that fiber (Effect interruption, the same
 * path as a plain build), which the store is built to survive.
 *
 * Files are watched through their folders (chokidar, depth 0), not one by one: editors save by writing a
 * temp file and renaming it over the original, and a file that does not exist yet (`.env`, a config about to
 * be created) must still be noticed when it appears.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { watch, type FSWatcher } from "chokidar"
import { Cause, Effect, Option, Queue, type Scope } from "effect"
import * as Bible from "../director/Bible.ts"
import * as ShotEdits from "../ShotEdits.ts"
import { configFileNames, type Workspace } from "../Workspace.ts"

/** What to watch: single files (through their folders) and whole trees (recursively). */
export interface Watched {
  readonly files: ReadonlyArray<string>
  readonly trees?: ReadonlyArray<string>
  /** Paths never reported, even inside a watched tree (the superprompt's own output). */
  readonly exclude?: ReadonlyArray<string>
}

export interface Watcher {
  /** Every changed path (absolute), in order; a burst of saves is several entries. */
  readonly changes: Queue.Dequeue<string>
  /** Replaces what is watched (the transcript may have moved with a config edit). */
  readonly update: (watched: Watched) => Effect.Effect<void>
}

const ignoredDirs = new Set(["node_modules", ".git", ".storyshot"])

/**
 * Watches `initial` until the scope closes. `onChange` sees each change as it happens (to tell the user that
 * an edit arrived during a build); the queue keeps it for the loop.
 */
export const watchPaths = (
  initial: Watched,
  onChange: (file: string) => void = () => {}
): Effect.Effect<Watcher, never, Scope.Scope> =>
  Effect.gen(function* () {
    const changes = yield* Queue.unbounded<string>()
    let files = new Set<string>()
    let trees: Array<string> = []
    let exclude = new Set<string>()
    const within = (p: string) => trees.some((t) => p === t || p.startsWith(t + path.sep))
    const set = (w: Watched) => {
      files = new Set(w.files.map((f) => path.resolve(f)))
      trees = (w.trees ?? []).map((t) => path.resolve(t))
      exclude = new Set((w.exclude ?? []).map((f) => path.resolve(f)))
    }
    set(initial)
    const folders = () => [...new Set([...files].map((f) => path.dirname(f)))]

    const relevant = (raw: string) => {
      const p = path.resolve(raw)
      if (exclude.has(p)) return false
      return files.has(p) || (within(p) && !p.split(path.sep).some((part) => ignoredDirs.has(part)))
    }
    const report = (_event: string, raw: string | Error) => {
      if (typeof raw !== "string" || !relevant(raw)) return
      const p = path.resolve(raw)
      onChange(p)
      Queue.unsafeOffer(changes, p)
    }
    const ready = (w: FSWatcher) =>
      Effect.async<void>((resume) => {
        w.once("ready", () => resume(Effect.void))
      })

    // Single files: their folders at depth 0, everything but the folders and the files themselves ignored.
    const fileWatcher = yield* Effect.acquireRelease(
      Effect.sync(() =>
        watch(folders(), {
          ignoreInitial: true,
          depth: 0,
          ignored: (p) => {
            const r = path.resolve(p)
            return !files.has(r) && !folders().includes(r)
          }
        })
          .on("all", report)
          // A folder that disappears or cannot be read must not crash the process (an EventEmitter "error"
          // without a listener throws); the next save elsewhere still works.
          .on("error", () => {})
      ),
      (w) => Effect.promise(() => w.close())
    )
    const treeWatcher = yield* Effect.acquireRelease(
      Effect.sync(() =>
        watch(
          trees.filter((t) => fs.existsSync(t)),
          {
            ignoreInitial: true,
            ignored: (p) => {
              const r = path.resolve(p)
              return exclude.has(r) || r.split(path.sep).some((part) => ignoredDirs.has(part))
            }
          }
        )
          .on("all", report)
          .on("error", () => {})
      ),
      (w) => Effect.promise(() => w.close())
    )
    yield* Effect.all([ready(fileWatcher), trees.length ? ready(treeWatcher) : Effect.void], { concurrency: 2 })

    const update = (w: Watched) =>
      Effect.sync(() => {
        const before = new Set([...folders(), ...trees])
        set(w)
        const added = folders().filter((f) => !before.has(f))
        if (added.length) fileWatcher.add(added)
        const newTrees = trees.filter((t) => !before.has(t) && fs.existsSync(t))
        if (newTrees.length) treeWatcher.add(newTrees)
      })
    return { changes, update }
  })

/**
 * Waits for the next change, then for `debounceMs` of quiet (an editor's save is often several events, and a
 * "save all" touches several files); returns the distinct paths that changed, in order. Changes that arrived
 * while the caller was busy are already queued, so this returns at once after the quiet period.
 */
export const settle = (changes: Queue.Dequeue<string>, debounceMs: number) =>
  Effect.gen(function* () {
    const seen = [yield* Queue.take(changes)]
    while (true) {
      const next = yield* Queue.take(changes).pipe(Effect.timeoutOption(debounceMs))
      if (Option.isNone(next)) break
      seen.push(next.value)
    }
    return [...new Set(seen)]
  })

/**
 * What a build reads besides the store: the transcript, the config, `.env`, the story bible and the pinned shot
 * edits (files the person edits by hand: a cast member's look, a prompt), and the music file the config names.
 * Without --config every config name the workspace could use is watched, so creating or renaming one starts a
 * build too.
 */
export const buildInputs = (dir: string, ws: Workspace | undefined, configOption: string | undefined): Watched => ({
  files: [
    ws?.transcriptPath ?? path.join(dir, "transcript.txt"),
    ...(configOption ? [path.resolve(dir, configOption)] : configFileNames.map((n) => path.join(dir, n))),
    path.join(dir, ".env"),
    path.join(dir, Bible.fileName),
    path.join(dir, ShotEdits.fileName),
    ...(ws?.config.music ? [path.resolve(dir, ws.config.music.file)] : [])
  ]
})

const show = (dir: string, files: ReadonlyArray<string>) =>
  files.map((f) => path.relative(dir, f) || f).join(", ")

/** The reporter of the build that is running, so a change can be announced above its live display. */
export interface Attach {
  (line: ((text: string) => void) | undefined): void
}

export interface BuildLoop<E, R> {
  /** The workspace folder (used when the workspace itself cannot be loaded: the watch goes on). */
  readonly dir: string
  readonly configOption?: string | undefined
  /** Loads the workspace again: a config or `.env` edit takes effect on the next build. */
  readonly load: Effect.Effect<Workspace, E>
  /** One build, with its own progress display; `attach` gives the watch loop its line printer. */
  readonly build: (ws: Workspace, attach: Attach) => Effect.Effect<unknown, unknown, R>
  readonly debounceMs?: number
  /** Where the watch loop's own lines go (default stderr). */
  readonly log?: (text: string) => void
}

const messageOf = (cause: Cause.Cause<unknown>) => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value as { _tag?: string; message?: string }
    return e.message ?? String(e)
  }
  return `internal error (please report it): ${Cause.pretty(cause)}`
}

/**
 * Builds, then rebuilds on every settled change, until interrupted. A build that fails (a failed target, a
 * transcript with an error, a config that does not load) is reported and the loop keeps watching: the fix is
 * the next save.
 */
export const buildLoop = <E extends { readonly message: string }, R>(options: BuildLoop<E, R>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const log = options.log ?? ((text: string) => void process.stderr.write(text + "\n"))
      const debounceMs = options.debounceMs ?? 300
      let running: ((text: string) => void) | undefined
      let building = false
      const attach: Attach = (line) => {
        running = line
      }
      const say = (text: string) => (running ?? log)(text)

      const first = yield* Effect.either(options.load)
      let inputs = buildInputs(options.dir, first._tag === "Right" ? first.right : undefined, options.configOption)
      const watcher = yield* watchPaths(inputs, (file) => {
        if (building) say(`changed during the build: ${show(options.dir, [file])} (the next build starts when this one ends)`)
      })
      log(`watching ${show(options.dir, inputs.files.filter((f) => fs.existsSync(f)))} for changes (Ctrl-C to stop)`)

      let loaded = first
      while (true) {
        if (loaded._tag === "Left") log(`storyshot: ${loaded.left.message}`)
        else {
          const ws = loaded.right
          const next = buildInputs(options.dir, ws, options.configOption)
          if (next.files.join("\0") !== inputs.files.join("\0")) {
            inputs = next
            yield* watcher.update(inputs)
          }
          building = true
          yield* options.build(ws, attach).pipe(
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.sync(() => log(`storyshot: ${messageOf(cause)}`))
            ),
            Effect.ensuring(
              Effect.sync(() => {
                building = false
                running = undefined
              })
            )
          )
        }
        log(`watching for changes… (Ctrl-C to stop)`)
        const changed = yield* settle(watcher.changes, debounceMs)
        log(`changed: ${show(options.dir, changed)} → building`)
        loaded = yield* Effect.either(options.load)
      }
    })
  )
