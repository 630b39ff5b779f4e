/**
 * Media checks out of the provider pools (issue 12, "housekeeping"): in a cloud build, ffprobe/ffmpeg checks of
 * what the providers returned run in the "ffmpeg" pool (`verifyPool`, contract 4), not in the "fal"/"openai"
 * pools, so the ffmpeg limit holds. Measured from outside: FFMPEG_PATH and FFPROBE_PATH point at a wrapper
 * that logs every process's start and end; the peak number running at once must equal the pool's limit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { createRequire } from "node:module"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { cliAsync, makeWorkspace, smallConfig } from "./harness.ts"

const require = createRequire(import.meta.url)
const real = {
  ffmpeg: (require("@ffmpeg-installer/ffmpeg") as { path: string }).path,
  ffprobe: (require("@ffprobe-installer/ffprobe") as { path: string }).path
}

const story = [
  "A hunter watched from the ridge, silent and still, as the light grew over the valley and the river.",
  "The fox ran across the frozen river at dawn.",
  "Snow fell on the pines.",
  "Birds rose from the reeds when the ice cracked.",
  "Night came early that day."
]

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

/** A stand-in for the binary that logs when it runs (the `-version` checks before a build are not counted). */
const wrapper = (dir: string, binary: "ffmpeg" | "ffprobe", log: string) => {
  const file = path.join(dir, binary)
  fs.writeFileSync(
    file,
    `#!${process.execPath}
const fs = require("fs")
const { spawnSync } = require("child_process")
const args = process.argv.slice(2)
const counted = !args.includes("-version")
if (counted) fs.appendFileSync(${JSON.stringify(log)}, "start ${binary}\\n")
const r = spawnSync(${JSON.stringify(real[binary])}, args, { stdio: "inherit" })
if (counted) fs.appendFileSync(${JSON.stringify(log)}, "end ${binary}\\n")
process.exit(r.status === null ? 1 : r.status)
`
  )
  fs.chmodSync(file, 0o755)
  return file
}

describe.skipIf(process.platform === "win32")("pools in a cloud build", () => {
  it("the ffmpeg pool's peak equals its limit: checks of provider outputs wait for an ffmpeg slot", async () => {
    const limit = 2
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud", pools: { ffmpeg: ${limit}, fal: 6, openai: 6 }`) })
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-ffwrap-"))
    const log = path.join(bin, "processes.log")
    fs.writeFileSync(log, "")
    const env = { ...fakes.env, FFMPEG_PATH: wrapper(bin, "ffmpeg", log), FFPROBE_PATH: wrapper(bin, "ffprobe", log) }
    fakes.reset()
    const child = cliAsync(["build", "--json"], { cwd: dir, env })
    let stderr = ""
    child.stderr!.on("data", (c) => (stderr += String(c)))
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
    expect(code, stderr).toBe(0)

    let running = 0
    let peak = 0
    let processes = 0
    for (const line of fs.readFileSync(log, "utf8").split("\n")) {
      if (line.startsWith("start")) {
        processes++
        peak = Math.max(peak, ++running)
      } else if (line.startsWith("end")) running--
    }
    console.log(`ffmpeg pool: ${JSON.stringify({ limit, peak, processes })}`)
    expect(processes).toBeGreaterThan(20)
    expect(peak).toBe(limit)
  }, 240_000)
})
