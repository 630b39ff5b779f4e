import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Fiber } from "effect"
import * as Build from "../../src/cli/build.ts"
import * as Watch from "../../src/cli/Watch.ts"
import type { BuildEvent } from "../../src/engine/Events.ts"
import * as Workspace from "../../src/Workspace.ts"
import { cli, ffprobe, flags, makeWorkspace, manifest, runBuild, sentenceNodes, shotNumbers, sorted, writeTranscript } from "../e2e/harness.ts"

const story = ["The fox ran across the river.", "Snow fell on the pines.", "A hunter watched from the ridge."]
const two = story.slice(0, 2)

/**
 * The per-sentence and per-shot nodes a build made, and `final`. Whole-film outputs made from every sentence
 * (the storyboard page, the subtitles) are rebuilt by any edit and are not counted here.
 */
const local = (built: ReadonlyArray<string>) => sorted(built.filter((id) => /^(sentence|shot):/.test(id) || id === "final"))

const waitFor = async (what: string, ok: () => boolean, timeoutMs = 30_000) => {
  const until = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/**
 * Runs `build --watch`'s loop in-process on `dir`, as the CLI does (the workspace is loaded again for every
 * build). `onEvent` sees each build's events with the build's number (from 1).
 */
const startWatching = (dir: string, onEvent: (e: BuildEvent, build: number) => void = () => {}) => {
  const summaries: Array<Build.Summary> = []
  const log: Array<string> = []
  let active = 0
  let maxActive = 0
  let started = 0
  const fiber = Effect.runFork(
    Watch.buildLoop({
      dir,
      load: Workspace.load({ cwd: dir, env: { PATH: process.env.PATH } }),
      debounceMs: 100,
      log: (text) => void log.push(text),
      build: (ws) =>
        Effect.suspend(() => {
          const n = ++started
          maxActive = Math.max(maxActive, ++active)
          return Build.run(ws, flags(), (e) => onEvent(e, n)).pipe(
            Effect.tap((s) => Effect.sync(() => void summaries.push(s))),
            Effect.ensuring(Effect.sync(() => void active--))
          )
        })
    }) as Effect.Effect<never, unknown, never>
  )
  return {
    summaries,
    log,
    maxActive: () => maxActive,
    builds: async (n: number) => {
      await waitFor(`build ${n}`, () => summaries.length >= n).catch((e: Error) => {
        throw new Error(`${e.message}; the watch said:\n${log.join("\n")}`)
      })
      return summaries[n - 1]!
    },
    stop: () => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined)
  }
}

/** What a user would call a whole store: every record parses, nothing set aside, no temp file left. */
const expectWholeStore = (dir: string) => {
  const store = path.join(dir, ".storyshot")
  const files = fs.readdirSync(store, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
  expect(files.filter((f) => f.name.endsWith(".damaged")).map((f) => f.name)).toEqual([])
  for (const f of files.filter((f) => path.basename(f.parentPath ?? f.path).length === 2 && f.name.endsWith(".json")))
    expect(() => JSON.parse(fs.readFileSync(path.join(f.parentPath ?? f.path, f.name), "utf8"))).not.toThrow()
  const tmp = path.join(store, "tmp")
  expect(fs.existsSync(tmp) ? fs.readdirSync(tmp) : []).toEqual([])
  expect(fs.existsSync(path.join(store, "lock"))).toBe(false)
}

describe("build --watch", () => {
  it("editing one sentence while watching rebuilds exactly that sentence's nodes and final; .env, config and shot edits are watched", async () => {
    const dir = makeWorkspace(two.join("\n"))
    const w = startWatching(dir)
    try {
      const first = await w.builds(1)
      expect(first.failed).toEqual([])
      expect(first.built).toContain("final")
      expect(w.log[0]).toMatch(/^watching transcript\.txt, storyshot\.config\.mjs for changes/)

      writeTranscript(dir, [two[0]!, "Snow fell softly on the tall pines."])
      const edited = await w.builds(2)
      expect(w.log).toContain("changed: transcript.txt → building")
      expect(local(edited.built)).toEqual(sorted([...sentenceNodes(2, shotNumbers(dir, 2)), "final"]))
      expect(manifest(dir).sentences[1].text).toBe("Snow fell softly on the tall pines.")

      // A new .env is noticed (a key or a model name may have changed); here nothing it holds matters.
      fs.writeFileSync(path.join(dir, ".env"), "# no keys for the draft profile\n")
      expect((await w.builds(3)).built).toEqual([])
      expect(w.log).toContain("changed: .env → building")

      // A config edit reaches the next build, and what it points at is watched from then on.
      fs.copyFileSync(path.join(dir, "transcript.txt"), path.join(dir, "story.txt"))
      const cfg = path.join(dir, "storyshot.config.mjs")
      fs.writeFileSync(cfg, fs.readFileSync(cfg, "utf8").replace('transcript: "transcript.txt"', 'transcript: "story.txt"'))
      expect((await w.builds(4)).built).toEqual([])
      fs.writeFileSync(path.join(dir, "story.txt"), ["The fox swam across the river.", "Snow fell softly on the tall pines."].join("\n"))
      const moved = await w.builds(5)
      expect(w.log).toContain("changed: story.txt → building")
      expect(local(moved.built)).toEqual(sorted([...sentenceNodes(1, shotNumbers(dir, 1)), "final"]))

      // The files edited by hand beside the transcript: the pinned shot edits (and the bible) start a build too.
      fs.writeFileSync(path.join(dir, "storyshot.shots.json"), JSON.stringify({ version: 1, shots: [] }))
      expect((await w.builds(6)).built).toEqual([])
      expect(w.log).toContain("changed: storyshot.shots.json → building")
    } finally {
      await w.stop()
    }
  })

  it("a transcript with an error is reported and the watch goes on; the fix builds", async () => {
    const dir = makeWorkspace(story.slice(0, 1).join("\n"))
    const w = startWatching(dir)
    try {
      await w.builds(1)
      fs.writeFileSync(path.join(dir, "transcript.txt"), "   \n")
      await waitFor("the error", () => w.log.some((l) => l.startsWith("storyshot: ") && l.includes("transcript.txt")))
      writeTranscript(dir, [story[0]!, story[1]!])
      const fixed = await w.builds(2)
      expect(fixed.failed).toEqual([])
      expect(local(fixed.built)).toEqual(sorted([...sentenceNodes(2, shotNumbers(dir, 2)), "final"]))
    } finally {
      await w.stop()
    }
  })

  it("edits during a build queue one next build with all of them; never two builds at once; the store stays whole", async () => {
    const dir = makeWorkspace(story.join("\n"))
    const edits = [story[0]!, "Snow fell softly on the tall pines.", "A hunter watched from the ridge in silence."]
    let editedAt: string | undefined
    const w = startWatching(dir, (e, build) => {
      if (build !== 1) return
      // Two saves while the first build runs: one as it starts, one as it finishes its first clip.
      if (e._tag === "Started" && editedAt === undefined) {
        editedAt = e.id
        writeTranscript(dir, [story[0]!, edits[1]!, story[2]!])
      }
      if (e._tag === "Built" && e.id === "shot:1:video") writeTranscript(dir, edits)
    })
    try {
      const first = await w.builds(1)
      expect(editedAt).toBeDefined()
      // The first build finishes what it started, with the text it read.
      expect(first.failed).toEqual([])
      expect(first.built).toContain("final")
      expect(w.log.some((l) => l.startsWith("changed during the build: transcript.txt"))).toBe(true)

      const second = await w.builds(2)
      expect(local(second.built)).toEqual(
        sorted([...sentenceNodes(2, shotNumbers(dir, 2)), ...sentenceNodes(3, shotNumbers(dir, 3)), "final"])
      )
      // The two saves were coalesced: no third build follows.
      await new Promise((r) => setTimeout(r, 600))
      expect(w.summaries).toHaveLength(2)
      expect(w.maxActive()).toBe(1)
    } finally {
      await w.stop()
    }
    expectWholeStore(dir)
    const again = await runBuild(dir)
    expect(again.summary.built).toEqual([])
    expect(manifest(dir).sentences.map((s: { text: string }) => s.text)).toEqual(edits)
    const narration = manifest(dir).sentences.reduce((a: number, s: { durationSec: number }) => a + s.durationSec, 0)
    const video = ffprobe(path.join(dir, "out", "final.mp4")).streams.find((s) => s.codec_type === "video")!
    expect(Math.abs(Number(video.duration) - narration)).toBeLessThanOrEqual(3 / 12)
  })

  it("stopping the watch during a build cancels it cleanly: the lock is released and the next build reuses what finished", async () => {
    const dir = makeWorkspace(two.join("\n"))
    let stop: Promise<void> | undefined
    const w = startWatching(dir, (e) => {
      if (e._tag === "Built" && e.id === "shot:1:image" && !stop) stop = w.stop()
    })
    await waitFor("the interruption", () => stop !== undefined)
    await stop
    expect(w.summaries).toEqual([])
    expectWholeStore(dir)
    const next = await runBuild(dir)
    expect(next.summary.failed).toEqual([])
    expect(next.summary.cached).toContain("shot:1:image")
    expect(next.summary.built).toContain("final")
  })

  it("the command says which policy it follows in --help, and refuses --force", () => {
    const dir = makeWorkspace(story[0]!)
    const help = cli(["build", "--help"], { cwd: dir })
    expect(help.stdout).toMatch(/--watch/)
    expect(help.stdout.replace(/\s+/g, " ")).toMatch(/An edit during a build queues the next build/)
    const forced = cli(["build", "--watch", "--force", "--target", "final"], { cwd: dir })
    expect(forced.code).toBe(2)
    expect(forced.stderr).toMatch(/--watch with --force/)
  })
})
