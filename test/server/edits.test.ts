/**
 * Pinned shot prompts (storyshot.shots.json) are part of every build, from the command line as from the
 * server: a pin rebuilds its shot and what shows it, nothing else; the next build is a no-op; taking the pin
 * away finds the old take in the store (nothing rebuilt); a broken file is a one-line error (exit 2).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import * as ShotEdits from "../../src/ShotEdits.ts"
import { cli, makeWorkspace, manifest, runBuild, sorted } from "../e2e/harness.ts"

let dir = ""
beforeAll(async () => {
  dir = makeWorkspace("The keeper climbed the stairs.\nThe light turned over the sea.")
  const first = await runBuild(dir)
  expect(first.summary.failed).toEqual([])
}, 120_000)
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

const pin = (prompt: string | null) => {
  const text = manifest(dir).sentences[1].text as string
  const next = ShotEdits.update(ShotEdits.empty, text, 1, { prompt })
  fs.writeFileSync(path.join(dir, ShotEdits.fileName), JSON.stringify(next))
}

describe("pinned shot prompts", () => {
  it("a pin rebuilds that shot's still and clip, its sentence, the film and the storyboard; then nothing; unpinned, the old take is found", async () => {
    const k = manifest(dir).sentences[1].shots[0].k as number
    const before = manifest(dir).sentences[1].shots[0].image
    pin("A lamp turning over a black sea, seen from the gallery")
    const pinned = await runBuild(dir)
    // The pin reaches the shot through its sentence's plan (free; issue 16), which nothing else re-reads.
    expect(sorted(pinned.summary.built)).toEqual(sorted(["sentence:2:plan", `shot:${k}:image`, `shot:${k}:video`, "sentence:2:mux", "final", "storyboard"]))
    expect(manifest(dir).sentences[1].shots[0].image).not.toBe(before)
    expect((await runBuild(dir)).summary.built).toEqual([])
    // The command line sees the same graph: nothing is stale.
    const dry = cli(["build", "--dry-run", "--json"], { cwd: dir })
    expect(JSON.parse(dry.stdout).wouldBuild).toEqual([])
    fs.rmSync(path.join(dir, ShotEdits.fileName))
    const back = await runBuild(dir)
    expect(back.summary.built).toEqual([])
    expect(manifest(dir).sentences[1].shots[0].image).toBe(before)
  }, 180_000)

  it("a broken pins file is refused in one line naming it (exit 2), before anything is built", () => {
    fs.writeFileSync(path.join(dir, ShotEdits.fileName), JSON.stringify({ version: 1, shots: [{ sentence: "x", shot: 0 }] }))
    const r = cli(["build"], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/storyshot\.shots\.json at shots\.0\.shot/)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
    fs.rmSync(path.join(dir, ShotEdits.fileName))
  })
})
