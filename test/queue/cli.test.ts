/**
 * `storyshot worker` and `serve --queue` refuse what they cannot use in one line: no queue or a URL that is
 * not Redis, or a Redis that is not there, is exit 2 (the person's to fix), said in one line without a stack.
 */
import * as os from "node:os"
import { describe, expect, it } from "vitest"
import { cli } from "../e2e/harness.ts"

describe("storyshot worker, as typed", () => {
  it("no queue, a URL that is not Redis, a bad --limit, a Redis that is not there: exit 2 in one line", async () => {
    const env = { STORYSHOT_QUEUE: "" }
    const none = await cli(["worker"], { cwd: os.tmpdir(), env })
    expect(none.code).toBe(2)
    expect(none.stderr.trim()).toBe("storyshot: storyshot worker needs a queue: --queue redis://HOST:PORT (or STORYSHOT_QUEUE), the one `storyshot serve --queue` uses")
    const http = await cli(["worker", "--queue", "http://127.0.0.1:6379"], { cwd: os.tmpdir(), env })
    expect(http.code).toBe(2)
    expect(http.stderr.trim()).toBe("storyshot: --queue: http:// is not a Redis URL: give redis://HOST:PORT (or rediss:// for TLS)")
    const limit = await cli(["worker", "--queue", "redis://127.0.0.1:9", "--limit", "openai=0"], { cwd: os.tmpdir(), env })
    expect(limit.code).toBe(2)
    expect(limit.stderr.trim()).toMatch(/^storyshot: --limit openai=0: give a provider pool and a whole number of at least 1/)
    const gone = await cli(["worker", "--queue", "redis://127.0.0.1:9"], { cwd: os.tmpdir(), env })
    expect(gone.code).toBe(2)
    expect(gone.stderr.trim().split("\n")).toHaveLength(1)
    expect(gone.stderr).toMatch(/^storyshot: (cannot reach Redis at redis:\/\/127\.0\.0\.1:9|Redis at redis:\/\/127\.0\.0\.1:9 did not answer)/)
    const serve = await cli(["serve", "--port", "0", "--queue", "redis://127.0.0.1:9"], { cwd: os.tmpdir(), env })
    expect(serve.code).toBe(2)
    expect(serve.stderr).toMatch(/^storyshot: (cannot reach Redis|Redis at)/)
  }, 120_000)
})
