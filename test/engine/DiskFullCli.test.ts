/**
 * `storyshot build` of a draft film on a disk that fills up, at two sizes, as a user meets it: the real
 * command tree run in this process (so the store's write path can be made to fill up without mounting a
 * small file system; `.ci/run` may not allow mount). What is checked is what a person sees and keeps:
 * exit 1 and one line on stderr naming the full disk and the path (with --quiet: no progress lines), the
 * summary of what finished, no torn file anywhere in `.storyshot/`, `verify` clean, `runs` still listing
 * the earlier run, and the next build, with space again, building only the rest.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "vitest"
import { Cause, Effect, Exit, Option } from "effect"
import { cli } from "../../src/cli/Main.ts"
import { readRuns } from "../../src/cli/runs.ts"
import { sha256 } from "../../src/engine/Hash.ts"
import { makeWorkspace } from "../e2e/harness.ts"
import { filesUnder, fillingDisk } from "./faults.ts"

const story = "The fox ran across the frozen river at dawn.\nSnow fell on the pines, and the fox was gone."

/** bin.ts's exit codes: 0, 1 for BuildFailed, 2 for any other failure, 70 for a defect. */
const exitCode = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) return 0
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return 70
  return (failure.value as { _tag?: string })._tag === "BuildFailed" ? 1 : 2
}

/** Runs `storyshot ARGS` in this process, capturing what it writes. */
const storyshot = async (cwd: string, ...args: Array<string>) => {
  const out: Array<string> = []
  const err: Array<string> = []
  const stdout = process.stdout.write
  const stderr = process.stderr.write
  process.stdout.write = ((s: string | Uint8Array) => (out.push(String(s)), true)) as typeof process.stdout.write
  process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write
  const before = { CI: process.env.CI }
  process.env.CI = "true"
  try {
    const program = cli(["node", "storyshot", ...args, "--cwd", cwd]) as Effect.Effect<void, unknown, NodeContext.NodeContext>
    const exit = await Effect.runPromiseExit(program.pipe(Effect.provide(NodeContext.layer)))
    return { code: exitCode(exit), stdout: out.join(""), stderr: err.join("") }
  } finally {
    process.stdout.write = stdout
    process.stderr.write = stderr
    if (before.CI === undefined) delete process.env.CI
    else process.env.CI = before.CI
  }
}

/** Every JSON file parses and every object hashes to its name: the torn files of issue 12. */
const tornFiles = (storeDir: string) =>
  filesUnder(storeDir).filter((f) => {
    if (f.endsWith(".json"))
      try {
        JSON.parse(fs.readFileSync(f, "utf8"))
        return false
      } catch {
        return true
      }
    if (f.endsWith(".jsonl"))
      return fs
        .readFileSync(f, "utf8")
        .split("\n")
        .some((line) => {
          if (!line.trim()) return false
          try {
            JSON.parse(line)
            return false
          } catch {
            return true
          }
        })
    return f.includes(`${path.sep}objects${path.sep}`) && sha256(fs.readFileSync(f)) !== path.basename(f).split(".")[0]
  })

const bytesUnder = (dir: string) => filesUnder(dir).reduce((n, f) => n + fs.statSync(f).size, 0)

describe("storyshot build on a full disk", () => {
  it("fills the disk at two sizes: exit 1, one line, nothing torn, verify clean, the next build finishes the rest", async () => {
    // How much a whole build of this film writes into its store.
    const reference = makeWorkspace(story)
    const whole = await storyshot(reference, "build", "--json")
    expect(whole.code).toBe(0)
    const total = bytesUnder(path.join(reference, ".storyshot"))

    for (const fraction of [0.3, 0.7]) {
      const dir = makeWorkspace(story)
      const storeDir = path.join(dir, ".storyshot")
      const earlier = await storyshot(dir, "build", "--json", "--target", "sentence:1:audio")
      expect(earlier.code).toBe(0)

      const disk = fillingDisk(storeDir, Math.round(total * fraction) - bytesUnder(storeDir))
      let full: Awaited<ReturnType<typeof storyshot>>
      try {
        full = await storyshot(dir, "build", "--json", "--quiet")
      } finally {
        disk.restore()
      }
      expect(disk.failures()).toBeGreaterThan(0)
      // Exit 1, and one line that says the disk is full and which path.
      expect(full.code).toBe(1)
      const lines = full.stderr.split("\n").filter(Boolean)
      expect(lines).toHaveLength(1)
      const line = /^storyshot: the disk is full: could not (?:write|store) (\S+) \(ENOSPC\); free some space and build again \(what was stored so far is kept\)$/.exec(lines[0]!)
      expect(line, lines[0]).not.toBeNull()
      expect(line![1]!.startsWith(storeDir)).toBe(true)
      // The summary of what finished.
      const summary = JSON.parse(full.stdout)
      expect(summary.storeFailure.reason).toBe("DiskFull")
      expect(summary.cached).toContain("sentence:1:audio")
      expect(summary.output).toBeUndefined()

      // Nothing torn, nothing recorded lost, the earlier run still listed.
      expect(tornFiles(storeDir)).toEqual([])
      const verify = await storyshot(dir, "verify", "--json")
      expect(verify.code).toBe(0)
      expect(JSON.parse(verify.stdout).problems).toEqual([])
      expect(readRuns(storeDir).map((r) => r.runId)).toContain(JSON.parse(earlier.stdout).runId)

      // Space again: only the rest is built.
      const next = await storyshot(dir, "build", "--json")
      expect(next.code).toBe(0)
      const after = JSON.parse(next.stdout)
      expect(after.failed).toEqual([])
      expect(after.built.filter((id: string) => summary.built.includes(id) || id === "sentence:1:audio")).toEqual([])
      expect(after.cached).toEqual(expect.arrayContaining([...summary.built, "sentence:1:audio"]))
      expect(fs.statSync(path.join(dir, "out", "final.mp4")).size).toBeGreaterThan(0)
      expect(tornFiles(storeDir)).toEqual([])
      expect(fs.readdirSync(path.join(storeDir, "tmp"))).toEqual([])
    }
  }, 240_000)
})
