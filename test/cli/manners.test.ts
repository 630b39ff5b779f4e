/**
 * The command line's manners (issue 21, found 6 and 8, and "reported wall time is the whole run"): what a
 * person meets in the first hour — unknown targets and values refused in one line before anything is
 * built, times that separate work from waiting, progress on stderr beside --json, interrupted and failed
 * runs in `runs`, failed attempts in `report`, `models` offline, an espeak voice that does not exist, the
 * example workspace's `.env.example`, DOT labels, and a workspace found from a subfolder.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import * as Graph from "../../src/cli/graph.ts"
import * as Reporter from "../../src/cli/Reporter.ts"
import * as Runs from "../../src/cli/runs.ts"
import * as Workspace from "../../src/Workspace.ts"
import * as Cost from "../../src/engine/Cost.ts"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import { cli, cliAsync, makeWorkspace, repoRoot, runBuild, smallConfig } from "../e2e/harness.ts"

const story = "The fox ran across the frozen river at dawn.\nSnow fell on the pines."

const oneLine = (stderr: string) => expect(stderr.trim().split("\n"), stderr).toHaveLength(1)

const recordCount = (dir: string) => {
  const root = path.join(dir, ".storyshot", "records")
  return fs.existsSync(root) ? fs.readdirSync(root).reduce((n, s) => n + fs.readdirSync(path.join(root, s)).length, 0) : 0
}

const start = (args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = {}) => {
  const child = cliAsync(args, { cwd, env })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (c) => (stdout += String(c)))
  child.stderr!.on("data", (c) => (stderr += String(c)))
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  )
  return { child, done, stderr: () => stderr }
}

/** The real command, without blocking this process (the fakes live in it and must answer). */
const run = (args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = {}) => start(args, cwd, env).done

const until = async (what: () => boolean, ms = 60_000) => {
  const end = Date.now() + ms
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe("unknown targets and out-of-range values: exit 2, one line, before anything is built", () => {
  it("sentence:0, a shot past the film's last (built film and new film), clean and why of one, --max-cost -1", () => {
    const dir = makeWorkspace(story)
    // Before any build, the shots are planned from the text: the film is refused without building anything.
    const early = cli(["build", "--target", "shot:99:image"], { cwd: dir })
    expect(early.code, early.stdout + early.stderr).toBe(2)
    oneLine(early.stderr)
    expect(early.stderr).toMatch(/shot:99:image.*about \d+ shots/)
    expect(recordCount(dir)).toBe(0)

    expect(cli(["build"], { cwd: dir }).code).toBe(0)
    const shots = 2 // two short sentences, a shot each
    const zero = cli(["build", "--target", "sentence:0:audio"], { cwd: dir })
    expect(zero.code).toBe(2)
    oneLine(zero.stderr)
    expect(zero.stderr).not.toMatch(/did you mean "sentence:0:audio"/)
    expect(zero.stderr).toMatch(/sentences are numbered from 1: the transcript has 2 \(sentence:1:audio … sentence:2:audio\)/)

    const records = recordCount(dir)
    const past = cli(["build", "--target", "shot:99:image"], { cwd: dir })
    expect(past.code, past.stdout + past.stderr).toBe(2)
    oneLine(past.stderr)
    expect(past.stderr).toMatch(new RegExp(`unknown target "shot:99:image": this film has ${shots} shots \\(shot:1:image … shot:${shots}:image\\)`))
    expect(past.stdout).toBe("")
    expect(recordCount(dir)).toBe(records)

    const clean = cli(["clean", "--target", "shot:99:image"], { cwd: dir })
    expect(clean.code).toBe(2)
    oneLine(clean.stderr)
    expect(clean.stderr).toMatch(/this film has 2 shots/)
    const why = cli(["why", "shot:99:image"], { cwd: dir })
    expect(why.code).toBe(2)
    oneLine(why.stderr)

    for (const value of ["-1", "-0.5"]) {
      const cost = cli(["build", "--max-cost", value], { cwd: dir })
      expect(cost.code, cost.stdout).toBe(2)
      oneLine(cost.stderr)
      expect(cost.stderr).toMatch(/--max-cost .*0 or more/)
    }
    for (const name of ["STORYSHOT_HTTP_TIMEOUT_MS", "STORYSHOT_RETRY_BASE_MS", "STORYSHOT_FAL_POLL_MS"]) {
      const env = cli(["build"], { cwd: dir, env: { [name]: "soon" } })
      expect(env.code, env.stdout).toBe(2)
      oneLine(env.stderr)
      expect(env.stderr).toContain(`${name} is "soon"`)
    }
  }, 180_000)
})

describe("per-node times: work and waiting apart", () => {
  it("a node that waited 60 s for its inputs and 6 s for a pool slot, then worked 2 s, is reported as 2 s of work", () => {
    let clock = 1_000_000
    const out: Array<string> = []
    const r = Reporter.make("plain", { write: (s) => out.push(s), now: () => clock })
    r.onEvent({ _tag: "Discovered", nodes: [{ id: "sentence:120:audio", stage: "audio" }] })
    const ready = clock + 60_000 // its inputs are built: it asks for a slot in the `local` pool
    clock = ready + 6_000
    r.onEvent({ _tag: "Started", id: "sentence:120:audio", stage: "audio", attempt: 1, pool: "local" })
    clock += 2_000
    r.onEvent({ _tag: "Built", id: "sentence:120:audio", stage: "audio", cost: Cost.free, startedAt: ready, endedAt: clock, attempts: 1 })
    r.close()
    const line = out.join("").split("\n").find((l) => l.includes("sentence:120:audio"))!
    expect(line).toMatch(/built\s+sentence:120:audio in 2\.0s/)
    expect(line).toMatch(/waited 66s: 60s for inputs, 6\.0s in the local pool/)
  })
})

describe("progress beside --json; --quiet", () => {
  it("--json: progress on stderr, stdout exactly one JSON object; --quiet silences the progress", () => {
    const dir = makeWorkspace(story)
    const json = cli(["build", "--json"], { cwd: dir })
    expect(json.code).toBe(0)
    expect(json.stdout.trim().split("\n")).toHaveLength(1)
    expect(JSON.parse(json.stdout).built).toContain("final")
    expect(json.stderr).toMatch(/built\s+sentence:1:audio in/)
    expect(json.stderr).toMatch(/built\s+final in/)

    fs.writeFileSync(path.join(dir, "transcript.txt"), story + "\nThe wind rose.")
    const quiet = cli(["build", "--json", "--quiet"], { cwd: dir })
    expect(quiet.code).toBe(0)
    expect(quiet.stderr).toBe("")
    expect(JSON.parse(quiet.stdout).built).toContain("sentence:3:audio")
  }, 120_000)
})

describe("interrupted and failed runs in `runs`", () => {
  it("Ctrl-C prints what finished and the run is listed as interrupted, with what it built", async () => {
    const lines = Array.from({ length: 12 }, (_, i) => `Sentence number ${i + 1} tells of the long winter by the river.`)
    const dir = makeWorkspace(lines.join("\n"))
    const a = start(["build"], dir)
    await until(() => recordCount(dir) >= 4)
    a.child.kill("SIGINT")
    const r = await a.done
    expect(r.code, r.stderr).toBe(130)
    expect(r.stdout).toMatch(/^interrupted: \d+ built, \d+ cached in [\d.]+ s · spent \$0/m)
    const listed = await run(["runs", "--json"], dir)
    const [row] = JSON.parse(listed.stdout).runs
    expect(row.status).toBe("interrupted")
    expect(row.built).toBeGreaterThanOrEqual(4)
    expect((await run(["runs"], dir)).stdout).toMatch(/interrupted/)
    expect((await run(["report"], dir)).stdout).toMatch(/interrupted/)
  }, 120_000)

  it("a failed build is listed as failed", async () => {
    if (process.platform === "win32") return
    const dir = makeWorkspace(story)
    const fake = path.join(dir, "ffmpeg-fails")
    fs.writeFileSync(fake, '#!/bin/sh\nif [ "$1" = "-version" ]; then echo "ffmpeg version 0-fake"; exit 0; fi\necho "render failed" >&2\nexit 1\n', { mode: 0o755 })
    expect((await run(["build"], dir, { FFMPEG_PATH: fake })).code).toBe(1)
    const [row] = JSON.parse((await run(["runs", "--json"], dir)).stdout).runs
    expect(row.status).toBe("failed")
    expect(row.failed).toBeGreaterThanOrEqual(1)
  }, 120_000)
})

describe("against the fake providers", () => {
  let fakes: Fakes
  beforeAll(async () => {
    fakes = await startFakes({ latency: { models: 700 } })
  })
  afterAll(() => fakes.close())

  it("report counts failed attempts: a cloud build whose narration fails says how many calls it made", async () => {
    fakes.reset()
    // More refusals than the attempts two narrations get (retries: 3), so one of them fails.
    for (let i = 0; i < 10; i++) fakes.fal.inject({ kind: "server-error", status: 503 }, models.tts)
    const dir = makeWorkspace(story, { config: smallConfig(`profile: "cloud"`) })
    const { summary } = await runBuild(dir, { keepGoing: false }, fakes.env)
    expect(summary.failed.length).toBeGreaterThan(0)
    const [stored] = Runs.readRuns(path.join(dir, ".storyshot"))
    const text = Runs.reportText(stored!)
    expect(text).not.toMatch(/No requests to paid providers/)
    const submits = fakes.fal.submits(models.tts)
    expect(submits).toBeGreaterThan(0)
    expect(text).toMatch(new RegExp(`${submits} failed`))
    expect(text).toMatch(/fal\s+POST .*speech-02-turbo\s+\d+\s+\d+\s+503/)
  }, 60_000)

  it("reported wall time is the whole run: it covers the model list fetched before the graph", async () => {
    fakes.reset()
    const dir = makeWorkspace(story, { config: smallConfig(`profile: "cloud"`) })
    const before = Date.now()
    const { summary } = await runBuild(dir, {}, fakes.env)
    const after = Date.now()
    expect(summary.failed).toEqual([])
    const [stored] = Runs.readRuns(path.join(dir, ".storyshot"))
    const io = fs
      .readFileSync(path.join(stored!.dir, "io.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { url: string; startedAt: number; endedAt: number })
    const list = io.find((e) => e.url.endsWith("/models"))!
    expect(list).toBeDefined()
    expect(stored!.startedAt!).toBeGreaterThanOrEqual(before)
    expect(stored!.startedAt!).toBeLessThanOrEqual(list.startedAt)
    expect(stored!.endedAt!).toBeLessThanOrEqual(after)
    expect(summary.wallMs).toBe(stored!.wallMs)
    expect(summary.wallMs).toBeGreaterThanOrEqual(Math.max(...io.map((e) => e.endedAt)) - list.startedAt)
  }, 60_000)

  it("models: a network failure is a one-line warning and the saved list (exit 0); with none saved, exit 1", async () => {
    fakes.reset()
    const dir = makeWorkspace(story)
    const saved = await run(["models"], dir, fakes.env)
    expect(saved.code, saved.stderr).toBe(0)
    const down = { ...fakes.env, OPENROUTER_BASE_URL: "http://127.0.0.1:9/api/v1" }
    const offline = await run(["models", "--refresh"], dir, down)
    expect(offline.code, offline.stderr).toBe(0)
    oneLine(offline.stderr)
    expect(offline.stderr).toMatch(/^storyshot: warning: could not fetch the model list from http:\/\/127\.0\.0\.1:9\/api\/v1: .*showing the list saved/)
    expect(offline.stdout).toMatch(/openai\/gpt-4o-mini/)
    const none = await run(["models"], makeWorkspace(story), down)
    expect(none.code).toBe(1)
    oneLine(none.stderr)
    const help = await run(["models", "--help"], dir)
    expect(help.stdout).toMatch(/exit 1/)
  }, 60_000)
})

describe("an espeak voice that does not exist", () => {
  it('voice.espeak "en-xx" is refused in one line naming the voices; "en-gb" and "en-us+f3" are accepted', async () => {
    const dir = makeWorkspace(story, { config: smallConfig(`voice: { espeak: "en-xx" }`) })
    const r = cli(["build"], { cwd: dir })
    expect(r.code).toBe(2)
    oneLine(r.stderr)
    expect(r.stderr).toMatch(/voice\.espeak "en-xx" is not an espeak-ng voice: use one of .*en-gb.*en-us/)
    expect(recordCount(dir)).toBe(0)
    for (const voice of ["en-gb", "en-us+f3"]) {
      const ok = makeWorkspace("Hello.", { config: smallConfig(`voice: { espeak: "${voice}" }`) })
      const { summary } = await runBuild(ok, { target: ["sentence:1:audio"] })
      expect(summary.built).toContain("sentence:1:audio")
    }
  }, 120_000)
})

describe("the repository's example workspace", () => {
  it(".env.example names every variable the providers read, commented, with no key in it", () => {
    const file = path.join(repoRoot, ".env.example")
    expect(fs.existsSync(file)).toBe(true)
    const text = fs.readFileSync(file, "utf8")
    const sources = walk(path.join(repoRoot, "src", "providers"))
    const read = new Set<string>()
    for (const f of sources)
      for (const m of fs.readFileSync(f, "utf8").matchAll(/\benv\.([A-Z][A-Z0-9_]+)|\benv\[["']([A-Z][A-Z0-9_]+)["']\]/g)) read.add(m[1] ?? m[2]!)
    read.add("STORYSHOT_PROFILE")
    expect(read.size).toBeGreaterThan(10)
    const named = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!))
    for (const v of read) expect(named, v).toContain(v)
    // Every variable is explained: the nearest line above it that is not a variable is a comment in words.
    const lines = text.split("\n")
    const isVariable = (l: string) => /^#?\s*[A-Z][A-Z0-9_]+=/.test(l)
    lines.forEach((l, i) => {
      if (!isVariable(l)) return
      const above = lines.slice(0, i).reverse().find((p) => !isVariable(p))
      expect(above, l).toMatch(/^# \S/)
    })
    for (const key of ["FAL_KEY", "OPENAI_KEY", "OPENAI_API_KEY", "OPENROUTER_KEY"])
      expect(text).toMatch(new RegExp(`^#?\\s*${key}=$`, "m"))
  })
})

describe("graph --format dot", () => {
  it("labels break lines as Graphviz reads them, with no literal backslash", () => {
    const dot = Graph.toDot([{ id: "sentence:1:audio", stage: "audio", status: "stale", deps: [] }])
    const label = /label="((?:[^"\\]|\\.)*)"/.exec(dot)![1]!
    // Graphviz's escString: \n \l \r break the line, \\ is a backslash, \" a quote.
    const rendered = label.replace(/\\(.)/g, (_, c: string) => (c === "n" || c === "l" || c === "r" ? "\n" : c))
    expect(rendered).not.toContain("\\")
    expect(rendered.split("\n")).toEqual(["sentence:1:audio", "stale"])
  })
})

describe("the workspace is found from a subfolder", () => {
  it("a command run in a subfolder finds storyshot.config.* or .storyshot/ upward; --cwd still wins", async () => {
    const dir = makeWorkspace(story)
    const sub = path.join(dir, "notes", "deeper")
    fs.mkdirSync(sub, { recursive: true })
    const found = await Effect.runPromise(Workspace.load({ from: sub, env: {} }))
    expect(found.dir).toBe(dir)
    // Only a store marks it too (a workspace without a config).
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-bare-"))
    fs.writeFileSync(path.join(bare, "transcript.txt"), "Hello.")
    fs.mkdirSync(path.join(bare, ".storyshot"))
    fs.mkdirSync(path.join(bare, "a"))
    expect((await Effect.runPromise(Workspace.load({ from: path.join(bare, "a"), env: {} }))).dir).toBe(bare)
    // Nothing upward: the folder itself (an empty folder with a transcript still builds).
    const alone = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-alone-"))
    expect((await Effect.runPromise(Workspace.load({ from: alone, env: {} }))).dir).toBe(alone)
    // --cwd is taken as it is.
    const exit = await Effect.runPromiseExit(Workspace.load({ cwd: sub, from: sub, env: {} }))
    expect(Exit.isSuccess(exit) && exit.value.dir).toBe(sub)

    const graph = cli(["graph"], { cwd: sub })
    expect(graph.code, graph.stderr).toBe(0)
    expect(graph.stdout).toMatch(/sentence:2:audio/)
    const help = cli(["--help"], { cwd: sub })
    expect(help.stdout).toMatch(/storyshot\.config\.\* or \.storyshot\//)
  }, 60_000)
})

const walk = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []
  )

