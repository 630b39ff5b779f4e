/**
 * The remote-backed store (the disk store with an s3rver bucket behind it): first the one Store contract
 * every backend passes, then what only a remote cache can get right or wrong — read-through from a bucket
 * filled by another machine, hash checks on everything fetched, a record sent only after its objects,
 * in-flight entries shared, and a remote that is down.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import { RemoteCache } from "../../src/cache/Remote.ts"
import * as RemoteStore from "../../src/cache/RemoteStore.ts"
import * as Settings from "../../src/cache/Settings.ts"
import * as Fingerprint from "../../src/engine/Fingerprint.ts"
import { hashJson, sha256 } from "../../src/engine/Hash.ts"
import { Store, type NodeRecord } from "../../src/engine/Store.ts"
import { storeContract } from "../engine/StoreContract.ts"
import { bucket, startS3, type S3 } from "./s3.ts"

let s3: S3
beforeAll(async () => {
  s3 = await startS3()
})
afterAll(() => s3.close())

const settingsFor = (prefix: string, extra: Record<string, string> = {}) => {
  const env = { ...s3.env(prefix), STORYSHOT_REMOTE_CACHE_TIMEOUT_MS: "2000", ...extra }
  const parsed = Settings.fromWorkspace({ env, config: { remoteCache: undefined } as never }, ["sk-provider-key-never-sent"])
  if (Either.isLeft(parsed) || parsed.right === undefined) throw new Error("no settings")
  return parsed.right
}

const tempRoot = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-remote-")), ".storyshot")
let n = 0
const newPrefix = () => `t${process.pid}-${++n}`

/** A remote-backed disk store under `prefix`; warnings collected. */
const remoteStore = (
  prefix: string,
  options: { writeBehind?: boolean; root?: string; extra?: Record<string, string>; onSent?: (key: string) => void } = {}
) => {
  const root = options.root ?? tempRoot()
  const warnings: Array<string> = []
  const settings = settingsFor(prefix, options.extra)
  const layer = RemoteStore.layer(Store.layer(root), {
    secrets: settings.secrets,
    warn: (m) => warnings.push(m),
    writeBehind: options.writeBehind ?? false,
    timeoutMs: settings.timeoutMs,
    onSent: options.onSent
  }).pipe(Layer.provide(RemoteCache.layerS3(settings)))
  return { root, layer, warnings, settings }
}

storeContract({
  name: "disk + s3rver remote (read-through, uploads awaited)",
  make: () => {
    const prefix = newPrefix()
    const made = remoteStore(prefix)
    return {
      layer: made.layer,
      // Damaged the way a crash or a person would: here and in the bucket (a good remote copy would
      // otherwise be fetched instead, which is what the next test shows).
      damageRecord: (fingerprint) => {
        fs.writeFileSync(path.join(made.root, "records", fingerprint.slice(0, 2), `${fingerprint}.json`), '{"fingerprint": "cut he')
        fs.writeFileSync(s3.file(`${prefix}/ac/${fingerprint}.json`), '{"fingerprint": "cut he')
      },
      tearJournal: (fragment) => fs.appendFileSync(path.join(made.root, "journal.jsonl"), fragment)
    }
  }
})

storeContract({
  name: "disk + s3rver remote (write-behind)",
  make: () => {
    const prefix = newPrefix()
    const damaged = new Set<string>()
    const damage = (key: string) => fs.writeFileSync(s3.file(`${prefix}/${key}`), '{"fingerprint": "cut he')
    // Write-behind: the upload may still be queued when the record is damaged; the bucket's copy is damaged
    // as soon as it is there (a read of that fingerprint waits for its queued writes, so it sees the damage).
    const made = remoteStore(prefix, { writeBehind: true, onSent: (key) => damaged.has(key) && damage(key) })
    return {
      layer: made.layer,
      damageRecord: (fingerprint) => {
        fs.writeFileSync(path.join(made.root, "records", fingerprint.slice(0, 2), `${fingerprint}.json`), '{"fingerprint": "cut he')
        const key = `ac/${fingerprint}.json`
        damaged.add(key)
        if (fs.existsSync(s3.file(`${prefix}/${key}`))) damage(key)
      },
      tearJournal: (fragment) => fs.appendFileSync(path.join(made.root, "journal.jsonl"), fragment)
    }
  }
})

const bytes = (text: string) => new TextEncoder().encode(text)

/** A record as the scheduler writes one: its fingerprint is the hash of its data, its hash follows from its outputs. */
const recordOf = (n: number, outputs: NodeRecord["outputs"]): NodeRecord => {
  const data = { kind: "toy", version: 1, recipe: { n }, deps: [] }
  return {
    fingerprint: Fingerprint.of(data),
    id: `node:${n}`,
    kind: "toy",
    stage: "toy",
    data,
    outputs,
    hash: hashJson(Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.hash]))),
    cost: { usd: 0.25, source: "table" },
    requests: [{ provider: "toy", model: "m", requestId: `req-${n}`, startedAt: 1, endedAt: 2, cost: { usd: 0.25, source: "table" } }],
    startedAt: 1000,
    endedAt: 4000,
    attempts: 1
  }
}

/** Runs `body` with the store, then closes it (a build's end: uploads still queued are waited for). */
const use = <A, E>(layer: Layer.Layer<Store>, body: (store: Store["Type"]) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.flatMap(Store, body).pipe(Effect.provide(layer)))

/** Machine A makes a record with a file output and sends it; returns it and the object's bytes. */
const onMachineA = async (prefix: string, n: number, content = `clip ${n} ${prefix}`) => {
  const a = remoteStore(prefix)
  return use(a.layer, (store) =>
    Effect.gen(function* () {
      const clip = yield* store.putBytes(bytes(content), "mp4")
      const r = recordOf(n, { clip: { hash: clip.hash, ext: "mp4", size: clip.size }, shots: { hash: hashJson(3), value: 3 } })
      yield* store.putRecord(r)
      return { record: r, hash: clip.hash, content }
    })
  )
}

describe("remote-backed store", () => {
  it("read-through: a record another machine made is fetched with its object, verified, and kept locally", async () => {
    const prefix = newPrefix()
    const { record, hash, content } = await onMachineA(prefix, 1)
    // The bucket has the record apart from the object, as Bazel keeps /ac/ apart from /cas/.
    expect(s3.objects().filter((k) => k.startsWith(`${prefix}/`)).sort()).toEqual([`${prefix}/ac/${record.fingerprint}.json`, `${prefix}/cas/${hash}`])
    const b = remoteStore(prefix)
    const found = await use(b.layer, (store) => store.getRecord(record.fingerprint))
    expect(Option.getOrThrow(found)).toEqual(record)
    // Now local: the next look-up (in a build with the remote turned off) needs nothing from it.
    const local = await use(Store.layer(b.root), (store) =>
      Effect.map(store.getRecord(record.fingerprint), (r) => ({ r, file: fs.readFileSync(store.objectPath(hash, "mp4"), "utf8") }))
    )
    expect(Option.isSome(local.r)).toBe(true)
    expect(local.file).toBe(content)
    expect(b.warnings).toEqual([])
  })

  it("a blob whose bytes do not match its hash is refused, with one warning, and nothing is kept", async () => {
    const prefix = newPrefix()
    const { record, hash } = await onMachineA(prefix, 2)
    fs.writeFileSync(s3.file(`${prefix}/cas/${hash}`), "someone else's bytes")
    const b = remoteStore(prefix)
    const found = await use(b.layer, (store) =>
      Effect.gen(function* () {
        const r = yield* store.getRecord(record.fingerprint)
        return { r, has: yield* store.hasObject(hash, "mp4"), again: yield* store.getRecord(record.fingerprint) }
      })
    )
    expect(Option.isNone(found.r)).toBe(true)
    expect(Option.isNone(found.again)).toBe(true)
    expect(found.has).toBe(false)
    expect(b.warnings).toHaveLength(1)
    expect(b.warnings[0]).toMatch(/node:2's "clip" does not match its hash .*: refused; built here/)
    expect(fs.existsSync(path.join(b.root, "records", record.fingerprint.slice(0, 2), `${record.fingerprint}.json`))).toBe(false)
  })

  it("a record whose fingerprint is not the hash of its data, or whose hash does not follow from its outputs, is refused", async () => {
    const prefix = newPrefix()
    const { record } = await onMachineA(prefix, 3)
    const key = s3.file(`${prefix}/ac/${record.fingerprint}.json`)
    const b = remoteStore(prefix)
    // Someone rewrote the recipe the record answers (a record for another request, under this fingerprint).
    fs.writeFileSync(key, JSON.stringify({ ...record, data: { ...record.data, recipe: { n: 999 } } }))
    expect(Option.isNone(await use(b.layer, (store) => store.getRecord(record.fingerprint)))).toBe(true)
    // ...or swapped a value output.
    const c = remoteStore(prefix)
    fs.writeFileSync(key, JSON.stringify({ ...record, outputs: { ...record.outputs, shots: { hash: record.outputs.shots!.hash, value: 4 } } }))
    expect(Option.isNone(await use(c.layer, (store) => store.getRecord(record.fingerprint)))).toBe(true)
    // ...or pointed a file output outside the store.
    const d = remoteStore(prefix)
    fs.writeFileSync(key, JSON.stringify({ ...record, outputs: { ...record.outputs, clip: { ...record.outputs.clip!, ext: "../../x" } } }))
    expect(Option.isNone(await use(d.layer, (store) => store.getRecord(record.fingerprint)))).toBe(true)
    expect([...b.warnings, ...c.warnings, ...d.warnings].map((w) => w.replace(/[0-9a-f]{12}…/, "FP"))).toEqual([
      "remote cache: the record FP is refused (its fingerprint is not the hash of its data); its node is built here",
      `remote cache: the record FP is refused (output "shots" does not match its hash); its node is built here`,
      `remote cache: the record FP is refused (output "clip" names no valid object); its node is built here`
    ])
  })

  it("a record damaged here comes back from the remote instead of being paid for again", async () => {
    const prefix = newPrefix()
    const a = remoteStore(prefix)
    const { record } = await use(a.layer, (store) =>
      Effect.gen(function* () {
        const clip = yield* store.putBytes(bytes("a paid clip"), "mp4")
        const r = recordOf(4, { clip: { hash: clip.hash, ext: "mp4", size: clip.size } })
        yield* store.putRecord(r)
        return { record: r }
      })
    )
    fs.writeFileSync(path.join(a.root, "records", record.fingerprint.slice(0, 2), `${record.fingerprint}.json`), "{ torn")
    const again = remoteStore(prefix, { root: a.root })
    const found = await use(again.layer, (store) => store.getRecord(record.fingerprint))
    expect(Option.getOrThrow(found).fingerprint).toBe(record.fingerprint)
  })

  it("a record is sent only with every object it names; older takes stay local", async () => {
    const prefix = newPrefix()
    const a = remoteStore(prefix)
    await use(a.layer, (store) =>
      Effect.gen(function* () {
        const older = yield* store.putBytes(bytes("older take"), "mp4")
        const r = recordOf(5, { clip: { hash: sha256("never stored"), ext: "mp4", size: 3 } })
        yield* store.putRecord(r)
        const clip = yield* store.putBytes(bytes("new take"), "mp4")
        yield* store.putRecord({
          ...recordOf(6, { clip: { hash: clip.hash, ext: "mp4", size: clip.size } }),
          takes: [{ outputs: { clip: { hash: older.hash, ext: "mp4", size: older.size } }, hash: "t", createdAt: 1, cost: { usd: 0.25, source: "table" } }]
        })
      })
    )
    const keys = s3.objects().filter((k) => k.startsWith(`${prefix}/`))
    expect(keys).not.toContain(`${prefix}/ac/${recordOf(5, {}).fingerprint}.json`)
    expect(keys.filter((k) => k.includes("/cas/"))).toEqual([`${prefix}/cas/${sha256(bytes("new take"))}`])
    const sent = JSON.parse(fs.readFileSync(s3.file(keys.find((k) => k.includes("/ac/"))!), "utf8"))
    expect(sent.takes).toBeUndefined()
  })

  it("in-flight entries are shared with the objects they name, so another machine collects the same request", async () => {
    const prefix = newPrefix()
    const a = remoteStore(prefix)
    const fp = sha256("a paid node")
    const answer = bytes('{"video":{"url":"http://127.0.0.1/clip.mp4"}}')
    await use(a.layer, (store) =>
      Effect.gen(function* () {
        const kept = yield* store.putBytes(answer, "json")
        yield* store.putInflight(fp, { requestId: "req-77", statusUrl: "http://127.0.0.1/status", answer: { hash: kept.hash, ext: "json" } })
      })
    )
    const b = remoteStore(prefix)
    const got = await use(b.layer, (store) =>
      Effect.gen(function* () {
        const handle = yield* store.getInflight(fp)
        const file = fs.readFileSync(store.objectPath(sha256(answer), "json"), "utf8")
        // Collected and recorded on B: the entry is cleared in the remote too.
        yield* store.deleteInflight(fp)
        return { handle, file }
      })
    )
    expect(got.handle).toMatchObject({ requestId: "req-77", answer: { hash: sha256(answer), ext: "json" } })
    expect(got.file).toBe(Buffer.from(answer).toString())
    expect(s3.objects()).not.toContain(`${prefix}/inflight/${fp}.json`)
  })

  it("nothing that contains a secret is sent", async () => {
    const prefix = newPrefix()
    const a = remoteStore(prefix)
    await use(a.layer, (store) =>
      Effect.gen(function* () {
        const leaked = yield* store.putBytes(bytes("Authorization: Key sk-provider-key-never-sent"), "json")
        yield* store.putRecord(recordOf(8, { answer: { hash: leaked.hash, ext: "json", size: leaked.size } }))
        yield* store.putInflight(sha256("x"), { requestId: "r", note: `a key ${a.settings.credentials!.secretAccessKey}` })
      })
    )
    expect(s3.objects().filter((k) => k.startsWith(`${prefix}/`))).toEqual([])
    expect(a.warnings).toEqual([
      expect.stringMatching(/^remote cache: object [0-9a-f]{12}… contains a secret \(a key\) and was not sent$/),
      expect.stringMatching(/^remote cache: the in-flight entry [0-9a-f]{12} contains a secret/)
    ])
  })
})

describe("a remote that is down or does not answer", () => {
  /** A TCP server that accepts connections and never answers: a remote that hangs. */
  const hanging = async () => {
    const sockets: Array<net.Socket> = []
    const server = net.createServer((s) => void sockets.push(s))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as net.AddressInfo).port
    return {
      endpoint: `http://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
    }
  }

  it("a remote that never answers costs one time-out and one warning; every store call still works", async () => {
    const hang = await hanging()
    const made = remoteStore(newPrefix(), { writeBehind: true, extra: { AWS_ENDPOINT_URL_S3: hang.endpoint, STORYSHOT_REMOTE_CACHE_TIMEOUT_MS: "500" } })
    const result = await use(made.layer, (store) =>
      Effect.gen(function* () {
        const misses = yield* Effect.forEach([1, 2, 3, 4, 5], (i) => store.getRecord(sha256(`missing ${i}`)))
        const clip = yield* store.putBytes(bytes("made here"), "mp4")
        const r = recordOf(9, { clip: { hash: clip.hash, ext: "mp4", size: clip.size } })
        yield* store.putRecord(r)
        yield* store.putInflight(sha256("y"), { requestId: "r" })
        return { misses, r: yield* store.getRecord(r.fingerprint) }
      })
    )
    await hang.close()
    expect(result.misses.every(Option.isNone)).toBe(true)
    expect(Option.isSome(result.r)).toBe(true)
    expect(made.warnings).toHaveLength(1)
    expect(made.warnings[0]).toMatch(/^remote cache unavailable \(s3:\/\/storyshot-cache\/t\d+-\d+: GET ac\/[0-9a-f]+\.json: no answer within 0\.5 s\); building on without it/)
  })

  it("a bucket that does not exist, or a key id the server does not know, is one warning too", async () => {
    const wrongBucket = remoteStore(newPrefix(), { extra: { STORYSHOT_REMOTE_CACHE: "s3://no-such-bucket/p" } })
    await use(wrongBucket.layer, (store) => store.getRecord(sha256("x")))
    const wrongKey = remoteStore(newPrefix(), { extra: { AWS_ACCESS_KEY_ID: "NOT-A-KEY" } })
    await use(wrongKey.layer, (store) => store.getRecord(sha256("x")))
    expect(wrongBucket.warnings).toEqual([expect.stringMatching(/GET ac\/[0-9a-f]+\.json: the bucket does not exist/)])
    expect(wrongKey.warnings).toEqual([expect.stringMatching(/access denied \(InvalidAccessKeyId\)/)])
    expect(bucket).toBe("storyshot-cache")
  })
})
