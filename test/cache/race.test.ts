/**
 * Two machines on one remote cache, at the same time: the paths where the second could pay for what the
 * first is paying for (or just paid for). Deterministic: the first machine's work is run at the moment
 * that matters (inside the second machine's claim, before it pays), not raced against a clock.
 *
 * - B looked for the record (none), then A finished the node (record sent, in-flight entry cleared) while
 *   B waited for its turn: B looks again before paying, finds the record, and pays nothing.
 * - An in-flight entry served empty or half-written (an overwrite under way: s3rver does that) is read
 *   again, not taken for "no entry" (which would mean: pay).
 * - A server error on one call (s3rver's 500 when a PUT lands in a folder a DELETE is removing) is tried
 *   again, not taken for "the remote is down" (after which in-flight entries are not looked for).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Either, Layer } from "effect"
import { RemoteCache } from "../../src/cache/Remote.ts"
import * as RemoteStore from "../../src/cache/RemoteStore.ts"
import * as Settings from "../../src/cache/Settings.ts"
import { BuildEvents, type BuildEvent } from "../../src/engine/Events.ts"
import * as Scheduler from "../../src/engine/Scheduler.ts"
import { Store } from "../../src/engine/Store.ts"
import { leaf, makeProbe, rules, sum, type Probe } from "../engine/toy.ts"
import { startS3, type S3 } from "./s3.ts"

let s3: S3
beforeAll(async () => {
  s3 = await startS3()
})
afterAll(() => s3.close())

let n = 0
const settingsFor = (prefix: string) => {
  const env = { ...s3.env(prefix), STORYSHOT_REMOTE_CACHE_TIMEOUT_MS: "3000" }
  const parsed = Settings.fromWorkspace({ env, config: { remoteCache: undefined } as never }, [])
  if (Either.isLeft(parsed) || parsed.right === undefined) throw new Error("no settings")
  return parsed.right
}
const tempRoot = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-race-")), ".storyshot")

/** One machine: its own disk store, the shared bucket behind it (write-behind, as builds run it). */
const machine = (prefix: string) => {
  const root = tempRoot()
  const warnings: Array<string> = []
  const settings = settingsFor(prefix)
  const store = RemoteStore.layer(Store.layer(root), { secrets: [], warn: (m) => warnings.push(m), timeoutMs: settings.timeoutMs }).pipe(
    Layer.provide(RemoteCache.layerS3(settings))
  )
  return { root, warnings, store }
}

const nodes = [leaf("text", 7), sum("paid", ["text"], { paid: true })]

const build = (m: ReturnType<typeof machine>, probe: Probe, options: Partial<Scheduler.BuildOptions> = {}) => {
  const events: Array<BuildEvent> = []
  return Scheduler.build({ nodes, rules: rules(probe) }, { targets: ["paid"], retryBaseMs: 1, ...options }).pipe(
    Effect.map((result) => ({ result, events })),
    Effect.provide(Layer.mergeAll(m.store, BuildEvents.layerFanout((e) => events.push(e))))
  )
}

describe("two machines at once, one remote cache", () => {
  it("B found no record; A finished the node while B waited; B looks again before paying and pays nothing", async () => {
    const prefix = `race${process.pid}-${++n}`
    const a = machine(prefix)
    const b = machine(prefix)
    const paidByA = makeProbe()
    const paidByB = makeProbe()
    let claimedAt: string | undefined
    const onB = await Effect.runPromise(
      build(b, paidByB, {
        // B's turn comes after A has built, sent and cleared everything (A's build ends with its uploads).
        claim: (node) =>
          Effect.gen(function* () {
            claimedAt = node.id
            const onA = yield* build(a, paidByA)
            expect(onA.result.built).toContain("paid")
          }).pipe(Effect.orDie)
      })
    )
    expect(claimedAt).toBe("paid")
    expect(paidByA.runs.filter((id) => id === "paid")).toEqual(["paid"])
    // B never ran the paid node: it took A's result from the cache.
    expect(paidByB.runs.filter((id) => id === "paid")).toEqual([])
    expect(onB.result.failed).toEqual([])
    expect(onB.result.cached).toContain("paid")
    expect(onB.result.built).not.toContain("paid")
    expect(onB.result.cost.usd).toBe(0)
    expect(s3.objects().filter((k) => k.startsWith(`${prefix}/inflight/`))).toEqual([])
    expect([...a.warnings, ...b.warnings]).toEqual([])
  })

  it("one build, two nodes with one fingerprint (a sentence said twice): the one that waited for its slot pays nothing", async () => {
    const m = machine(`race${process.pid}-${++n}`)
    const probe = makeProbe()
    const twice = [leaf("text", 7), sum("first", ["text"], { paid: true }), sum("again", ["text"], { paid: true })]
    const onM = await Effect.runPromise(
      Scheduler.build({ nodes: twice, rules: rules(probe) }, { targets: ["first", "again"], retryBaseMs: 1, pools: { toy: 1 } }).pipe(
        Effect.provide(Layer.mergeAll(m.store, BuildEvents.layerNoop))
      )
    )
    expect(onM.failed).toEqual([])
    expect(probe.runs.filter((id) => id === "first" || id === "again")).toHaveLength(1)
    expect(onM.built.length + onM.cached.length).toBeGreaterThanOrEqual(3)
    expect(onM.cost.usd).toBeCloseTo(0.1, 6)
  })

  it("an in-flight entry served empty (an overwrite under way) is read again, and collected", async () => {
    const prefix = `race${process.pid}-${++n}`
    const a = machine(prefix)
    const b = machine(prefix)
    const fingerprint = "f".repeat(64)
    const handle = { request_id: "req-42", status_url: "http://127.0.0.1:1/requests/req-42/status" }
    await Effect.runPromise(Effect.scoped(Effect.flatMap(Store, (s) => s.putInflight(fingerprint, handle)).pipe(Effect.provide(a.store))))
    const file = s3.file(`${prefix}/inflight/${fingerprint}.json`)
    const bytes = fs.readFileSync(file)
    // What a reader sees while the entry is being written again: nothing, then the bytes.
    fs.writeFileSync(file, "")
    setTimeout(() => fs.writeFileSync(file, bytes), 120)
    const got = await Effect.runPromise(Effect.scoped(Effect.flatMap(Store, (s) => s.getInflight(fingerprint)).pipe(Effect.provide(b.store))))
    expect(got).toEqual(handle)
    expect(b.warnings).toEqual([])
  })

  it("server errors on one call are tried again: the remote stays up and the in-flight entry is found", async () => {
    const prefix = `race${process.pid}-${++n}`
    const a = machine(prefix)
    const fingerprint = "e".repeat(64)
    const handle = { request_id: "req-43" }
    await Effect.runPromise(Effect.scoped(Effect.flatMap(Store, (s) => s.putInflight(fingerprint, handle)).pipe(Effect.provide(a.store))))
    // The first GETs of the entry meet a 500 (as s3rver answers a PUT into a folder being removed): more in a
    // row than the SDK's own one retry covers.
    const fault = s3.failNext(`${prefix}/inflight/`, 3)
    const b = machine(prefix)
    const got = await Effect.runPromise(Effect.scoped(Effect.flatMap(Store, (s) => s.getInflight(fingerprint)).pipe(Effect.provide(b.store))))
    expect(fault.failed()).toBe(3)
    expect(got).toEqual(handle)
    expect(b.warnings).toEqual([])
  })
})

