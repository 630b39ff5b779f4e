/**
 * Two builds started at once on one workspace (one waits, both end correctly, the store is consistent), and
 * interruption (SIGINT/SIGTERM: exit 130, what finished is kept, the next build continues from there).
 */
import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { cli, cliAsync, makeWorkspace } from "./harness.ts"

const story = [
  "The fox ran across the frozen river at dawn.",
  "Snow fell on the pines.",
  "A hunter watched from the ridge.",
  "The river cracked under the weight of the ice."
].join("\n")

const start = (args: ReadonlyArray<string>, cwd: string) => {
  const child = cliAsync(args, { cwd })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (c) => (stdout += String(c)))
  child.stderr!.on("data", (c) => (stderr += String(c)))
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  )
  return { child, done, stderr: () => stderr }
}

const until = async (what: () => boolean, ms = 30_000) => {
  const end = Date.now() + ms
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 25))
  }
}

const recordCount = (dir: string) => {
  const root = path.join(dir, ".storyshot", "records")
  return fs.existsSync(root) ? fs.readdirSync(root).reduce((n, s) => n + fs.readdirSync(path.join(root, s)).length, 0) : 0
}

describe("one workspace, two builds", () => {
  it("started at once: one waits with a message, both succeed, nothing is built twice, the store checks out", async () => {
    const dir = makeWorkspace(story)
    const a = start(["build", "--json"], dir)
    const b = start(["build", "--json"], dir)
    const [ra, rb] = await Promise.all([a.done, b.done])
    expect([ra.code, rb.code], ra.stderr + rb.stderr).toEqual([0, 0])
    const [sa, sb] = [JSON.parse(ra.stdout), JSON.parse(rb.stdout)]
    // Exactly one of them waited, said so, and then found everything built by the other.
    const waited = [ra, rb].filter((r) => /waiting for storyshot build \(pid \d+/.test(r.stderr))
    expect(waited).toHaveLength(1)
    const [first, second] = sa.built.length > 0 ? [sa, sb] : [sb, sa]
    expect(first.built).toContain("final")
    expect(second.built).toEqual([])
    expect(second.cached).toContain("final")
    const verify = cli(["verify", "--json"], { cwd: dir })
    expect(verify.code).toBe(0)
    expect(JSON.parse(verify.stdout).problems).toEqual([])
    expect(fs.existsSync(path.join(dir, ".storyshot", "lock"))).toBe(false)
  }, 90_000)

  it("--no-wait exits 2 at once, naming the build that holds the workspace, and touches nothing", async () => {
    const dir = makeWorkspace(story)
    const a = start(["build"], dir)
    await until(() => fs.existsSync(path.join(dir, ".storyshot", "lock")))
    const b = cli(["build", "--no-wait"], { cwd: dir })
    expect(b.code).toBe(2)
    expect(b.stderr.trim().split("\n")).toHaveLength(1)
    expect(b.stderr).toMatch(/^storyshot: another build is using this workspace: storyshot build \(pid \d+, started .*\); wait for it to finish/)
    expect((await a.done).code).toBe(0)
  }, 90_000)
})

describe("interruption", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal}: exit 130, finished steps kept and valid, no lock left, the next build continues`, async () => {
      const dir = makeWorkspace(story)
      const a = start(["build"], dir)
      // Stop it once some steps are recorded and others are not.
      await until(() => recordCount(dir) >= 3)
      a.child.kill(signal)
      const r = await a.done
      expect(r.code, r.stderr).toBe(130)
      expect(r.stderr).toMatch(/stopping \(nothing new starts; finished steps are kept, and so is paid work a provider has started/)
      expect(r.stderr).not.toMatch(/\bat .*:\d+:\d+/)
      const kept = recordCount(dir)
      expect(kept).toBeGreaterThanOrEqual(3)
      expect(fs.existsSync(path.join(dir, ".storyshot", "lock"))).toBe(false)
      expect(JSON.parse(cli(["verify", "--json"], { cwd: dir }).stdout).problems).toEqual([])
      const next = cli(["build", "--json"], { cwd: dir })
      expect(next.code).toBe(0)
      const summary = JSON.parse(next.stdout)
      expect(summary.cached.length).toBeGreaterThanOrEqual(kept - 1)
      expect(summary.built).toContain("final")
    }, 90_000)
  }

  it("a second Ctrl-C exits at once; the store stays valid and the next build takes over the lock", async () => {
    const dir = makeWorkspace(story)
    const a = start(["build"], dir)
    await until(() => recordCount(dir) >= 2)
    a.child.kill("SIGINT")
    await until(() => /stopping/.test(a.stderr()))
    a.child.kill("SIGINT")
    const r = await a.done
    expect(r.code).toBe(130)
    expect(JSON.parse(cli(["verify", "--json"], { cwd: dir }).stdout).problems).toEqual([])
    const next = cli(["build", "--no-wait"], { cwd: dir })
    expect(next.code, next.stderr).toBe(0)
  }, 90_000)
})
