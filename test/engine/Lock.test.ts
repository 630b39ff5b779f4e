import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit, Fiber } from "effect"
import * as Lock from "../../src/engine/Lock.ts"

const tempStore = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-lock-")), ".storyshot")

/** A pid that certainly ran on this host and has exited. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!

const writeLock = (store: string, holder: Partial<Lock.Holder>) => {
  fs.mkdirSync(store, { recursive: true })
  fs.writeFileSync(
    Lock.lockPath(store),
    JSON.stringify({ pid: 1, hostname: os.hostname(), startedAt: Date.now() - 60_000, command: "storyshot build", token: "old", ...holder })
  )
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.exit(effect))

describe("workspace lock", () => {
  it("a second taker with wait: false is refused, naming the holder; after release it gets the lock", async () => {
    const store = tempStore()
    const exit = await run(
      Effect.scoped(
        Effect.gen(function* () {
          yield* Lock.acquire(store, { wait: true, command: "storyshot build" })
          expect(JSON.parse(fs.readFileSync(Lock.lockPath(store), "utf8")).pid).toBe(process.pid)
          return yield* Effect.scoped(Lock.acquire(store, { wait: false })).pipe(Effect.flip)
        })
      )
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    const busy = (exit as Exit.Success<Lock.LockBusy, never>).value
    expect(busy._tag).toBe("LockBusy")
    expect(busy.message).toMatch(new RegExp(`another build is using this workspace: storyshot build \\(pid ${process.pid}, started`))
    expect(fs.existsSync(Lock.lockPath(store))).toBe(false) // released with its scope
    expect(Exit.isSuccess(await run(Effect.scoped(Lock.acquire(store, { wait: false }))))).toBe(true)
  })

  it("a waiting taker says so once, and gets the lock when the holder lets go", async () => {
    const store = tempStore()
    const said: Array<string> = []
    const order: Array<string> = []
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const first = yield* Effect.forkScoped(
            Effect.scoped(
              Lock.acquire(store, { wait: true }).pipe(
                Effect.zipRight(Effect.sync(() => order.push("first in"))),
                Effect.zipRight(Effect.sleep("300 millis")),
                Effect.zipRight(Effect.sync(() => order.push("first out")))
              )
            )
          )
          yield* Effect.sleep("50 millis")
          yield* Effect.scoped(
            Lock.acquire(store, { wait: true, pollMs: 20, onWait: (_, m) => Effect.sync(() => said.push(m)) }).pipe(
              Effect.zipRight(Effect.sync(() => order.push("second in")))
            )
          )
          yield* Fiber.join(first)
        })
      )
    )
    expect(order).toEqual(["first in", "first out", "second in"])
    expect(said).toHaveLength(1)
    expect(said[0]).toMatch(/^waiting for storyshot \(pid \d+, started .*\) to finish with this workspace \(Ctrl-C to stop; --no-wait exits instead\)$/)
  })

  it("many takers at once: never two inside", async () => {
    const store = tempStore()
    let inside = 0
    let most = 0
    let entered = 0
    await Effect.runPromise(
      Effect.forEach(
        Array.from({ length: 12 }, (_, i) => i),
        () =>
          Effect.scoped(
            Lock.acquire(store, { wait: true, pollMs: 5 }).pipe(
              Effect.zipRight(Effect.sync(() => ((inside++, entered++), (most = Math.max(most, inside))))),
              Effect.zipRight(Effect.sleep("10 millis")),
              Effect.zipRight(Effect.sync(() => inside--))
            )
          ),
        { concurrency: "unbounded", discard: true }
      )
    )
    expect(entered).toBe(12)
    expect(most).toBe(1)
  })

  it("a lock left by a dead process is taken over, with a message", async () => {
    const store = tempStore()
    const pid = deadPid()
    writeLock(store, { pid })
    const said: Array<string> = []
    const exit = await run(
      Effect.scoped(
        Lock.acquire(store, { wait: false, onTakeOver: (_, m) => Effect.sync(() => said.push(m)) }).pipe(
          Effect.tap(() => Effect.sync(() => expect(JSON.parse(fs.readFileSync(Lock.lockPath(store), "utf8")).pid).toBe(process.pid)))
        )
      )
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(said).toEqual([expect.stringMatching(new RegExp(`took over the workspace lock left by storyshot build \\(pid ${pid}, .*which is no longer running`))])
    expect(fs.readdirSync(store)).toEqual([]) // nothing left behind: neither lock nor the stale file
  })

  it("a lock held by a live process or another computer is not taken over", async () => {
    const live = tempStore()
    writeLock(live, { pid: process.ppid })
    const a = await run(Effect.scoped(Lock.acquire(live, { wait: false })))
    expect(Exit.isFailure(a)).toBe(true)

    const remote = tempStore()
    writeLock(remote, { pid: deadPid(), hostname: "another-host" })
    const b = await run(Effect.scoped(Lock.acquire(remote, { wait: false })).pipe(Effect.flip))
    expect(Exit.isSuccess(b) && b.value.message).toMatch(/on another-host.*it runs on another computer; if it is gone, delete .*lock/)
    expect(JSON.parse(fs.readFileSync(Lock.lockPath(remote), "utf8")).hostname).toBe("another-host")
  })

  it("a torn lock file (a crash while it was written) is taken over once it is old, not while it may be being written", async () => {
    const store = tempStore()
    fs.mkdirSync(store, { recursive: true })
    fs.writeFileSync(Lock.lockPath(store), '{"pid": 12')
    expect(Exit.isFailure(await run(Effect.scoped(Lock.acquire(store, { wait: false }))))).toBe(true)
    const old = new Date(Date.now() - 60_000)
    fs.utimesSync(Lock.lockPath(store), old, old)
    expect(Exit.isSuccess(await run(Effect.scoped(Lock.acquire(store, { wait: false }))))).toBe(true)
  })

  it("release leaves alone a lock that is no longer ours", async () => {
    const store = tempStore()
    await Effect.runPromise(
      Effect.scoped(
        Lock.acquire(store, { wait: false }).pipe(
          // Someone decided we were dead and took over (e.g. the clock jumped, or a person deleted the file).
          Effect.tap(() => Effect.sync(() => writeLock(store, { pid: process.ppid, token: "theirs" })))
        )
      )
    )
    expect(JSON.parse(fs.readFileSync(Lock.lockPath(store), "utf8")).token).toBe("theirs")
  })

  it("a store that cannot be written is a clear error", async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-lock-"))
    // A file where the store folder should be: nothing can be created inside it, whoever runs the test.
    const store = path.join(parent, ".storyshot")
    fs.writeFileSync(store, "not a folder")
    const exit = await run(Effect.scoped(Lock.acquire(store, { wait: false })).pipe(Effect.flip))
    expect(Exit.isSuccess(exit) && exit.value._tag).toBe("LockError")
    expect(Exit.isSuccess(exit) && exit.value.message).toMatch(/^could not lock the workspace at .*lock: /)
  })
})
