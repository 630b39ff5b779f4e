/**
 * Issue 16's story bible in the draft profile, as a person meets it on the command line: `direct` writes it once
 * from the names in the text and never writes over it without --force; a broken bible stops a build with one
 * line (exit 2); the draft cards show each shot's cast in its character's colour; adding a character re-plans
 * only the sentences that mention it, and a spelling fix in the transcript re-draws no image of another sentence.
 */
import ffmpeg from "@ffmpeg-installer/ffmpeg"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { cli, makeWorkspace, manifest, runBuild, smallConfig } from "../e2e/harness.ts"
import { readBible, writeBible } from "./run.ts"

const story = [
  "Mara climbed the lighthouse stairs at dusk.",
  "Old Tom waited below with the lantern.",
  "The storm rolled in across the bay.",
  "Mara lit the great lamp."
]

const bibleFile = (dir: string) => path.join(dir, "storyshot.bible.json")

describe("storyshot direct (draft profile)", () => {
  it("writes the bible once from the names in the text; never over it without --force (exit 2)", () => {
    const dir = makeWorkspace(story.join("\n"))
    const first = cli(["direct"], { cwd: dir })
    expect(first.stderr).toBe("")
    expect(first.code).toBe(0)
    expect(first.stdout).toContain("cast (2): Mara, Old Tom")
    const bible = readBible(dir)
    expect(bible.cast.map((c) => [c.name, c.aliases])).toEqual([["Mara", []], ["Old Tom", []]])
    expect(bible.cast.every((c) => /^#[0-9a-f]{6}$/.test(c.colour!))).toBe(true)
    expect(bible.cast[0]!.colour).not.toBe(bible.cast[1]!.colour)

    // The person edits it; a second `direct` keeps their words, byte for byte.
    writeBible(dir, { ...bible, cast: [{ ...bible.cast[0]!, look: "tall, a grey braid" }, bible.cast[1]!] })
    const mine = fs.readFileSync(bibleFile(dir), "utf8")
    const again = cli(["direct"], { cwd: dir })
    expect(again.code).toBe(2)
    expect(again.stderr.trim().split("\n")).toHaveLength(1)
    expect(again.stderr).toContain("--force")
    expect(fs.readFileSync(bibleFile(dir), "utf8")).toBe(mine)

    // A build reads it and leaves it alone.
    const built = cli(["build", "--target", "sentence:1:plan"], { cwd: dir })
    expect(built.code).toBe(0)
    expect(fs.readFileSync(bibleFile(dir), "utf8")).toBe(mine)

    // --force writes a new draft, keeping the old file in the store.
    const forced = cli(["direct", "--force"], { cwd: dir })
    expect(forced.code).toBe(0)
    expect(readBible(dir).cast[0]!.look).toBe("")
    expect(fs.readFileSync(path.join(dir, ".storyshot", "bible.previous.json"), "utf8")).toBe(mine)
  }, 120_000)

  it("a broken bible stops the build with one line naming the file and the field (exit 2), before anything is built", () => {
    const dir = makeWorkspace(story.join("\n"))
    fs.writeFileSync(bibleFile(dir), JSON.stringify({ version: 1, cast: [{ name: "Mara", hair: "grey" }] }))
    const r = cli(["build"], { cwd: dir })
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain("storyshot.bible.json at cast.0.hair")
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/)
    expect(fs.existsSync(path.join(dir, ".storyshot", "records"))).toBe(false)

    fs.writeFileSync(bibleFile(dir), "{ not json")
    const j = cli(["build", "--dry-run"], { cwd: dir })
    expect(j.code).toBe(2)
    expect(j.stderr.trim().split("\n")).toHaveLength(1)
    expect(j.stderr).toContain("is not JSON")

    fs.writeFileSync(bibleFile(dir), JSON.stringify({ version: 1, cast: [{ name: "Mara" }, { name: "mara" }] }))
    const twice = cli(["build", "--dry-run"], { cwd: dir })
    expect(twice.code).toBe(2)
    expect(twice.stderr).toContain("same id")
  }, 120_000)
})

/** Pixels of a picture near a colour (each channel within 40), decoded by the real ffmpeg. */
const near = (file: string, hex: string): number => {
  const rgb = spawnSync(ffmpeg.path, ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], { maxBuffer: 1 << 27 }).stdout
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16))
  let n = 0
  for (let i = 0; i + 2 < rgb.length; i += 3) if (Math.abs(rgb[i]! - want[0]!) < 40 && Math.abs(rgb[i + 1]! - want[1]!) < 40 && Math.abs(rgb[i + 2]! - want[2]!) < 40) n++
  return n
}

describe("the draft cards show the cast", () => {
  it("each shot's card names its cast in the characters' colours, with no key", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig().replace("height: 90", "height: 360") })
    writeBible(dir, {
      version: 1,
      cast: [
        { name: "Mara", role: "the keeper", colour: "#00ff00" },
        { name: "Old Tom", aliases: ["Tom"], role: "her friend", colour: "#ff00ff" }
      ]
    })
    const { summary } = await runBuild(dir, {}, {})
    expect(summary.failed).toEqual([])
    const shots = manifest(dir).sentences.flatMap((s: any) => s.shots.map((shot: any) => ({ n: s.n, cast: shot.prompt.cast as Array<string>, image: path.join(dir, shot.image) })))
    const of = (n: number) => shots.filter((s: any) => s.n === n)
    expect(of(1).every((s: any) => s.cast.join() === "mara")).toBe(true)
    expect(of(2).every((s: any) => s.cast.join() === "old-tom")).toBe(true)
    expect(of(3).every((s: any) => s.cast.length === 0)).toBe(true)
    const green = (n: number) => near(of(n)[0]!.image, "#00ff00")
    const magenta = (n: number) => near(of(n)[0]!.image, "#ff00ff")
    // Mara's name in her green on her shots, Tom's in his magenta on his, neither on the storm's.
    expect(green(1)).toBeGreaterThan(30)
    expect(magenta(1)).toBeLessThan(5)
    expect(magenta(2)).toBeGreaterThan(30)
    expect(green(2)).toBeLessThan(5)
    expect(green(3) + magenta(3)).toBeLessThan(5)
  }, 120_000)
})

describe("the money rule and the bible (draft profile)", () => {
  it("adding a character re-plans only the sentences that mention it; editing a look re-plans nothing", async () => {
    const dir = makeWorkspace(story.join("\n"))
    writeBible(dir, { version: 1, cast: [{ name: "Mara", role: "the keeper" }] })
    expect((await runBuild(dir)).summary.failed).toEqual([])

    writeBible(dir, { version: 1, cast: [{ name: "Mara", role: "the keeper" }, { name: "Old Tom", aliases: ["Tom"], role: "her friend" }] })
    const added = await runBuild(dir)
    const planned = (built: ReadonlyArray<string>) => built.filter((id) => /^sentence:\d+:prompts$/.test(id)).sort()
    expect(planned(added.summary.built)).toEqual(["sentence:2:prompts"])
    expect(added.summary.built.filter((id) => /^shot:\d+:image$/.test(id)).length).toBeGreaterThan(0)
    expect(added.summary.built.filter((id) => /^sentence:\d+:audio$/.test(id))).toEqual([])

    writeBible(dir, { version: 1, cast: [{ name: "Mara", role: "the keeper", look: "tall, a grey braid" }, { name: "Old Tom", aliases: ["Tom"], role: "her friend" }] })
    const look = await runBuild(dir)
    expect(planned(look.summary.built)).toEqual([])
    // Mara's shots only (sentences 1 and 4) are drawn again.
    const sentenceOf = new Map<number, number>(manifest(dir).sentences.flatMap((s: any) => s.shots.map((shot: any) => [shot.k, s.n])))
    const redrawn = [...new Set(look.summary.built.filter((id) => /^shot:\d+:image$/.test(id)).map((id) => sentenceOf.get(Number(id.split(":")[1]))))].sort()
    expect(redrawn).toEqual([1, 4])
  }, 180_000)
})
