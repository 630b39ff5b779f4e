/**
 * `storyshot cache status|push|pull|verify`: the remote cache shared by several machines (see
 * src/cache/RemoteStore.ts). A build uses it on its own (read-through, write-behind); these commands look
 * at it, fill it, fill this machine from it, and check it.
 *
 *   status   reachable or not; records, objects and in-flight requests there and here
 *   push     sends every result this store has that the remote lacks (after a build that ran offline)
 *   pull     fetches what this film needs from the remote (a dry walk of the build); --all: every record
 *   verify   checks every record and object in the remote (downloads them all); --repair deletes the bad ones
 */
import * as fs from "node:fs"
import { Effect, Either } from "effect"
import { RemoteCache, type Remote } from "../cache/Remote.ts"
import * as RemoteStore from "../cache/RemoteStore.ts"
import * as Settings from "../cache/Settings.ts"
import { sha256 } from "../engine/Hash.ts"
import * as Lock from "../engine/Lock.ts"
import * as Scheduler from "../engine/Scheduler.ts"
import { Store, type NodeRecord } from "../engine/Store.ts"
import * as ProviderConfig from "../providers/ProviderConfig.ts"
import * as Targets from "../../targets/index.ts"
import type { Workspace } from "../Workspace.ts"
import type { cacheOptions, cachePullOptions, cacheVerifyOptions, Flags } from "./Commands.ts"
import { root } from "./Root.ts"
import * as RunLog from "./RunLog.ts"
import * as Session from "./Session.ts"

const out = (line: string) => void process.stdout.write(line + "\n")
const warn = (line: string) => void process.stderr.write(`storyshot: warning: ${line}\n`)
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`

/** `storyshot cache` alone: which subcommands there are (exit 2). */
export const missingSubcommand = () =>
  Effect.fail(new Session.UsageError({ message: "cache needs a subcommand: status, push, pull or verify (see `storyshot cache --help`)" }))

/** The workspace and its remote cache settings; no remote configured is the user's to fix (exit 2). */
const open = Effect.gen(function* () {
  const ws = yield* Session.openWorkspace(yield* root)
  const settings = Settings.fromWorkspace(ws, ProviderConfig.fromEnv(ws.env).secrets)
  if (Either.isLeft(settings)) return yield* new Session.UsageError({ message: settings.left.message })
  if (settings.right === undefined)
    return yield* new Session.UsageError({
      message: "no remote cache is configured: set remoteCache: { url: \"s3://bucket/prefix\" } in storyshot.config.ts, or STORYSHOT_REMOTE_CACHE=s3://bucket/prefix (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
    })
  return { ws, settings: settings.right }
})

/** A remote that cannot be listed is a failure of this command (exit 1), said in one line. */
const listAll = (remote: Remote) =>
  Effect.all({ records: remote.list("ac/"), objects: remote.list("cas/"), inflight: remote.list("inflight/") }, { concurrency: 3 }).pipe(
    Effect.mapError((e) => {
      process.stderr.write(`storyshot: ${e.message}\n`)
      return new Session.BuildFailed({ message: e.message })
    })
  )

const fingerprintOf = (key: string, folder: string) => key.slice(folder.length, key.endsWith(".json") ? -".json".length : undefined)

const where = (settings: Settings.RemoteSettings) => `${settings.url}${settings.endpoint ? ` at ${settings.endpoint}` : ""} (${settings.region})`

// ---------------------------------------------------------------------------------------------------------

export const statusHandler = (flags: Flags<typeof cacheOptions>) =>
  withRemote((ws, settings, remote) => Effect.gen(function* () {
    const listed = yield* listAll(remote)
    const local = fs.existsSync(ws.storeDir) ? yield* Effect.provide(Effect.flatMap(Store, (s) => s.records), Store.layer(ws.storeDir)) : []
    const remoteFps = new Set(listed.records.map((r) => fingerprintOf(r.key, "ac/")))
    const localFps = new Set(local.map((r) => r.fingerprint))
    const report = {
      url: settings.url,
      endpoint: settings.endpoint,
      region: settings.region,
      remote: {
        records: listed.records.length,
        objects: listed.objects.length,
        bytes: listed.objects.reduce((a, o) => a + o.size, 0),
        inflight: listed.inflight.length
      },
      local: {
        records: local.length,
        notInRemote: local.filter((r) => !remoteFps.has(r.fingerprint)).length,
        onlyInRemote: [...remoteFps].filter((fp) => !localFps.has(fp)).length
      }
    }
    if (flags.json) return out(JSON.stringify(report))
    out(`Remote cache ${where(settings)}: reachable.`)
    out(`  there: ${report.remote.records} results, ${report.remote.objects} objects (${mb(report.remote.bytes)}), ${report.remote.inflight} paid request(s) in flight`)
    out(
      `  here:  ${report.local.records} results; ${report.local.notInRemote} not in the remote${report.local.notInRemote ? " (`storyshot cache push` sends them)" : ""}, ${report.local.onlyInRemote} only in the remote${report.local.onlyInRemote ? " (a build, or `storyshot cache pull`, fetches what it needs)" : ""}`
    )
  }))

// ---------------------------------------------------------------------------------------------------------

export const pushHandler = (flags: Flags<typeof cacheOptions>) =>
  withRemote((ws, settings, remote) => Effect.gen(function* () {
    const listed = yield* listAll(remote)
    const there = new Set(listed.records.map((r) => fingerprintOf(r.key, "ac/")))
    if (!fs.existsSync(ws.storeDir)) return flags.json ? out(JSON.stringify({ sent: 0, already: 0, notSent: 0 })) : out("Nothing to push: there is no store.")
    const result = yield* Effect.gen(function* () {
      const local = yield* Store
      const made = yield* RemoteStore.make(local, remote, { secrets: settings.secrets, warn, writeBehind: false, timeoutMs: settings.timeoutMs })
      const records = yield* local.records
      let sent = 0
      let notSent = 0
      for (const r of records) {
        if (there.has(r.fingerprint)) continue
        if (yield* made.push(r)) sent++
        else notSent++
        if (made.stats.down !== undefined) break
      }
      return { sent, already: records.filter((r) => there.has(r.fingerprint)).length, notSent, objects: made.stats.objectsSent, bytes: made.stats.bytesSent, down: made.stats.down }
    }).pipe(Effect.scoped, Effect.provide(Store.layer(ws.storeDir)))
    if (flags.json) out(JSON.stringify(result))
    else
      out(
        `Sent ${result.sent} result(s) (${result.objects} objects, ${mb(result.bytes)}) to ${settings.url}; ${result.already} were there already${result.notSent ? `; ${result.notSent} not sent (see the warnings)` : ""}.`
      )
    if (result.down !== undefined) return yield* new Session.BuildFailed({ message: result.down })
  }))

// ---------------------------------------------------------------------------------------------------------

/** The film's dry walk with the remote behind the store: what it finds there is fetched and verified. */
const pullFilm = (ws: Workspace) =>
  Effect.gen(function* () {
    const sentences = yield* Session.readSentences(ws)
    return yield* Scheduler.build(
      { nodes: Targets.plan(ws, sentences), rules: Targets.rules },
      { targets: [...Targets.defaultTargets], dryRun: true, keepGoing: true }
    ).pipe(
      Effect.mapError((e) => new Session.UsageError({ message: e.message })),
      Effect.provide(Session.layers(ws, RunLog.runDir(ws.storeDir, "cache"), (e) => e._tag === "Warning" && warn(e.message), { remoteCache: true }))
    )
  })

const pullAll = (ws: Workspace, settings: Settings.RemoteSettings, remote: Remote) =>
  Effect.gen(function* () {
    const listed = yield* listAll(remote)
    return yield* Effect.gen(function* () {
      const local = yield* Store
      const made = yield* RemoteStore.make(local, remote, { secrets: settings.secrets, warn, writeBehind: false, timeoutMs: settings.timeoutMs })
      for (const r of listed.records) {
        yield* made.pull(fingerprintOf(r.key, "ac/"))
        if (made.stats.down !== undefined) break
      }
    }).pipe(Effect.scoped, Effect.provide(Store.layer(ws.storeDir)))
  })

export const pullHandler = (flags: Flags<typeof cachePullOptions>) =>
    withRemote((ws, settings, remote) => Effect.gen(function* () {
      // Writes this store: not under a build's feet.
      yield* Lock.acquire(ws.storeDir, {
        wait: true,
        command: "storyshot cache pull",
        onWait: (_, message) => Effect.sync(() => process.stderr.write(`storyshot: ${message}\n`))
      }).pipe(Effect.mapError((e) => new Session.UsageError({ message: e.message })))
      const records = () => (fs.existsSync(ws.storeDir) ? Effect.provide(Effect.flatMap(Store, (s) => s.records), Store.layer(ws.storeDir)) : Effect.succeed([] as ReadonlyArray<NodeRecord>))
      const before = new Set((yield* records()).map((r) => r.fingerprint))
      if (flags.all) yield* pullAll(ws, settings, remote)
      else yield* pullFilm(ws)
      const fetched = (yield* records()).filter((r) => !before.has(r.fingerprint))
      const bytes = fetched.reduce((a, r) => a + Object.values(r.outputs).reduce((b, o) => b + (o.size ?? 0), 0), 0)
      const saved = fetched.reduce((a, r) => a + (r.cost.usd ?? 0), 0)
      if (flags.json) out(JSON.stringify({ fetched: fetched.length, bytes, savedUsd: saved }))
      else out(`Fetched ${fetched.length} result(s) (${mb(bytes)}, which cost $${saved.toFixed(2)} to make) from ${settings.url}.`)
    }).pipe(Effect.scoped))

// ---------------------------------------------------------------------------------------------------------

export const verifyHandler = (flags: Flags<typeof cacheVerifyOptions>) =>
    withRemote((_ws, settings, remote) => Effect.gen(function* () {
      const listed = yield* listAll(remote)
      const problems: Array<string> = []
      const bad: Array<string> = []
      const sizes = new Map(listed.objects.map((o) => [o.key.slice("cas/".length), o.size]))
      const named = new Set<string>()
      const fail = (e: { message: string }) => {
        process.stderr.write(`storyshot: ${e.message}\n`)
        return new Session.BuildFailed({ message: e.message })
      }
      // Objects first: a record is as good as the objects it names.
      const badObjects = new Set<string>()
      for (const [hash] of sizes) {
        const bytes = yield* remote.get(`cas/${hash}`, 60_000).pipe(Effect.mapError(fail))
        if (bytes !== undefined && sha256(bytes) !== hash) {
          problems.push(`object ${hash.slice(0, 12)}… does not match its hash (${bytes.length} bytes hashing to ${sha256(bytes).slice(0, 12)}…)`)
          bad.push(`cas/${hash}`)
          badObjects.add(hash)
        }
      }
      for (const entry of listed.records) {
        const fp = fingerprintOf(entry.key, "ac/")
        const bytes = yield* remote.get(entry.key).pipe(Effect.mapError(fail))
        if (bytes === undefined) continue
        const r = RemoteStore.checkRecord(fp, bytes)
        if (typeof r === "string") {
          problems.push(`record ${fp.slice(0, 12)}…: ${r}`)
          bad.push(entry.key)
          continue
        }
        for (const [name, o] of Object.entries(r.outputs)) {
          if (o.value !== undefined || o.ext === undefined) continue
          named.add(o.hash)
          const wrong = !sizes.has(o.hash) ? "which is not in the cache" : badObjects.has(o.hash) ? "whose object is damaged" : undefined
          if (wrong === undefined) continue
          problems.push(`record ${fp.slice(0, 12)}… (${r.id}) names "${name}", ${wrong}`)
          bad.push(entry.key)
        }
      }
      const unnamed = [...sizes.keys()].filter((h) => !named.has(h)).length
      const notes = [
        ...(unnamed ? [`${unnamed} object(s) no record names (kept answers of requests in flight, or older results)`] : []),
        ...(listed.inflight.length ? [`${listed.inflight.length} paid request(s) in flight, to be collected by the next build that needs them`] : [])
      ]
      let repaired = 0
      if (flags.repair)
        for (const key of [...new Set(bad)]) {
          yield* remote.remove(key).pipe(Effect.mapError(fail))
          repaired++
        }
      const bytes = listed.objects.reduce((a, o) => a + o.size, 0)
      if (flags.json) out(JSON.stringify({ records: listed.records.length, objects: listed.objects.length, bytes, problems, notes, repaired }))
      else {
        for (const p of problems) out(`problem: ${p}`)
        for (const n of notes) out(`note: ${n}`)
        if (repaired) out(`Deleted ${repaired} bad record(s) and object(s).`)
        out(
          `${problems.length === 0 ? "The remote cache checks out" : `${problems.length} problem(s)`}: ${listed.records.length} records, ${listed.objects.length} objects (${mb(bytes)}) in ${settings.url}.`
        )
      }
      if (problems.length > 0 && !flags.repair) return yield* new Session.BuildFailed({ message: `${problems.length} problem(s) in the remote cache` })
    }))

// ---------------------------------------------------------------------------------------------------------

/** A command's body with the workspace, its settings and its remote (the SDK is loaded here). */
const withRemote = <A, E, R>(body: (ws: Workspace, settings: Settings.RemoteSettings, remote: Remote) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(open, ({ ws, settings }) => Effect.provide(Effect.flatMap(RemoteCache, (remote) => body(ws, settings, remote)), RemoteCache.layerS3(settings)))
