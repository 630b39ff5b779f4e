import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cli, makeWorkspace } from "../e2e/harness.ts"

const story = "The fox ran across the frozen river at dawn.\nSnow fell on the pines."

/** A strict reading of the DOT subset `graph --format dot` writes: every statement must match. */
const checkDot = (dot: string) => {
  const lines = dot.trim().split("\n")
  expect(lines[0]).toMatch(/^digraph [A-Za-z_][A-Za-z0-9_]* \{$/)
  expect(lines[lines.length - 1]).toBe("}")
  const id = String.raw`"(?:[^"\\]|\\.)*"`
  const declared = new Set<string>()
  const edges: Array<[string, string]> = []
  for (const line of lines.slice(1, -1)) {
    const node = new RegExp(String.raw`^  (${id}) \[label=${id}(?:, [a-z]+=[a-z]+)*\];$`).exec(line)
    const edge = new RegExp(String.raw`^  (${id}) -> (${id});$`).exec(line)
    const attr = /^  (?:rankdir=LR|node \[shape=box, fontname="[^"]*"\]);$/.test(line)
    expect(node || edge || attr, `not DOT: ${line}`).toBeTruthy()
    if (node) declared.add(node[1]!)
    if (edge) edges.push([edge[1]!, edge[2]!])
  }
  for (const [a, b] of edges) {
    expect(declared.has(a), `edge from undeclared ${a}`).toBe(true)
    expect(declared.has(b), `edge to undeclared ${b}`).toBe(true)
  }
  return { declared, edges }
}

describe("storyshot command line", () => {
  it("build --json prints the summary object, and exits 0", () => {
    const dir = makeWorkspace(story)
    const r = cli(["build", "--json"], { cwd: dir })
    expect(r.code).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(Object.keys(summary)).toEqual(expect.arrayContaining(["built", "cached", "failed", "cost", "wallMs"]))
    expect(summary.built).toContain("final")
    expect(summary.failed).toEqual([])
    expect(summary.cost).toEqual({ usd: 0, known: true })
    expect(typeof summary.wallMs).toBe("number")

    const again = JSON.parse(cli(["build", "--json"], { cwd: dir }).stdout)
    expect(again.built).toEqual([])
    expect(again.cached).toContain("final")
  })

  it("graph --format dot is valid DOT: before a build every node is stale and shots are not known; after, all fresh", () => {
    const dir = makeWorkspace(story)
    const before = cli(["graph", "--format", "dot"], { cwd: dir })
    expect(before.code).toBe(0)
    const g1 = checkDot(before.stdout)
    expect(g1.declared.has('"final"')).toBe(true)
    expect(before.stdout).not.toMatch(/\bfresh\b/)

    expect(cli(["build"], { cwd: dir }).code).toBe(0)
    const after = cli(["graph", "--format", "dot"], { cwd: dir })
    const g2 = checkDot(after.stdout)
    expect([...g2.declared].some((id) => id.startsWith('"shot:'))).toBe(true)
    expect(g2.edges).toContainEqual(['"sentence:1:mux"', '"final"'])
    expect(after.stdout).not.toMatch(/\\nstale/)

    const json = JSON.parse(cli(["graph", "--format", "json"], { cwd: dir }).stdout)
    expect(json.nodes.every((n: { status: string }) => n.status === "fresh")).toBe(true)
    expect(cli(["graph", "--format", "mermaid"], { cwd: dir }).stdout).toMatch(/^flowchart LR/)
  })

  it("graph shows the last recorded expansion for a sentence whose narration must be rebuilt", () => {
    const dir = makeWorkspace(story)
    expect(cli(["build"], { cwd: dir }).code).toBe(0)
    // A new voice speed: the narration is stale, so its shots cannot be known until it is rebuilt.
    fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), 'export default { height: 90, fps: 12, voice: { wordsPerMinute: 120 } }\n')
    const text = cli(["graph"], { cwd: dir }).stdout
    expect(text).toMatch(/stale/)
  })

  it("exits 1 when a target fails, and says which", () => {
    if (process.platform === "win32") return
    const dir = makeWorkspace(story)
    // An ffmpeg that passes the start-up check (`-version`) and then fails every render; the narration
    // (WASM) still works. (An ffmpeg that does not even run is bad input: exit 2, see test/e2e/safety.)
    const fake = path.join(dir, "ffmpeg-fails")
    fs.writeFileSync(fake, '#!/bin/sh\nif [ "$1" = "-version" ]; then echo "ffmpeg version 0-fake"; exit 0; fi\necho "render failed" >&2\nexit 1\n', { mode: 0o755 })
    const r = cli(["build", "--keep-going"], { cwd: dir, env: { FFMPEG_PATH: fake } })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/failed/)
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/)
  })

  it("exits 2 on bad usage with one line and no stack trace", () => {
    const dir = makeWorkspace(story)
    const unknown = cli(["build", "--target", "shot:3:imag"], { cwd: dir })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1)
    expect(unknown.stderr).toMatch(/did you mean "shot:3:image"/)
    const force = cli(["build", "--force"], { cwd: dir })
    expect(force.code).toBe(2)
    expect(force.stderr).toMatch(/--force rebuilds named targets only/)
    const stage = cli(["clean", "--stage", "vidoe"], { cwd: dir })
    expect(stage.code).toBe(2)
    expect(stage.stderr).toMatch(/unknown stage "vidoe"/)
  })

  it("--help tells the truth about every command", () => {
    const dir = makeWorkspace(story)
    const build = cli(["build", "--help"], { cwd: dir }).stdout
    for (const flag of ["--target", "--force", "--keep-going", "--dry-run", "--json", "--profile", "--max-cost"])
      expect(build).toContain(flag)
    const graph = cli(["graph", "--help"], { cwd: dir }).stdout
    expect(graph).toMatch(/dot/)
    const clean = cli(["clean", "--help"], { cwd: dir }).stdout
    for (const flag of ["--stage", "--target", "--all"]) expect(clean).toContain(flag)
  })

  it("works in an empty folder with only transcript.txt, and init scaffolds a workspace that builds", () => {
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-bare-"))
    fs.writeFileSync(path.join(bare, "transcript.txt"), "Hello there.")
    const r = cli(["build", "--json"], { cwd: bare })
    expect(r.code).toBe(0)
    expect(fs.existsSync(path.join(bare, "out", "final.mp4"))).toBe(true)

    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-init-"))
    const init = cli(["init"], { cwd: fresh })
    expect(init.code).toBe(0)
    for (const f of ["storyshot.config.ts", "transcript.txt", ".env.example"]) expect(fs.existsSync(path.join(fresh, f))).toBe(true)
    // The config it wrote says `import { defineConfig } from "storyshot"`, and the folder has no node_modules:
    // the import resolves to the running storyshot, and the film is made.
    expect(fs.readFileSync(path.join(fresh, "storyshot.config.ts"), "utf8")).toMatch(/import \{ defineConfig \} from "storyshot"/)
    const built = cli(["build", "--json"], { cwd: fresh })
    expect(built.code, built.stderr).toBe(0)
    expect(JSON.parse(built.stdout).failed).toEqual([])
    expect(fs.statSync(path.join(fresh, "out", "final.mp4")).size).toBeGreaterThan(0)
    expect(fs.existsSync(path.join(fresh, "node_modules"))).toBe(false)
    // init never overwrites.
    fs.writeFileSync(path.join(fresh, "transcript.txt"), "Mine.")
    cli(["init"], { cwd: fresh })
    expect(fs.readFileSync(path.join(fresh, "transcript.txt"), "utf8")).toBe("Mine.")
  })

  it("clean says what dropped results cost, removes unreferenced files, and --all removes the store", () => {
    const dir = makeWorkspace(story)
    expect(cli(["build"], { cwd: dir }).code).toBe(0)
    const plain = cli(["clean"], { cwd: dir })
    expect(plain.code).toBe(0)
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false)
    expect(cli(["build"], { cwd: dir }).stdout).toMatch(/0 built/)
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    const all = cli(["clean", "--all"], { cwd: dir })
    expect(all.code).toBe(0)
    expect(fs.existsSync(path.join(dir, ".storyshot"))).toBe(false)
  })
})
