/**
 * `storyshot cache status|push|pull|verify` as a person runs them (the real command, spawned), against
 * s3rver, on a draft film (free and offline). Also the one-line errors: a URL that is not one, no remote
 * configured, a remote that is not there.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { cliAsync, makeWorkspace, runBuild } from "../e2e/harness.ts"
import { startS3, type S3 } from "./s3.ts"

let s3: S3
beforeAll(async () => {
  s3 = await startS3()
})
afterAll(() => s3?.close())

const story = "The fox ran across the frozen river at dawn."

/** The real command, spawned without blocking: s3rver lives in this process and must keep answering. */
const cli = (args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = cliAsync(args, options)
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (c) => (stdout += String(c)))
    child.stderr!.on("data", (c) => (stderr += String(c)))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

describe("storyshot cache", () => {
  it("status, push, pull and verify: a film built offline is sent, fetched by another machine, and checked", async () => {
    const env = s3.env("cli")
    const a = makeWorkspace(story)
    // Built without the remote: nothing there yet.
    const built = await runBuild(a, { noRemoteCache: true }, env)
    const n = built.summary.built.length
    expect(s3.objects()).toEqual([])

    const before = await cli(["cache", "status"], { cwd: a, env })
    expect(before.stderr).toBe("")
    expect(before.code).toBe(0)
    expect(before.stdout).toContain(`Remote cache s3://storyshot-cache/cli at ${s3.endpoint} (us-east-1): reachable.`)
    expect(before.stdout).toContain("there: 0 results, 0 objects (0.0 MB), 0 paid request(s) in flight")
    expect(before.stdout).toContain(`here:  ${n} results; ${n} not in the remote (\`storyshot cache push\` sends them)`)

    const push = await cli(["cache", "push"], { cwd: a, env })
    expect(push.code).toBe(0)
    expect(push.stdout).toMatch(new RegExp(`^Sent ${n} result\\(s\\) \\(\\d+ objects, [\\d.]+ MB\\) to s3://storyshot-cache/cli; 0 were there already\\.`))
    expect(JSON.parse((await cli(["cache", "push", "--json"], { cwd: a, env })).stdout)).toMatchObject({ sent: 0, already: n })

    // Machine B pulls what the film needs, then builds it without the remote: nothing to build.
    const b = makeWorkspace(story)
    const pull = await cli(["cache", "pull"], { cwd: b, env })
    expect(pull.code).toBe(0)
    expect(pull.stdout).toMatch(new RegExp(`^Fetched ${n} result\\(s\\) \\([\\d.]+ MB, which cost \\$0\\.00 to make\\) from s3://storyshot-cache/cli\\.`))
    const local = await runBuild(b, { noRemoteCache: true }, env)
    expect(local.summary.built).toEqual([])
    // What was fetched is a whole store: every record's objects are there and hash right.
    expect((await cli(["verify"], { cwd: b, env })).stdout).toMatch(new RegExp(`^The store checks out: ${n} records`, "m"))
    expect((await cli(["cache", "status", "--json"], { cwd: b, env })).stdout).toContain(`"local":{"records":${n},"notInRemote":0,"onlyInRemote":0}`)

    const ok = await cli(["cache", "verify"], { cwd: b, env })
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(new RegExp(`The remote cache checks out: ${n} records, \\d+ objects`))

    // One blob damaged: verify says which (and the record that names it), exit 1; --repair deletes both.
    const blob = s3.objects().find((k) => k.startsWith("cli/cas/"))!
    fs.writeFileSync(s3.file(blob), "damaged")
    const damaged = await cli(["cache", "verify"], { cwd: b, env })
    expect(damaged.code).toBe(1)
    expect(damaged.stdout).toContain(`problem: object ${blob.slice("cli/cas/".length, "cli/cas/".length + 12)}… does not match its hash (7 bytes hashing to`)
    expect(damaged.stdout).toMatch(/problem: record [0-9a-f]{12}… \(.+\) names ".+", whose object is damaged/)
    const repair = await cli(["cache", "verify", "--repair"], { cwd: b, env })
    expect(repair.stdout).toMatch(/Deleted [2-9]\d* bad record\(s\) and object\(s\)\./)
    expect((await cli(["cache", "verify"], { cwd: b, env })).code).toBe(0)
    // The next build that needs it makes it again and sends it (write-behind).
    const c = makeWorkspace(story)
    const rebuilt = await runBuild(c, {}, env)
    expect(rebuilt.summary.built.length).toBeGreaterThan(0)
    expect(rebuilt.summary.built.length).toBeLessThan(n)
    expect((await cli(["cache", "verify"], { cwd: c, env })).stdout).toMatch(new RegExp(`The remote cache checks out: ${n} records`))
  })

  it("refuses what it cannot use in one line, exit 2; a remote that is not there is exit 1", async () => {
    const dir = makeWorkspace(story)
    const bad = await cli(["build", "--quiet"], { cwd: dir, env: { ...s3.env(), STORYSHOT_REMOTE_CACHE: "http://example/cache" } })
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim()).toBe(
      'storyshot: STORYSHOT_REMOTE_CACHE is "http://example/cache": give an S3 URL such as "s3://bucket/prefix" (or STORYSHOT_REMOTE_CACHE=off to build without it)'
    )
    const none = await cli(["cache", "status"], { cwd: dir, env: { STORYSHOT_REMOTE_CACHE: "" } })
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/^storyshot: no remote cache is configured: set remoteCache/)
    fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), `export default { remoteCache: { url: "s3://UPPER/x" } }\n`)
    const config = await cli(["cache", "status"], { cwd: dir, env: { STORYSHOT_REMOTE_CACHE: "" } })
    expect(config.code).toBe(2)
    expect(config.stderr).toContain('field "remoteCache.url": an S3 URL such as "s3://bucket/prefix"')
    fs.rmSync(path.join(dir, "storyshot.config.mjs"))
    const gone = await cli(["cache", "status"], { cwd: dir, env: { ...s3.env(), AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9", STORYSHOT_REMOTE_CACHE_TIMEOUT_MS: "1000" } })
    expect(gone.code).toBe(1)
    expect(gone.stderr.trim().split("\n")).toHaveLength(1)
    expect(gone.stderr).toMatch(/^storyshot: s3:\/\/storyshot-cache\/p[0-9a-f]+: LIST .*: cannot connect \(ECONNREFUSED\)/)
    const help = await cli(["build", "--help"], { cwd: dir })
    expect(help.stdout).toContain("--no-remote-cache")
  })
})
