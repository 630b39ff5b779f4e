/**
 * Installing storyshot as a tool, as a user would: `npm pack`, then `npm install -g` of that tarball into a
 * temporary prefix, then `storyshot init && storyshot build` in an empty folder that has no node_modules.
 * The dependencies come from a registry on 127.0.0.1 made from this checkout's node_modules
 * (test/fakes/registry.ts says why the npm cache alone cannot do it), so the test needs no network.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startRegistry, type Registry } from "../fakes/registry.ts"
import { ffprobe } from "./harness.ts"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")

const run = (command: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

// npm itself, the one running the tests when there is one (`npm test`), without a shell.
const npm = (args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = {}) => {
  const cli = process.env.npm_execpath
  return cli && /npm-cli\.[cm]?js$/.test(cli)
    ? run(process.execPath, [cli, ...args], { cwd, env })
    : run(process.platform === "win32" ? "npm.cmd" : "npm", args, { cwd, env })
}

describe("storyshot installed as a tool", () => {
  let registry: Registry
  let tmp: string
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-install-"))
    registry = await startRegistry(path.join(repo, "node_modules"))
  })
  afterAll(async () => {
    await registry?.close()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  it("npm install -g of the packed tarball gives a storyshot whose init && build makes out/final.mp4 in an empty folder", async () => {
    // Everything npm writes goes under tmp: the tarball, the prefix, its cache.
    const env = { npm_config_cache: path.join(tmp, "npm-cache"), npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" }
    const packed = await npm(["pack", "--pack-destination", tmp, "--json"], repo, env)
    expect(packed.code, packed.stderr).toBe(0)
    const tarball = path.join(tmp, (JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!.filename)
    const files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path)
    expect(files).toEqual(expect.arrayContaining(["bin/storyshot.cjs", "dist/storyshot.cjs", "dist/index.js", "dist/types/index.d.ts"]))
    expect(files.filter((f) => f.endsWith(".v8"))).toEqual([])

    const prefix = path.join(tmp, "prefix")
    const installed = await npm(["install", "-g", "--prefix", prefix, "--registry", registry.url, tarball], tmp, env)
    expect(installed.code, installed.stderr).toBe(0)
    const binDir = process.platform === "win32" ? prefix : path.join(prefix, "bin")
    const pkgDir = process.platform === "win32" ? path.join(prefix, "node_modules", "storyshot") : path.join(prefix, "lib", "node_modules", "storyshot")
    // What `exports` names is plain JavaScript Node loads, with no TypeScript loader anywhere.
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")) as { exports: { ".": { default: string } } }
    expect(pkg.exports["."].default).toMatch(/\.js$/)
    expect(fs.existsSync(path.join(pkgDir, "node_modules", "tsx")) || fs.existsSync(path.join(prefix, "lib", "node_modules", "tsx"))).toBe(false)
    const helper = (await import(path.join(pkgDir, pkg.exports["."].default))) as { defineConfig: (c: unknown) => unknown }
    expect(helper.defineConfig({ fps: 12 })).toEqual({ fps: 12 })

    // An empty folder, no node_modules anywhere above it that holds storyshot: the command on the PATH.
    const film = path.join(tmp, "film")
    fs.mkdirSync(film)
    const PATH = `${binDir}${path.delimiter}${process.env.PATH ?? ""}`
    const storyshot = process.platform === "win32" ? path.join(binDir, "storyshot.cmd") : path.join(binDir, "storyshot")
    const init = await run(storyshot, ["init"], { cwd: film, env: { PATH } })
    expect(init.code, init.stderr).toBe(0)
    expect(fs.readFileSync(path.join(film, "storyshot.config.ts"), "utf8")).toMatch(/from "storyshot"/)
    // A smaller film than the example's defaults, to keep the test quick; the config still imports "storyshot".
    fs.writeFileSync(path.join(film, "transcript.txt"), "The keeper climbed the stairs.\nThe boat turned just in time.\n")
    const build = await run(storyshot, ["build"], { cwd: film, env: { PATH, CI: "true" } })
    expect(build.code, build.stderr).toBe(0)
    expect(fs.existsSync(path.join(film, "node_modules"))).toBe(false)
    const probe = ffprobe(path.join(film, "out", "final.mp4"))
    expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(["audio", "video"])
    expect(Number(probe.format.duration)).toBeGreaterThan(1)

    // The second build is a no-op, from the same installed command.
    const again = await run(storyshot, ["build", "--json"], { cwd: film, env: { PATH } })
    expect(again.code, again.stderr).toBe(0)
    expect((JSON.parse(again.stdout) as { built: Array<string> }).built).toEqual([])
  }, 300_000)
})
