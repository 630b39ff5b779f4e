/**
 * The command line's manners (issue 21 §3, §7): a closed pipe ends the command quietly, help pages carry no
 * colour codes where nobody sees colour, name `storyshot` in their usage lines, and say something true and
 * specific about every option.
 */
import { describe, expect, it } from "vitest"
import { idPatterns } from "../../targets/Settings.ts"
import { targetList } from "../../src/cli/Commands.ts"
import { useColor } from "../../src/cli/Help.ts"
import { cli, cliAsync, makeWorkspace } from "../e2e/harness.ts"

const story = "The fox ran across the frozen river at dawn.\nSnow fell on the pines."
const big = Array.from({ length: 400 }, (_, i) => `Sentence ${i + 1} tells how the keeper climbed the stair again.`).join("\n")

/** The environment of a person who set nothing about colour. */
const plainEnv = () => {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "true" }
  delete env.FORCE_COLOR
  delete env.NO_COLOR
  return env
}

const commands = ["build", "graph", "clean", "init", "verify", "why", "runs", "report", "models", "superprompt"]

/** Runs the command with its stdout closed by the reader, as `| head` does, and collects how it ended. */
const withClosedPipe = (args: ReadonlyArray<string>, cwd: string, afterFirstChunk: boolean) =>
  new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = cliAsync(args, { cwd })
    let stderr = ""
    child.stderr.on("data", (d) => (stderr += d))
    if (afterFirstChunk) child.stdout.once("data", () => child.stdout.destroy())
    else child.stdout.destroy()
    child.on("close", (code) => resolve({ code, stderr }))
  })

describe("a reader that closes the pipe", () => {
  const dir = makeWorkspace(big)
  it("graph | head -1 on a 400-sentence workspace ends with exit 0 and no stack trace", async () => {
    const r = await withClosedPipe(["graph"], dir, true)
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|\bat .*:\d+:\d+/)
    expect(r.code).toBe(0)
  })
  it("build --dry-run | head, the pipe closed before the first line, ends with exit 0 and no stack trace", async () => {
    const r = await withClosedPipe(["build", "--dry-run"], dir, false)
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|\bat .*:\d+:\d+/)
    expect(r.code).toBe(0)
  })
})

describe("--help", () => {
  const dir = makeWorkspace(story)
  const help = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = plainEnv()) => {
    const r = cli([...args, "--help"], { cwd: dir, env })
    expect(r.code, r.stderr).toBe(0)
    return r.stdout
  }

  it("prints no ANSI codes into a pipe, and does when FORCE_COLOR is set", () => {
    for (const args of [[], ["build"], ["why"]]) expect(help(args)).not.toMatch(/\x1b\[/)
    expect(help([], { ...plainEnv(), FORCE_COLOR: "1" })).toMatch(/\x1b\[/)
    expect(help([], { ...plainEnv(), NO_COLOR: "1" })).not.toMatch(/\x1b\[/)
  })

  it("colours a terminal unless NO_COLOR is set; FORCE_COLOR wins either way", () => {
    expect(useColor({ isTTY: true }, {})).toBe(true)
    expect(useColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false)
    expect(useColor({ isTTY: true }, { NO_COLOR: "" })).toBe(true)
    expect(useColor({ isTTY: true }, { TERM: "dumb" })).toBe(false)
    expect(useColor({ isTTY: false }, {})).toBe(false)
    expect(useColor({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true)
    expect(useColor({ isTTY: true }, { FORCE_COLOR: "0" })).toBe(false)
  })

  it("usage lines name storyshot", () => {
    expect(help([])).toMatch(/^\$ storyshot /m)
    for (const c of commands) {
      const page = help([c])
      expect(page).toMatch(new RegExp(`^\\$ storyshot ${c}\\b`, "m"))
      expect(page).not.toMatch(new RegExp(`^\\$ ${c}\\b`, "m"))
    }
  })

  it("has no generic placeholder text and no --wizard, which is refused", () => {
    for (const page of [help([]), ...commands.map((c) => help([c]))]) {
      expect(page).not.toMatch(/A user-defined piece of text|A true or false value|A floating point number|^\s*A (file|directory)\.$/m)
      expect(page).not.toMatch(/--wizard|--log-level/)
    }
    const wizard = cli(["--wizard"], { cwd: dir, env: plainEnv() })
    expect(wizard.code).toBe(2)
    expect(wizard.stderr).toMatch(/unknown argument: '--wizard'/)
  })

  it("lists every target kind in build --help and why --help, from the list the ids are checked against", () => {
    for (const { example } of idPatterns) expect(targetList).toContain(example.replace(/^(sentence|shot):1:/, ""))
    expect(targetList).toMatch(/subtitles/)
    expect(targetList).toMatch(/storyboard/)
    const flat = (s: string) => s.replace(/\s+/g, " ")
    expect(flat(help(["build"]))).toContain(targetList)
    expect(flat(help(["why"]))).toContain(targetList)
  })

  it("describes every option its usage line shows", () => {
    for (const c of commands) {
      const page = help([c])
      const usage = page.split("\n").find((l) => l.startsWith(`$ storyshot ${c}`))!
      const flags = [...usage.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0])
      const lines = page.split("\n")
      for (const flag of flags) {
        const at = lines.findIndex((l) => new RegExp(`^\\(?(-[a-z], )?${flag}\\b`).test(l))
        expect(at, `${c} --help has no entry for ${flag}`).toBeGreaterThan(-1)
        const description = lines.slice(at + 1).find((l) => l.trim() !== "")
        expect(description, `${c} ${flag}`).toMatch(/^\s{2}\S.{10,}/)
      }
    }
  })
})
