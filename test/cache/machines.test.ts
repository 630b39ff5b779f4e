/**
 * Two machines sharing one remote cache: two workspaces in two folders, one s3rver, the cloud fakes.
 * Requests are counted at the fakes (what a provider would bill), not by our bookkeeping.
 *
 * 1. Machine A builds the film and pays N requests; machine B, a fresh clone of the same project, builds
 *    it with 0 paid requests and a byte-identical film. An edit of one sentence on B is paid once (on B);
 *    A's rebuild of the edited project pays 0 and its film is B's, byte for byte.
 * 2. A blob damaged in the bucket is refused (one warning) and rebuilt locally; the s3rver stopped in the
 *    middle of a build: the build finishes locally, with one warning.
 * 3. A request machine A started (killed with SIGKILL while fal works on it) is collected by machine B
 *    from the shared in-flight entry: no second submit.
 * Keys never enter the bucket: every byte of it is searched for each key.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Option } from "effect"
import * as Build from "../../src/cli/build.ts"
import type { BuildEvent } from "../../src/engine/Events.ts"
import { sha256 } from "../../src/engine/Hash.ts"
import * as Workspace from "../../src/Workspace.ts"
import { keys, startFakes, type Counts, type Fakes } from "../fakes/all.ts"
import { cliAsync, flags, makeWorkspace, smallConfig } from "../e2e/harness.ts"
import { credentials, startS3, type S3 } from "./s3.ts"

const cloud = smallConfig(`profile: "cloud"`)
const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]
const edited = [story[0]!, "Heavy snow fell on the old pines.", story[2]!]

let s3: S3
let fakes: Fakes
beforeAll(async () => {
  ;[s3, fakes] = await Promise.all([startS3(), startFakes({ workMs: { video: 50 } })])
})
afterAll(async () => {
  await Promise.all([s3?.close(), fakes?.close()])
})

/** Requests a provider bills: narrations, shot lists, images, clips. */
const paid = (c: Counts) => c.ttsSubmits + c.chats + c.images + c.videoSubmits

/** A build in-process, as `storyshot build` runs it, with every event it emits. */
const build = (dir: string, env: Record<string, string>, onEvent: (e: BuildEvent) => void = () => {}, over: Partial<Build.BuildFlags> = {}) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const events: Array<BuildEvent> = []
      const ws = yield* Workspace.load({ cwd: dir, env: { PATH: process.env.PATH, ...env } })
      const summary = yield* Build.run(ws, flags(over), (e) => {
        events.push(e)
        onEvent(e)
      })
      return { summary, events, warnings: events.flatMap((e) => (e._tag === "Warning" ? [e.message] : [])) }
    }) as Effect.Effect<{ summary: Build.Summary; events: Array<BuildEvent>; warnings: Array<string> }, unknown, never>
  )

const film = (dir: string) => fs.readFileSync(path.join(dir, "out", "final.mp4"))
const filesUnder = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]))

/** Every secret a build had, searched for in every byte of the bucket (objects, records, metadata). */
const secretsInBucket = () => {
  const secrets = [keys.fal, keys.openai, keys.openrouter, credentials.secretAccessKey]
  return filesUnder(s3.dir).flatMap((f) => {
    const bytes = fs.readFileSync(f)
    return secrets.filter((s) => bytes.includes(s)).map((s) => `${path.relative(s3.dir, f)} holds ${s.slice(0, 6)}…`)
  })
}

const figures: Record<string, unknown> = {}
afterAll(() => console.log(`remote cache figures: ${JSON.stringify(figures)}`))

describe("two machines, one remote cache", () => {
  const remote = () => s3.env("film")
  let a: string
  let b: string

  it("A pays for the film; B, a fresh clone, pays 0 and gets the same bytes; B's edit is paid once, and A then pays 0", async () => {
    const env = { ...fakes.env, ...remote() }
    a = makeWorkspace(story.join("\n"), { config: cloud })
    b = makeWorkspace(story.join("\n"), { config: cloud })

    fakes.reset()
    const onA = await build(a, env)
    const aCounts = fakes.counts()
    expect(onA.summary.failed).toEqual([])
    expect(aCounts).toMatchObject({ ttsSubmits: 3, chats: 3, images: 3, videoSubmits: 3 })
    expect(onA.warnings).toEqual([])
    const records = s3.objects().filter((k) => k.startsWith("film/ac/")).length
    const blobs = s3.objects().filter((k) => k.startsWith("film/cas/")).length
    expect(records).toBe(onA.summary.built.length)

    fakes.reset()
    const onB = await build(b, env)
    const bCounts = fakes.counts()
    expect(onB.summary.failed).toEqual([])
    expect(paid(bCounts)).toBe(0)
    expect(bCounts.uploads).toBe(0)
    expect(onB.summary.built).toEqual([])
    expect(onB.summary.cached.length).toBe(onA.summary.built.length)
    // The money B did not pay is counted as saved, as for any cache hit.
    expect(onB.summary.saved.usd).toBeCloseTo(onA.summary.cost.usd, 6)
    expect(onB.summary.cost.usd).toBe(0)
    const filmSha256 = sha256(film(b))
    expect(filmSha256).toBe(sha256(film(a)))

    // B edits one sentence and builds: that sentence is paid for, once, on B.
    fs.writeFileSync(path.join(b, "transcript.txt"), edited.join("\n"))
    fakes.reset()
    const editOnB = await build(b, env)
    const editCounts = fakes.counts()
    expect(editOnB.summary.failed).toEqual([])
    expect(editCounts).toMatchObject({ ttsSubmits: 1, chats: 1, images: 1, videoSubmits: 1 })

    // A gets the edit (a pull of the project) and builds: it pays nothing and has B's film.
    fs.writeFileSync(path.join(a, "transcript.txt"), edited.join("\n"))
    fakes.reset()
    const editOnA = await build(a, env)
    expect(editOnA.summary.failed).toEqual([])
    expect(paid(fakes.counts())).toBe(0)
    expect(editOnA.summary.built.filter((id) => /^(sentence:\d+:(audio|prompts)|shot:\d+:(image|video))$/.test(id))).toEqual([])
    expect(sha256(film(a))).toBe(sha256(film(b)))
    expect(sha256(film(a))).not.toBe(filmSha256)

    expect(secretsInBucket()).toEqual([])
    Object.assign(figures, {
      aPaid: paid(aCounts),
      aCost: onA.summary.cost,
      bucketAfterA: { records, blobs },
      bPaid: paid(bCounts),
      bCached: onB.summary.cached.length,
      bSaved: onB.summary.saved,
      filmSha256,
      editPaidOnB: paid(editCounts),
      editPaidOnA: paid(fakes.counts()),
      editedFilmSha256: sha256(film(a))
    })
  })

  it("a blob damaged in the bucket is refused with one warning and rebuilt locally", async () => {
    const env = { ...fakes.env, ...remote() }
    // The clip of shot 1, as machine A recorded it.
    const state = JSON.parse(fs.readFileSync(path.join(a, ".storyshot", "state.json"), "utf8"))
    const clip = Object.values(state.nodes["shot:1:video"].outputs as Record<string, { hash: string; ext?: string }>).find((o) => o.ext === "mp4")!
    fs.writeFileSync(s3.file(`film/cas/${clip.hash}`), Buffer.from("not the clip that was paid for"))

    const c = makeWorkspace(edited.join("\n"), { config: cloud })
    fakes.reset()
    const onC = await build(c, env)
    const counts = fakes.counts()
    expect(onC.summary.failed).toEqual([])
    expect(onC.warnings).toEqual([expect.stringMatching(/^remote cache: shot:1:video's "\w+" does not match its hash \(30 bytes hashing to [0-9a-f]{12}…, expected [0-9a-f]{12}…, \d+ bytes\): refused; built here$/)])
    // Only that clip is bought again; everything else comes from the cache.
    expect(counts).toMatchObject({ ttsSubmits: 0, chats: 0, images: 0, videoSubmits: 1 })
    expect(onC.summary.built).toContain("shot:1:video")
    expect(fs.existsSync(path.join(c, "out", "final.mp4"))).toBe(true)
    figures.damagedBlob = { refused: clip.hash.slice(0, 12), paid: paid(counts), built: onC.summary.built.length, cached: onC.summary.cached.length }
  })

  it("the s3rver stopped in the middle of a build: the build finishes locally, with one warning", async () => {
    const env = { ...fakes.env, ...remote() }
    const d = makeWorkspace(["Wolves sang in the valley.", "The moon was low.", "Ice cracked on the lake."].join("\n"), { config: cloud })
    fakes.reset()
    let stopped: Promise<void> | undefined
    const onD = await build(d, env, (e) => {
      if (e._tag === "Built" && e.id === "sentence:1:audio" && !stopped) stopped = s3.stop()
    })
    await stopped
    expect(stopped).toBeDefined()
    expect(onD.summary.failed).toEqual([])
    expect(fs.existsSync(path.join(d, "out", "final.mp4"))).toBe(true)
    expect(onD.warnings).toHaveLength(1)
    expect(onD.warnings[0]).toMatch(/^remote cache unavailable \(s3:\/\/storyshot-cache\/film: .*\); building on without it/)
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 3, chats: 3, images: 3, videoSubmits: 3 })
    figures.stoppedMidBuild = { built: onD.summary.built.length, warning: onD.warnings[0] }
    await s3.start()
  })

  it("--no-remote-cache builds without it: nothing fetched, nothing sent", async () => {
    const env = { ...fakes.env, ...remote() }
    const e = makeWorkspace(story[0]!, { config: cloud })
    const before = s3.objects().length
    fakes.reset()
    const onE = await build(e, env, () => {}, { noRemoteCache: true })
    expect(onE.summary.failed).toEqual([])
    // Sentence 1 is in the cache, but this build does not look: it pays for it.
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 1, chats: 1, images: 1, videoSubmits: 1 })
    expect(s3.objects().length).toBe(before)
  })
})

describe("a request in flight is shared", () => {
  it("machine A is killed while fal works on a clip; machine B collects that request instead of paying again", async () => {
    const slow = await startFakes({ workMs: { video: 4_000 } })
    try {
      const env = { ...slow.env, ...s3.env("inflight") }
      const a = makeWorkspace("An owl called twice in the dark.", { config: cloud })
      const child = cliAsync(["build", "--quiet"], { cwd: a, env })
      let stderr = ""
      child.stderr!.on("data", (c) => (stderr += String(c)))
      // Killed once fal has the clip's request and the bucket has its in-flight entry.
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline && !(slow.counts().videoSubmits === 1 && s3.objects().some((k) => k.startsWith("inflight/inflight/")))) await new Promise((r) => setTimeout(r, 50))
      child.kill("SIGKILL")
      await new Promise((r) => child.once("close", r))
      expect(slow.counts().videoSubmits).toBe(1)

      const b = makeWorkspace("An owl called twice in the dark.", { config: cloud })
      slow.reset()
      const onB = await build(b, env)
      expect(onB.summary.failed).toEqual([])
      const counts = slow.counts()
      // B asked fal about A's request and paid for nothing new.
      expect(paid(counts)).toBe(0)
      expect(counts.total).toBeGreaterThan(0)
      expect(onB.summary.built).toContain("shot:1:video")
      // Collected and recorded: the shared entry is cleared.
      expect(s3.objects().filter((k) => k.startsWith("inflight/inflight/"))).toEqual([])
      expect(Option.some(stderr).pipe(Option.filter((s) => s.includes("internal error")))).toEqual(Option.none())
      figures.inflight = { submitsByA: 1, paidByB: paid(counts), requestsByB: counts.total }
    } finally {
      await slow.close()
    }
  })
})
