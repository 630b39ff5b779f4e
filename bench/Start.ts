/**
 * Start-up, as a person meets it (issue 13 §7): `storyshot --help` and a no-op `storyshot build` of the example
 * workspace against `node -e 0`, the floor any Node command pays. Whole processes of the installed command
 * (package.json `bin`), interleaved in rounds so that a busy machine slows all three alike; medians of 5 after
 * one warm-up round (which writes the code caches a first run makes). Goals: --help ≤ 2.5×, no-op ≤ 3×.
 *
 *   node bin/run-ts.js bench/Start.ts [ROUNDS]     just these figures; `npm run bench` includes them
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = path.join(repo, (JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")) as { bin: { storyshot: string } }).bin.storyshot)

export interface StartFigures {
  readonly nodeMs: ReadonlyArray<number>
  readonly helpMs: ReadonlyArray<number>
  readonly noopMs: ReadonlyArray<number>
  readonly node: number
  readonly help: number
  readonly noop: number
  readonly helpRatio: number
  readonly noopRatio: number
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** The example workspace (the repository's transcript and config), built once so that a build is a no-op. */
export const exampleWorkspace = () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-bench-start-"))
  fs.copyFileSync(path.join(repo, "transcript.txt"), path.join(ws, "transcript.txt"))
  // The example's config lays a music bed under the film; the file must be there.
  fs.cpSync(path.join(repo, "music"), path.join(ws, "music"), { recursive: true })
  fs.writeFileSync(
    path.join(ws, "storyshot.config.ts"),
    fs.readFileSync(path.join(repo, "storyshot.config.ts"), "utf8").replace('"./src/index.ts"', '"storyshot"')
  )
  return ws
}

export const measureStart = (ws: string, rounds = 5): StartFigures => {
  const time = (args: ReadonlyArray<string>) => {
    const t = performance.now()
    const r = spawnSync(process.execPath, args, { cwd: ws, encoding: "utf8", env: { ...process.env, CI: "true" } })
    const ms = performance.now() - t
    if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`)
    return ms
  }
  const built = spawnSync(process.execPath, [bin, "build"], { cwd: ws, encoding: "utf8", env: { ...process.env, CI: "true" } })
  if (built.status !== 0) throw new Error(`storyshot build exited ${built.status}: ${built.stderr}`)
  const nodeMs: Array<number> = []
  const helpMs: Array<number> = []
  const noopMs: Array<number> = []
  for (let round = 0; round <= rounds; round++) {
    const n = time(["-e", "0"])
    const h = time([bin, "--help"])
    const b = time([bin, "build"])
    if (round === 0) continue
    nodeMs.push(n)
    helpMs.push(h)
    noopMs.push(b)
  }
  const node = median(nodeMs)
  const help = median(helpMs)
  const noop = median(noopMs)
  return { nodeMs, helpMs, noopMs, node, help, noop, helpRatio: help / node, noopRatio: noop / node }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ws = exampleWorkspace()
  try {
    const f = measureStart(ws, Number(process.argv[2] ?? 5))
    const ms = (x: number) => `${Math.round(x)} ms`
    console.log(`node -e 0                 ${ms(f.node)}`)
    console.log(`storyshot --help          ${ms(f.help)} = ${f.helpRatio.toFixed(2)}x  (goal ≤ 2.5x: ${f.helpRatio <= 2.5 ? "met" : "MISSED"})`)
    console.log(`no-op storyshot build     ${ms(f.noop)} = ${f.noopRatio.toFixed(2)}x  (goal ≤ 3x: ${f.noopRatio <= 3 ? "met" : "MISSED"})`)
    console.log(`(medians of ${f.nodeMs.length} interleaved runs; load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")} on ${os.cpus().length} cores)`)
  } finally {
    fs.rmSync(ws, { recursive: true, force: true })
  }
}
