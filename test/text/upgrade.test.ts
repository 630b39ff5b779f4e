/**
 * An upgrade of the splitter must not surprise a paying user. A workspace built (cloud profile, against the
 * fake providers) with the old splitter — sbd plus rules, kept as a fixture — is rebuilt with the new one:
 * `build --dry-run` names the sentences whose split changed and what they would cost, and the rebuild pays
 * for exactly those sentences (narration, shot list, images, clips) and for nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import * as Scheduler from "../../src/engine/Scheduler.ts"
import * as Pools from "../../src/Pools.ts"
import { Store } from "../../src/engine/Store.ts"
import * as RunLog from "../../src/cli/RunLog.ts"
import * as Session from "../../src/cli/Session.ts"
import { split, normalize } from "../../src/text/Sentences.ts"
import * as Workspace from "../../src/Workspace.ts"
import * as Targets from "../../targets/index.ts"
import { publish } from "../../src/Publish.ts"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import { cli, makeWorkspace, manifest, runBuild, smallConfig } from "../e2e/harness.ts"
import { legacySplit } from "./fixtures/LegacySentences.ts"

const transcript = `The letter arrived on a Tuesday.
It said only: "Take care of them. I couldn't."
Mara read it twice by the window.
Her brother had worked for the U.S. Government in Virginia for years.
Nobody at the farm knew why he had left.
She folded the letter and put it in her coat.
At 5 a.m. Mr. Hale drove her to the station.
The train left at 6 a.m. and the fields went by.
She works at Yahoo! in the city now.
She still keeps the letter.`

/** A build exactly as `storyshot build` runs one, but of the sentences given (the old splitter's). */
const buildWith = (dir: string, sentences: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const ws = yield* Workspace.load({ cwd: dir, env: { PATH: process.env.PATH, ...env } })
      return yield* Effect.gen(function* () {
        const store = yield* Store
        const result = yield* Scheduler.build(
          { nodes: Targets.plan(ws, sentences), rules: Targets.rules },
          { targets: [...Targets.defaultTargets], pools: { ...Pools.defaultPools(), ...ws.config.pools }, complete: true }
        )
        yield* publish(ws, store, sentences, result.results)
        return result
      }).pipe(Effect.provide(Session.layers(ws, RunLog.runDir(ws.storeDir, RunLog.newRunId()), () => {})))
    }) as Effect.Effect<Scheduler.BuildResult, unknown, never>
  )

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

/** The texts narrated (fal TTS submits) since the last reset. */
const narrated = (since: number) =>
  fakes.fal.received
    .slice(since)
    .filter((r) => r.method === "POST" && r.path.split("?")[0] === `/${models.tts}`)
    .map((r) => String((r.json as { text?: unknown }).text))

describe("upgrading the splitter", () => {
  it("re-pays only the sentences whose split changed, and the dry run names them with their cost", async () => {
    const old = legacySplit(transcript)
    const now = split(transcript)
    const kept = now.filter((s) => old.map(normalize).includes(normalize(s)))
    const changed = now.filter((s) => !kept.includes(s))
    // The fixture is worth testing: the two splitters differ, and agree on most sentences.
    expect(old.length).toBe(14)
    expect(now.length).toBe(10)
    expect(changed.length).toBe(4)

    const dir = makeWorkspace(transcript, { config: smallConfig(`profile: "cloud", voice: { fal: "Calm_Woman" }`) })
    const first = await buildWith(dir, old, fakes.env)
    expect(first.failed).toEqual([])
    expect(manifest(dir).sentences.map((s: { text: string }) => s.text)).toEqual(old)

    // The dry run, as a person runs it: names each changed sentence and what it would cost, pays nothing.
    fakes.reset()
    const dry = cli(["build", "--dry-run"], { cwd: dir, env: fakes.env })
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain("Split changed since the last build (the same words, cut differently): 4 sentences to build, estimated $")
    for (const sentence of changed) expect(dry.stdout).toContain(`“${sentence}”`)
    expect(dry.stdout).toContain("was 2 sentences: “Her brother had worked for the U.S.” + “Government in Virginia for years.”")
    expect(dry.stdout).not.toContain("New or edited")
    const json = await runBuild(dir, { dryRun: true }, fakes.env)
    const changes = json.summary.splitChanges ?? []
    expect(changes.map((c) => c.kind)).toEqual(["split", "split", "split", "split"])
    expect(changes.flatMap((c) => c.sentences)).toEqual([2, 4, 7, 9])
    for (const c of changes) expect(c.estimate.usd).toBeGreaterThan(0)
    // What the changed sentences would cost is what the whole rebuild would cost (finals and muxes are free).
    expect(changes.reduce((a, c) => a + (c.estimate.usd ?? 0), 0)).toBeCloseTo(json.summary.estimate!.usd ?? NaN, 6)
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 0, chats: 0, images: 0, videoSubmits: 0 })

    // The rebuild with the new rules.
    fakes.reset()
    const since = fakes.fal.received.length
    const second = await runBuild(dir, {}, fakes.env)
    expect(second.summary.failed).toEqual([])
    const repaid = narrated(since)
    expect([...repaid].sort()).toEqual([...changed].sort())
    const story = manifest(dir).sentences as Array<{ n: number; text: string; shots: Array<unknown> }>
    expect(story.map((s) => s.text)).toEqual(now)
    const changedShots = story.filter((s) => changed.includes(s.text)).reduce((a, s) => a + s.shots.length, 0)
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 4, chats: 4, images: changedShots, videoSubmits: changedShots })
    // Sentences re-paid = sentences whose split changed; the kept ones rebuilt nothing paid.
    const paidStages = /:(audio|prompts|image|video)$/u
    const owner = (id: string) => Number(/^sentence:(\d+):/u.exec(id)?.[1] ?? NaN)
    const repaidSentences = new Set(second.summary.built.filter((id) => paidStages.test(id) && id.startsWith("sentence:")).map(owner))
    expect([...repaidSentences].sort((a, b) => a - b)).toEqual([2, 4, 7, 9])
    expect(repaidSentences.size).toBe(changes.reduce((a, c) => a + c.sentences.length, 0))
    process.stdout.write(
      `upgrade: ${old.length} sentences (old rules) → ${now.length} (new); split changed: ${changed.length}; re-paid: ${repaidSentences.size} sentences (${repaid.length} narrations, ${changedShots} images and clips)\n`
    )

    // And the next dry run has nothing to say about splits.
    const again = cli(["build", "--dry-run"], { cwd: dir, env: fakes.env })
    expect(again.stdout).toContain("Up to date: nothing would be built.")
    expect(again.stdout).not.toContain("Split changed")
  }, 180_000)
})
