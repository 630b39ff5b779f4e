/**
 * Bad input: each case is the real command, spawned, on a copy of a workspace that was built once. Each
 * must exit 2 with one line on stderr that names the problem and what to do, no stack trace, and leave
 * `.storyshot/` exactly as it was (no record, object, lock or run log added, removed or touched).
 * What must work (emoji, non-Latin scripts, a 5,000-character sentence) works.
 */
import { beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cli, cliAsync, ffprobe, makeWorkspace, smallConfig } from "./harness.ts"

const story = "The fox ran across the frozen river.\nSnow fell."

let built: string
beforeAll(() => {
  built = makeWorkspace(story)
  const r = cli(["build"], { cwd: built })
  expect(r.code, r.stderr).toBe(0)
}, 60_000)

/** Every file under the store with its size and modification time. */
const snapshot = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      const st = fs.statSync(p)
      if (e.isDirectory()) {
        out[path.relative(dir, p) + "/"] = ""
        walk(p)
      } else out[path.relative(dir, p)] = `${st.size}:${st.mtimeMs}`
    }
  }
  walk(dir)
  return out
}

/** A copy of the built workspace, changed by `change`. */
const workspace = (change: (dir: string) => void) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-bad-"))
  fs.cpSync(built, dir, { recursive: true, preserveTimestamps: true })
  change(dir)
  return dir
}

/** The real command, spawned without blocking, so that the cases below run side by side. */
const spawnCli = (args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = cliAsync(args, options)
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (c) => (stdout += String(c)))
    child.stderr!.on("data", (c) => (stderr += String(c)))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const refused = async (
  args: ReadonlyArray<string>,
  change: (dir: string) => void,
  expected: RegExp,
  env: NodeJS.ProcessEnv = {}
) => {
  const dir = workspace(change)
  const store = path.join(dir, ".storyshot")
  const before = snapshot(store)
  const r = await spawnCli(args, { cwd: dir, env })
  expect(r.code, r.stderr + r.stdout).toBe(2)
  const lines = r.stderr.trim().split("\n")
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^storyshot: /)
  expect(lines[0]).toMatch(expected)
  expect(r.stderr).not.toMatch(/\bat .*:\d+:\d+|Error:|FiberFailure|\.ts:\d+/)
  expect(snapshot(store)).toEqual(before)
  return lines[0]!
}

const transcript = (content: string | Uint8Array) => (dir: string) => fs.writeFileSync(path.join(dir, "transcript.txt"), content)
const config = (content: string) => (dir: string) => fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), content)

describe.concurrent("bad input: exit 2, one line saying what to do, the store untouched", () => {
  it("an empty transcript", async () => {
    await refused(["build"], transcript(""), /transcript\.txt is empty: write the text to narrate/)
  })

  it("a whitespace-only transcript", async () => {
    await refused(["build"], transcript("  \n\t\n   \n"), /holds only whitespace: write the text to narrate/)
  })

  it("a transcript of punctuation only", async () => {
    await refused(["build"], transcript("... !!! ***\n— ?"), /only punctuation or symbols, nothing to narrate: write at least one sentence/)
  })

  it("a transcript that is not UTF-8", async () => {
    // "café" in Latin-1: the é is the byte 0xE9, which UTF-8 cannot start a character with.
    await refused(["build"], transcript(Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x0a])), /not valid UTF-8 \(first bad byte at offset 3, line 1\): save it as UTF-8/)
  })

  it("a transcript in UTF-16", async () => {
    await refused(["build"], transcript(Buffer.from("\ufeffHello there.", "utf16le")), /is UTF-16, not UTF-8: save it as UTF-8/)
  })

  it("a missing transcript file", async () => {
    await refused(["build"], (dir) => fs.rmSync(path.join(dir, "transcript.txt")), /no transcript at .*transcript\.txt: write your text there.*storyshot init/)
  })

  it("a config field of the wrong type", async () => {
    await refused(["build"], config(`export default { height: "tall" }\n`), /storyshot\.config\.mjs: field "height": Expected number, actual "tall"/)
  })

  it("an unknown config field", async () => {
    await refused(["build"], config(`export default { height: 90, shotSecond: 3 }\n`), /unknown field "shotSecond" \(check its spelling/)
  })

  it("a bad aspect ratio", async () => {
    await refused(["build"], config(`export default { height: 90, aspect: "4:3" }\n`), /field "aspect": Expected "16:9" \| "9:16" \| "1:1", actual "4:3"/)
  })

  it("a config that does not parse", async () => {
    await refused(["build"], config(`export default { height: 90,, }\n`), /could not load .*storyshot\.config\.mjs/)
  })

  it("an unknown target id, with the nearest suggested", async () => {
    await refused(["build", "--target", "sentence:2:audoi"], () => {}, /unknown target "sentence:2:audoi": did you mean "sentence:2:audio"\?/)
    await refused(["build", "--target", "sentence:9:mux"], () => {}, /unknown target "sentence:9:mux": the transcript has 2 sentences/)
  })

  it("an unknown stage", async () => {
    await refused(["clean", "--stage", "vidoe"], () => {}, /unknown stage "vidoe": use one of transcript, audio, timing, prompts, image, video, mux, final, subtitles, storyboard/)
  })

  it("ffmpeg missing", async () => {
    await refused(["build"], () => {}, /ffmpeg was not found at \/nonexistent\/ffmpeg \(from FFMPEG_PATH\).*set FFMPEG_PATH to a working ffmpeg binary/, {
      FFMPEG_PATH: "/nonexistent/ffmpeg"
    })
  })

  it("ffmpeg that does not run", async () => {
    if (process.platform === "win32") return
    await refused(["build"], () => {}, /ffmpeg at \/bin\/false does not work \(`ffmpeg -version` exited with code 1\): set FFMPEG_PATH to a working ffmpeg/, {
      FFMPEG_PATH: "/bin/false"
    })
  })

  it("a cloud build without its keys", async () => {
    await refused(["build", "--profile", "cloud"], () => {}, /missing FAL_KEY, OPENAI_KEY \(or OPENAI_API_KEY\), OPENROUTER_KEY: set them in \.env/, {
      FAL_KEY: "",
      OPENAI_KEY: "",
      OPENAI_API_KEY: "",
      OPENROUTER_KEY: ""
    })
  })
})

describe("input that must work", () => {
  it("emoji and non-Latin scripts build a film", () => {
    const dir = makeWorkspace("Hello 👋 world, привет мир! 你好，世界。")
    const r = cli(["build", "--json"], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(summary.built).toEqual(expect.arrayContaining(["sentence:1:audio", "sentence:2:audio", "final"]))
    const probe = ffprobe(path.join(dir, "out", "final.mp4"))
    expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(["audio", "video"])
    expect(Number(probe.format.duration)).toBeGreaterThan(1)
  }, 60_000)

  it("a 5,000-character sentence is split at its commas into sentences a narrator can say", () => {
    const clause = "and the wind carried the snow over the frozen river towards the old mill"
    let long = "The fox ran"
    while (long.length < 5000) long += `, ${clause}`
    long += "."
    expect(long.length).toBeGreaterThanOrEqual(5000)
    const dir = makeWorkspace(long, { config: smallConfig() })
    const graph = cli(["graph", "--format", "json"], { cwd: dir })
    expect(graph.code, graph.stderr).toBe(0)
    const audio = JSON.parse(graph.stdout).nodes.filter((n: { id: string }) => /^sentence:\d+:audio$/.test(n.id))
    expect(audio.length).toBeGreaterThanOrEqual(13) // 5,000 characters in pieces of at most 400
    // The first piece narrates on its own (a whole build of ~6 minutes of narration is not needed here).
    const r = cli(["build", "--target", "sentence:1:audio", "--json"], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const story = JSON.parse(fs.readFileSync(path.join(dir, ".storyshot", "story.json"), "utf8"))
    const first = JSON.stringify(story).match(/"text":"(The fox ran[^"]*)"/)?.[1]
    expect(first).toBeDefined()
    expect(first!.length).toBeLessThanOrEqual(400)
    expect(first).toMatch(/old mill,$/) // cut after a comma, not inside a word
  }, 60_000)
})
