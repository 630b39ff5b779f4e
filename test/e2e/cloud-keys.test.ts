/**
 * No key leaves the process: after real `storyshot build` runs of the cloud profile (one with a failure,
 * one with --json), no file under `.storyshot/` or `out/` and nothing the command printed holds any key.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { keys, startFakes, type Fakes } from "../fakes/all.ts"
import { cliAsync, makeWorkspace, smallConfig } from "./harness.ts"

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

const filesUnder = (dir: string): Array<string> =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]
      )
    : []

/** The real command, spawned without blocking: the fakes answer from this process's event loop. */
export const cliRun = (args: ReadonlyArray<string>, options: { cwd: string; env: Record<string, string> }) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = cliAsync(args, options)
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (c) => (stdout += String(c)))
    child.stderr!.on("data", (c) => (stderr += String(c)))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

describe("keys stay secret", () => {
  it("no key in .storyshot/, out/ or the output of the command, failures included", async () => {
    const dir = makeWorkspace("The fox ran across the frozen river at dawn.\nSnow fell on the pines.", {
      config: smallConfig(`profile: "cloud"`)
    })
    fakes.reset()
    // A failing image first (its error is printed), then a build that finishes the film.
    fakes.openai.inject({ kind: "moderation" })
    const failed = await cliRun(["build", "--keep-going"], { cwd: dir, env: fakes.env })
    expect(failed.code).toBe(1)
    expect(failed.stdout + failed.stderr).toMatch(/moderation/)
    const ok = await cliRun(["build", "--json"], { cwd: dir, env: fakes.env })
    expect(ok.code).toBe(0)
    expect(fakes.counts().images).toBeGreaterThanOrEqual(3)

    const files = [...filesUnder(path.join(dir, ".storyshot")), ...filesUnder(path.join(dir, "out"))]
    // The run logs (every request and response in full) are among them, with the keys' places masked.
    const logs = files.filter((f) => f.endsWith("io.jsonl"))
    expect(logs.length).toBe(2)
    expect(fs.readFileSync(logs[0]!, "utf8")).toContain('"authorization":"Key ***"')
    expect(files.some((f) => f.endsWith("final.mp4"))).toBe(true)
    const outputs = [failed.stdout, failed.stderr, ok.stdout, ok.stderr].join("\n")
    for (const key of Object.values(keys)) {
      expect(outputs).not.toContain(key)
      for (const file of files) {
        const found = fs.readFileSync(file).includes(Buffer.from(key))
        expect(found ? `${file} contains a key` : "clean").toBe("clean")
      }
    }
  })
})
