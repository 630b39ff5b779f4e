/**
 * `npm run bench`: the figures of issue 14's goal table, measured in one run, plus the older ones (no-op
 * scaling of a synthetic graph, start-up, sentence splitting). Prints a table and writes bench/results.json.
 * Never part of `npm test`. What it builds, from outside as a person would (the installed command, spawned):
 *
 *   film      the film's own graph with sleeping rules, a cloud build's latency shape (images 30–60 s, clips
 *             60–180 s, a second scaled to 10 ms) and pools, 40 sentences: vs the critical-path/pool bound, and
 *             the same build served first come, first served
 *   fakes     a cloud build of 40 sentences against the fake providers (narration 300 ms, prompts 300 ms,
 *             image 500 ms, clip 1 s; the default poll interval, though fal's status stream tells each request
 *             done first; a request completes when its work is done, as at fal): vs the bound of its own graph
 *             (provider nodes at their latency in their provider's pool, everything else at its recorded work)
 *   draft     a cold draft build of 160 sentences of bench/transcript-10k.txt (the example's 640x360 @ 24 fps):
 *             film seconds per wall second, and when the first sentence was finished
 *   edit      one sentence edited in a 12-minute film and in a 1-minute film (prefixes of the draft above, or
 *             alone of a 72-sentence draft, on copies of its store), three times each, in turn: the rebuilds'
 *             median wall times, the ratio, and the final cut's own time
 *   real      the whole bench/transcript-10k.txt (10,738 words; Lewis Carroll, "Alice's Adventures in
 *             Wonderland", chapters I–V, 1865, public domain; Project Gutenberg's text), at 160x90 @ 12 fps:
 *             its cold build (peak memory), no-op, --dry-run, graph, and an edit of one sentence. The cold build
 *             takes many minutes: `realcold` makes it alone (into BENCH_REAL_KEEP), and BENCH_REAL_FROM=that
 *             folder makes `real` start from a copy of it
 *   graph     the synthetic 10,000-node graph (bench/Graph.ts): cold build's peak memory, no-op times
 *   sentences the splitter's speed on prose (bench/Sentences.ts)
 *   start     `storyshot --help` and a no-op build of the example
 *   serve     `storyshot serve`: a cloud build against the fakes alone and under 20 event streams + 200 status
 *             requests a second (issue 18), 3 alternated pairs (BENCH_SERVE_PAIRS), a fresh server each (bench/Serve.ts)
 *
 * BENCH_ONLY=film,fakes runs some of them; BENCH_NODES=10,1000 limits the synthetic graph's sizes.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { createRequire } from "node:module"
import { Effect, Option } from "effect"
import { bounds, type Job } from "./Bound.ts"
import * as Film from "./Film.ts"
import { exampleWorkspace, measureStart } from "./Start.ts"
import { split } from "../src/text/Sentences.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "..")
// The installed command, as package.json names it.
const bin = path.join(repo, (JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")) as { bin: { storyshot: string } }).bin.storyshot)
const runTs = path.join(repo, "bin", "run-ts.js")
const MS_PER_SECOND = 10
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : undefined
const wants = (section: string) => only === undefined || only.has(section)

interface Row {
  readonly what: string
  readonly measured: string
  readonly goal: string
  readonly ok: boolean | undefined
}
/** Rows are printed as they are measured too, so a section that fails later loses no figure. */
class Rows extends Array<Row> {
  override push(...rows: Array<Row>): number {
    for (const r of rows) log(`  ${r.what}: ${r.measured} (goal ${r.goal})`)
    return super.push(...rows)
  }
}
const goals = new Rows()
const others = new Rows()
const loads: Array<number> = []
const results: Record<string, unknown> = { machine: { cpus: os.cpus().length, node: process.version }, msPerSecond: MS_PER_SECOND }
const s = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`)
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const log = (line: string) => process.stderr.write(`${line}\n`)
const sampleLoad = () => loads.push(os.loadavg()[0]!)
const ffprobe = process.env.FFPROBE_PATH ?? (createRequire(import.meta.url)("@ffprobe-installer/ffprobe") as { path: string }).path
const filmSeconds = (file: string) =>
  Number(spawnSync(ffprobe, ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", file], { encoding: "utf8" }).stdout.trim())

// ---------------------------------------------------------------------------------------------------------
// Spawning the command as a person would, with its wall time, CPU time and peak memory.

interface Run {
  readonly wallMs: number
  readonly cpuMs: number
  readonly maxRssMb: number
  readonly stdout: string
  readonly stderr: string
}

/** Spawned without blocking: the fake providers answer from this very process. */
const storyshot = async (args: ReadonlyArray<string>, cwd: string, env: Record<string, string> = {}): Promise<Run> => {
  const usage = path.join(os.tmpdir(), `storyshot-bench-usage-${process.pid}-${Math.random().toString(36).slice(2)}.json`)
  const t = performance.now()
  const child = spawn(process.execPath, ["--import", pathToUrl(path.join(here, "rss.mjs")), bin, ...args], {
    cwd,
    env: { ...process.env, CI: "true", STORYSHOT_BENCH_USAGE: usage, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const out: Array<Buffer> = []
  const err: Array<Buffer> = []
  child.stdout.on("data", (b: Buffer) => out.push(b))
  child.stderr.on("data", (b: Buffer) => err.push(b))
  const status = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  const wallMs = performance.now() - t
  sampleLoad()
  const stdout = Buffer.concat(out).toString("utf8")
  const stderr = Buffer.concat(err).toString("utf8")
  if (status !== 0) throw new Error(`storyshot ${args.join(" ")} exited ${status}: ${stderr.slice(-2000)}`)
  const u = JSON.parse(fs.readFileSync(usage, "utf8")) as { maxRssKb: number; cpuMs: number }
  fs.rmSync(usage, { force: true })
  return { wallMs, cpuMs: u.cpuMs, maxRssMb: u.maxRssKb / 1024, stdout, stderr }
}
const pathToUrl = (p: string) => new URL(`file://${p}`).href
/** CPU time of this process's finished children and theirs (Linux: /proc/self/stat cutime + cstime), in ms. */
const treeCpuMs = (): number => {
  try {
    const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ")
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100
  } catch {
    return NaN
  }
}

const workspace = (name: string, sentences: ReadonlyArray<string>, config: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `storyshot-bench-${name}-`))
  // One sentence a paragraph: a blank line always ends a sentence, so the split is exactly these.
  fs.writeFileSync(path.join(dir, "transcript.txt"), sentences.join("\n\n") + "\n")
  fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), config)
  return dir
}
const draftConfig = `export default { transcript: "transcript.txt", height: 360, fps: 24, style: "hand-drawn storyboard, warm dawn light" }\n`
const smallConfig = `export default { transcript: "transcript.txt", height: 90, fps: 12, style: "test style" }\n`
const bookText = fs.readFileSync(path.join(here, "transcript-10k.txt"), "utf8")
const book = split(bookText)

/** Records of a built workspace: each node's stage, start and end. */
const records = (dir: string) => {
  const out: Array<{ id: string; stage: string; startedAt: number; endedAt: number }> = []
  const root = path.join(dir, ".storyshot", "records")
  for (const shard of fs.readdirSync(root))
    for (const f of fs.readdirSync(path.join(root, shard))) if (f.endsWith(".json")) out.push(JSON.parse(fs.readFileSync(path.join(root, shard, f), "utf8")))
  return out
}

/** How long the named nodes of the last run took (records' start to end), by stage. */
const editRecords = (dir: string, ids: ReadonlyArray<string>) => {
  const wanted = new Set(ids)
  const since = lastRun(dir).startedAt
  const byStage: Record<string, number> = {}
  for (const r of records(dir)) if (wanted.has(r.id) && r.endedAt >= since) byStage[r.stage] = (byStage[r.stage] ?? 0) + r.endedAt - r.startedAt
  return byStage
}

/** The run's own record (run.json of the newest run). */
const lastRun = (dir: string) => {
  const runs = path.join(dir, ".storyshot", "runs")
  const newest = fs.readdirSync(runs).sort().pop()!
  return JSON.parse(fs.readFileSync(path.join(runs, newest, "run.json"), "utf8")) as { startedAt: number; endedAt: number; built: Array<string> }
}

/** Edits sentence `n` (1-based) of a workspace's transcript: one word more. */
const editSentence = (dir: string, n: number) => {
  const file = path.join(dir, "transcript.txt")
  const parts = fs.readFileSync(file, "utf8").trimEnd().split("\n\n")
  parts[n - 1] = parts[n - 1]!.replace(/([.!?]["')\]]*)\s*$/, " again$1")
  fs.writeFileSync(file, parts.join("\n\n") + "\n")
}

// ---------------------------------------------------------------------------------------------------------
// film: the scheduler alone on the film's graph, a cloud build's shape.

if (wants("film")) {
  log("film: 40 sentences, cloud-shaped latencies (synthetic)")
  const durations = Film.durations(40)
  const run = await Effect.runPromise(Film.runFilm(durations, MS_PER_SECOND))
  const fifo = await Effect.runPromise(Film.runFilm(durations, MS_PER_SECOND, { priority: () => 0 }))
  sampleLoad()
  const b = bounds(run.jobs, (p) => run.limits[p] ?? 4)
  const wall = run.result.wallMs
  results.film = { nodes: run.nodes, shots: run.shots, wallMs: wall, fifoWallMs: fifo.result.wallMs, ...b, limits: run.limits }
  others.push({
    what: `synthetic film graph, 40 sentences / ${run.shots} shots, cloud latencies (clips 60–180 s, images 30–60 s) at ${MS_PER_SECOND} ms per s, pools ${JSON.stringify(run.limits)}`,
    measured: `${s(wall)} = ${(wall / b.lowerBoundMs).toFixed(2)}× the bound ${s(b.lowerBoundMs)} (first come, first served: ${(fifo.result.wallMs / b.lowerBoundMs).toFixed(2)}×; sequential ${(b.sequentialMs / wall).toFixed(1)}× slower)`,
    goal: "≤ 1.15×",
    ok: wall <= 1.15 * b.lowerBoundMs
  })
}

// ---------------------------------------------------------------------------------------------------------
// fakes: a real cloud build against the fake providers.

/** The bound of a built workspace's graph: providers at their configured latencies, the rest at its work time. */
const boundOf = (dir: string, latencyMs: (kind: string) => number | undefined, limits: Record<string, number>) => {
  const state = JSON.parse(fs.readFileSync(path.join(dir, ".storyshot", "state.json"), "utf8")) as {
    nodes: Record<string, { id: string; kind: string; deps: Array<string>; pool?: string; workMs?: number }>
  }
  const jobs: Array<Job> = Object.values(state.nodes).map((n) => ({
    id: n.id,
    deps: n.deps,
    // fal's narrations and clips hold a wide "transfer" slot and fal's own while fal works: their bound is fal's.
    pool: Film.providerPool(n.kind) ?? n.pool ?? "?",
    ms: latencyMs(n.kind) ?? n.workMs ?? 0
  }))
  return bounds(jobs, (p) => limits[p] ?? 4)
}

if (wants("fakes")) {
  try {
    const Fakes = await import("../test/fakes/all.ts")
    const latency = { audio: 300, prompts: 300, image: 500, video: 1000 }
    // Like fal itself, the fake completes a request when its work is done, however often it was polled (its
    // default makes every request answer IN_QUEUE and IN_PROGRESS once first, for the fault tests).
    const fakes = await Fakes.startFakes({
      workMs: { tts: latency.audio, video: latency.video },
      latency: { image: latency.image, chat: latency.prompts },
      pollsInQueue: 0,
      pollsInProgress: 0
    })
    try {
      log("fakes: cloud build of 40 sentences against the fake providers")
      const dir = workspace("fakes", book.slice(0, 40), smallConfig)
      // The command as a user runs it: the default poll interval, not the fakes' fast one.
      const env = { ...fakes.env, STORYSHOT_PROFILE: "cloud", STORYSHOT_FAL_POLL_MS: "500" }
      const run = await storyshot(["build", "--json"], dir, env)
      const summary = JSON.parse(run.stdout) as { built: Array<string>; failed: Array<unknown>; wallMs: number }
      if (summary.failed.length > 0) throw new Error(JSON.stringify(summary.failed).slice(0, 500))
      const limits = { fal: 4, openai: 3, openrouter: 4, ffmpeg: os.cpus().length, espeak: os.cpus().length, local: 64 }
      const b = boundOf(dir, (kind) => (latency as Record<string, number>)[kind], limits)
      const shots = summary.built.filter((id) => id.endsWith(":video")).length
      results.fakes = { wallMs: run.wallMs, engineWallMs: summary.wallMs, built: summary.built.length, shots, ...b }
      goals.push({
        what: `cloud build, 40 sentences / ${shots} shots against the fakes, vs the critical-path bound under the pools (fal 4, openai 3, openrouter 4, ffmpeg ${limits.ffmpeg})`,
        measured: `${s(run.wallMs)} vs ${s(b.lowerBoundMs)} = ${(run.wallMs / b.lowerBoundMs).toFixed(2)}×`,
        goal: "≤ 1.15×",
        ok: run.wallMs <= 1.15 * b.lowerBoundMs
      })
      fs.rmSync(dir, { recursive: true, force: true })
    } finally {
      await fakes.close()
    }
  } catch (e) {
    log(`fakes: not measured: ${(e as Error).message.split("\n")[0]}`)
    results.fakes = { error: String((e as Error).message) }
  }
}

// ---------------------------------------------------------------------------------------------------------
// edit: one sentence edited in a 12-minute film and in a 1-minute film, on copies of a built draft's store.

/** A draft of this many sentences of the book lasts a little over 12 minutes (160 of them last 24). */
const EDIT_SENTENCES = 72
const EDIT_ROUNDS = 3

/**
 * Prefixes of a built draft (`dir`), each on a copy of its store, so their sentences are already built; then
 * sentence 3 edited EDIT_ROUNDS times in each, the long and the short film in turn (so both see the same load
 * on a shared machine): the rebuilds' median wall times, and the final cut's own time in them.
 */
const measureEdits = async (dir: string) => {
  const story = JSON.parse(fs.readFileSync(path.join(dir, ".storyshot", "story.json"), "utf8")) as { sentences: Array<{ durationSec: number }> }
  const prefix = (seconds: number) => {
    let total = 0
    let n = 0
    while (n < story.sentences.length && total < seconds) total += story.sentences[n++]!.durationSec
    return { n, total }
  }
  const films = [12, 1].map((minutes) => {
    const { n, total } = prefix(minutes * 60)
    const ws = workspace(`edit${minutes}`, book.slice(0, n), draftConfig)
    fs.cpSync(path.join(dir, ".storyshot"), path.join(ws, ".storyshot"), { recursive: true })
    return { minutes, n, total, ws, runs: [] as Array<{ wallMs: number; built: number; finalMs: number }> }
  })
  log("edit: one sentence of a 12-minute film, and of a 1-minute film")
  for (const f of films) await storyshot(["build", "--json"], f.ws)
  for (let round = 0; round < EDIT_ROUNDS; round++)
    for (const f of films) {
      editSentence(f.ws, 3)
      const r = await storyshot(["build", "--json"], f.ws)
      const cut = records(f.ws).filter((x) => x.id === "final").sort((x, y) => y.endedAt - x.endedAt)[0]
      f.runs.push({ wallMs: r.wallMs, built: (JSON.parse(r.stdout) as { built: Array<string> }).built.length, finalMs: cut ? cut.endedAt - cut.startedAt : NaN })
    }
  for (const f of films) fs.rmSync(f.ws, { recursive: true, force: true })
  const summary = (f: (typeof films)[number]) => ({
    n: f.n,
    filmSeconds: f.total,
    wallMs: median(f.runs.map((r) => r.wallMs)),
    finalMs: median(f.runs.map((r) => r.finalMs)),
    built: median(f.runs.map((r) => r.built)),
    runs: f.runs
  })
  const long = summary(films[0]!)
  const short = summary(films[1]!)
  results.edit = { long, short, rounds: EDIT_ROUNDS }
  goals.push({
    what: `rebuild after editing one sentence of a ${(long.filmSeconds / 60).toFixed(1)}-minute film (${long.n} sentences) vs the same edit in a ${(short.filmSeconds / 60).toFixed(1)}-minute film (${short.n}), medians of ${EDIT_ROUNDS}`,
    measured:
      `${s(long.wallMs)} vs ${s(short.wallMs)} = ${(long.wallMs / short.wallMs).toFixed(2)}× (${long.built} and ${short.built} nodes rebuilt; ` +
      `the final cut ${s(long.finalMs)} vs ${s(short.finalMs)})`,
    goal: "≤ 1.3×",
    ok: long.wallMs / short.wallMs <= 1.3
  })
}

// ---------------------------------------------------------------------------------------------------------
// draft (and edit): 160 sentences, the example's size.

if (wants("draft")) {
  log("draft: cold build of 160 sentences at 640x360 @ 24 fps")
  const dir = workspace("draft160", book.slice(0, 160), draftConfig)
  const before = treeCpuMs()
  const run = await storyshot(["build", "--json"], dir)
  // Every process of the build (the command, its espeak workers, each ffmpeg): what the film costs the machine.
  const allCpuMs = treeCpuMs() - before
  const film = filmSeconds(path.join(dir, "out", "final.mp4"))
  const started = lastRun(dir).startedAt
  const muxes = records(dir).filter((r) => r.stage === "mux")
  const firstMs = Math.min(...muxes.map((r) => r.endedAt)) - started
  const speed = film / (run.wallMs / 1000)
  results.draft = { filmSeconds: film, wallMs: run.wallMs, cpuMs: run.cpuMs, allCpuMs, maxRssMb: run.maxRssMb, firstMuxMs: firstMs }
  goals.push({
    what: `draft build, film seconds per wall second, 160 sentences (${(film / 60).toFixed(1)} min of film) on ${os.cpus().length} cores`,
    measured:
      `${film.toFixed(0)} s of film in ${s(run.wallMs)} = ${speed.toFixed(2)}× (CPU ${s(run.cpuMs)}, peak ${Math.round(run.maxRssMb)} MB; ` +
      `all processes ${s(allCpuMs)} = ${(allCpuMs / 1000 / film).toFixed(3)} CPU-s per film second, so ${(os.cpus().length / (allCpuMs / 1000 / film)).toFixed(1)}× at most on ${os.cpus().length} idle cores)`,
    goal: "≥ 3×",
    ok: speed >= 3
  })
  goals.push({
    what: "time to the first finished sentence mux, 160-sentence draft, as a fraction of the build",
    measured: `${s(firstMs)} of ${s(run.wallMs)} = ${(firstMs / run.wallMs).toFixed(3)}`,
    goal: "≤ 0.10",
    ok: firstMs / run.wallMs <= 0.1
  })

  if (wants("edit")) await measureEdits(dir)
  fs.rmSync(dir, { recursive: true, force: true })
}

// Edits alone: a cold draft just long enough for the 12-minute film.
if (wants("edit") && !wants("draft")) {
  log(`edit: cold build of ${EDIT_SENTENCES} sentences at 640x360 @ 24 fps (the 12-minute film's)`)
  const dir = workspace("edit-draft", book.slice(0, EDIT_SENTENCES), draftConfig)
  await storyshot(["build", "--json"], dir)
  await measureEdits(dir)
  fs.rmSync(dir, { recursive: true, force: true })
}

// ---------------------------------------------------------------------------------------------------------
// real: the 10,000-word workspace.

/** What a cold build of the whole text cost, kept beside the workspace it built (`realcold`). */
const coldFile = (dir: string) => path.join(dir, ".bench-cold.json")
interface Cold {
  readonly wallMs: number
  readonly cpuMs: number
  readonly maxRssMb: number
  readonly nodes: number
  readonly at: string
}

/** The cold build of the whole text into `dir`: its figures, also written to `dir`/.bench-cold.json. */
const coldBuild = async (dir: string): Promise<Cold> => {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "transcript.txt"), bookText)
  fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), smallConfig)
  const run = await storyshot(["build", "--json"], dir)
  const cold: Cold = {
    wallMs: run.wallMs,
    cpuMs: run.cpuMs,
    maxRssMb: run.maxRssMb,
    nodes: (JSON.parse(run.stdout) as { built: Array<string> }).built.length,
    at: new Date().toISOString()
  }
  fs.writeFileSync(coldFile(dir), JSON.stringify(cold))
  return cold
}

// realcold: the cold build alone (many minutes: longer than the bench lock is held for), into BENCH_REAL_KEEP
// when given, so that `real` can start from it (BENCH_REAL_FROM) instead of building again.
if (wants("realcold")) {
  const keep = process.env.BENCH_REAL_KEEP
  const dir = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-bench-realcold-"))
  log(`realcold: cold build of ${book.length} sentences of bench/transcript-10k.txt at 160x90 @ 12 fps into ${dir}`)
  const cold = await coldBuild(dir)
  results.realCold = cold
  results.realRss = cold.maxRssMb
  others.push({
    what: `cold build of the real 10,000-word workspace (${book.length} sentences, ${cold.nodes} nodes), offline draft`,
    measured: `${s(cold.wallMs)} (CPU ${s(cold.cpuMs)}, peak ${Math.round(cold.maxRssMb)} MB)`,
    goal: "",
    ok: undefined
  })
  if (keep === undefined) fs.rmSync(dir, { recursive: true, force: true })
}

if (wants("real")) {
  const from = process.env.BENCH_REAL_FROM
  log(
    `real: ${book.length} sentences of bench/transcript-10k.txt at 160x90 @ 12 fps (${from ? `a copy of ${from}, built by realcold` : "cold build"}, then no-op, --dry-run, graph, an edit)`
  )
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-bench-real-"))
  let cold: Cold
  if (from) {
    fs.cpSync(from, dir, { recursive: true, preserveTimestamps: true })
    cold = JSON.parse(fs.readFileSync(coldFile(from), "utf8")) as Cold
    // The first build in a moved folder walks the graph once (the recorded graph's key names the folder).
    const moved = await storyshot(["build", "--json"], dir)
    results.realMovedNoopMs = moved.wallMs
  } else cold = await coldBuild(dir)
  const nodes = cold.nodes
  const three = async (args: ReadonlyArray<string>) => [await storyshot(args, dir), await storyshot(args, dir), await storyshot(args, dir)]
  const noop = await three(["build", "--json"])
  const dry = await three(["build", "--dry-run"])
  const graph = await three(["graph"])
  editSentence(dir, Math.ceil(book.length / 2))
  const edit = await storyshot(["build", "--json"], dir)
  const rebuilt = (JSON.parse(edit.stdout) as { built: Array<string> }).built.length
  const m = (runs: ReadonlyArray<Run>) => median(runs.map((r) => r.wallMs))
  const cpu = (runs: ReadonlyArray<Run>) => median(runs.map((r) => r.cpuMs))
  results.real = {
    sentences: book.length,
    nodes,
    cold,
    noopMs: noop.map((r) => r.wallMs),
    noopCpuMs: noop.map((r) => r.cpuMs),
    dryRunMs: dry.map((r) => r.wallMs),
    graphMs: graph.map((r) => r.wallMs),
    editMs: edit.wallMs,
    rebuilt
  }
  goals.push({
    what: `no-op build of a real 10,000-word workspace (${book.length} sentences, ${nodes} nodes), whole process, median of 3`,
    measured: `${s(m(noop))} (CPU ${s(cpu(noop))})`,
    goal: "≤ 1.0 s",
    ok: m(noop) <= 1000
  })
  goals.push({
    what: "--dry-run / graph of that built workspace, median of 3",
    measured: `${s(m(dry))} / ${s(m(graph))} (CPU ${s(cpu(dry))} / ${s(cpu(graph))})`,
    goal: "≤ 1.0 s",
    ok: m(dry) <= 1000 && m(graph) <= 1000
  })
  const finalMs = editRecords(dir, (JSON.parse(edit.stdout) as { built: Array<string> }).built).final
  goals.push({
    what: "edit of one sentence in that workspace",
    measured: `${s(edit.wallMs)} (${rebuilt} nodes rebuilt; the final cut ${finalMs === undefined ? "?" : s(finalMs)} of it)`,
    goal: "≤ 5 s",
    ok: edit.wallMs <= 5000
  })
  results.realRss = cold.maxRssMb
  if (from) log(`  (the cold build's peak memory is from realcold, ${cold.at})`)
  fs.rmSync(dir, { recursive: true, force: true })
}

// ---------------------------------------------------------------------------------------------------------
// graph: the synthetic 10,000-node graph (no-op scaling and peak memory), each measurement in its own process.

if (wants("graph") || wants("real")) {
  const child = (args: ReadonlyArray<string>) => {
    const r = spawnSync(process.execPath, [runTs, path.join(here, "child.ts"), ...args], { encoding: "utf8", maxBuffer: 1 << 24 })
    sampleLoad()
    if (r.status !== 0) throw new Error(`bench/child.ts ${args.join(" ")} failed: ${r.stderr}`)
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as { ms: Array<number>; built: number; cached: number; maxRssMb: number }
  }
  const counts = wants("graph") ? (process.env.BENCH_NODES ?? "10,1000,10000").split(",").map(Number) : [10_000]
  const measured: Record<number, { build: ReturnType<typeof child>; noop: ReturnType<typeof child> }> = {}
  for (const n of counts) {
    log(`graph: ${n} nodes (cold build, then 5 no-op builds)`)
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-bench-graph-"))
    measured[n] = { build: child(["build", root, String(n)]), noop: child(["noop", root, String(n), "5"]) }
    fs.rmSync(root, { recursive: true, force: true })
  }
  results.graph = measured
  const big = measured[10_000]
  if (big && results.realRss !== undefined) {
    const real = results.realRss as number
    goals.push({
      what: "peak RSS, cold build of that workspace / of a 10,000-node synthetic graph",
      measured: `${Math.round(real)} MB / ${Math.round(big.build.maxRssMb)} MB`,
      goal: "≤ 250 MB",
      ok: real <= 250 && big.build.maxRssMb <= 250
    })
  } else if (big)
    others.push({ what: "peak RSS, cold build of a 10,000-node synthetic graph", measured: `${Math.round(big.build.maxRssMb)} MB`, goal: "≤ 250 MB", ok: big.build.maxRssMb <= 250 })
  for (const n of counts)
    others.push({
      what: `no-op build, ${n}-node synthetic graph (engine + file store, in process; best of 5)`,
      measured: `${Math.round(Math.min(...measured[n]!.noop.ms))} ms (peak ${Math.round(measured[n]!.noop.maxRssMb)} MB)`,
      goal: "",
      ok: undefined
    })
}

// ---------------------------------------------------------------------------------------------------------
// sentences and start.

if (wants("sentences")) {
  log("sentences: splitting ~4 MB of prose")
  const speed = (await import("./Sentences.ts")).measure()
  results.sentences = speed
  others.push({
    what: `sentence splitting, ${speed.megabytes.toFixed(1)} MB of prose (best of 3)`,
    measured: `${speed.mbPerSecond.toFixed(1)} MB/s (old sbd-based splitter ${speed.legacyMbPerSecond.toFixed(1)} MB/s)`,
    goal: "≥ 1 MB/s",
    ok: speed.mbPerSecond >= 1
  })
}

if (wants("start")) {
  log("start: --help and a no-op build of the example, against node -e 0 (bench/Start.ts)")
  const ws = exampleWorkspace()
  const start = measureStart(ws)
  sampleLoad()
  results.start = start
  others.push({ what: "process start: storyshot --help vs node -e 0 (medians of 5, interleaved)", measured: `${Math.round(start.help)} ms = ${start.helpRatio.toFixed(2)}×`, goal: "≤ 2.5×", ok: start.helpRatio <= 2.5 })
  others.push({ what: "no-op storyshot build of the example vs node -e 0 (medians of 5, interleaved)", measured: `${Math.round(start.noop)} ms = ${start.noopRatio.toFixed(2)}×`, goal: "≤ 3×", ok: start.noopRatio <= 3 })
  fs.rmSync(ws, { recursive: true, force: true })
}

// ---------------------------------------------------------------------------------------------------------
// serve (issue 18): a build's wall time under 20 event streams and 200 status requests a second.

if (wants("serve")) {
  log("serve: a cloud build against the fakes, alone and under 20 event streams + 200 status/s, 3 pairs (bench/Serve.ts)")
  const child = spawn(process.execPath, [runTs, path.join(here, "Serve.ts"), process.env.BENCH_SERVE_PAIRS ?? "3"], { stdio: ["ignore", "pipe", "inherit"] })
  let out = ""
  child.stdout.on("data", (b: Buffer) => {
    out += String(b)
    for (let nl = out.indexOf("\n"); nl >= 0; nl = out.indexOf("\n")) {
      const line = out.slice(0, nl)
      out = out.slice(nl + 1)
      if (line.startsWith("SERVE_RESULT ")) results.serve = JSON.parse(line.slice("SERVE_RESULT ".length))
      else log(`  ${line}`)
    }
  })
  const status = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  sampleLoad()
  const r = results.serve as
    | { pairs: number; aloneMs: number; loadedMs: number; change: number; pairChange: number; errors: number; serverExtraCpuS: number; serverCpuPerStatusMs: number; generatorCpuS: number; loadSeconds: number; statusRequests: number }
    | undefined
  if (status !== 0 || r === undefined) throw new Error(`bench/Serve.ts exited ${status}`)
  others.push({
    what: `storyshot serve: a build's wall time under 20 event streams + 200 status/s, loopback (median of ${r.pairs} alternated pairs, a fresh server each)`,
    measured: `${s(r.aloneMs)} alone, ${s(r.loadedMs)} loaded = ${r.change >= 0 ? "+" : ""}${(r.change * 100).toFixed(1)}% (median of the pairs' own changes ${r.pairChange >= 0 ? "+" : ""}${(r.pairChange * 100).toFixed(1)}%), ${r.errors} errors; the load cost the server ${r.serverExtraCpuS.toFixed(1)} CPU-s (${r.serverCpuPerStatusMs.toFixed(2)} ms per status request, streams included), the load generator ${r.generatorCpuS.toFixed(1)} CPU-s for ${r.statusRequests} requests in ${r.loadSeconds.toFixed(0)} s`,
    goal: "< +10%, 0 errors",
    ok: r.change < 0.1 && r.pairChange < 0.1 && r.errors === 0
  })
}

// ---------------------------------------------------------------------------------------------------------
// The table.

results.goals = goals
results.others = others
results.load = { samples: loads, median: loads.length ? median(loads) : undefined, max: loads.length ? Math.max(...loads) : undefined }
fs.writeFileSync(path.join(here, "results.json"), JSON.stringify(results, null, 2))
const table = (rows: ReadonlyArray<Row>) => {
  console.log("| figure | measured | goal | met |")
  console.log("|---|---|---|---|")
  for (const r of rows) console.log(`| ${r.what} | ${r.measured} | ${r.goal} | ${r.ok === undefined ? "" : r.ok ? "yes" : "no"} |`)
}
if (goals.length) {
  console.log("\nIssue 14's goals:\n")
  table(goals)
}
if (others.length) {
  console.log("\nOther figures:\n")
  table(others)
}
const load = results.load as { median?: number; max?: number }
console.log(
  `\nload average (1 min) while it ran: median ${load.median?.toFixed(1) ?? "-"}, max ${load.max?.toFixed(1) ?? "-"} on ${os.cpus().length} cores (the machine is shared); results in bench/results.json`
)
