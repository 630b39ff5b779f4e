/**
 * `storyshot serve` as a user starts it: the real command spawned on port 0 (any free one), its address read
 * from the line it prints, stopped with SIGINT (Ctrl-C) or SIGKILL. Plus small helpers to talk to it.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bin } from "../e2e/harness.ts"

export interface Server {
  readonly url: string
  readonly port: number
  readonly child: ChildProcess
  /** Everything it printed so far (stdout and stderr). */
  readonly output: () => string
  /** Ctrl-C, then waits for it to exit. */
  readonly stop: () => Promise<number | null>
  /** kill -9, then waits for it to be gone. */
  readonly kill9: () => Promise<void>
}

export const startServer = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}, cwd = os.tmpdir(), nodeArgs: ReadonlyArray<string> = []): Promise<Server> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, bin, "serve", "--port", "0", ...args], {
      cwd,
      env: { ...process.env, CI: "true", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    let done = false
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
    const timer = setTimeout(() => {
      if (done) return
      done = true
      child.kill("SIGKILL")
      reject(new Error(`storyshot serve did not start in 60 s:\n${output}`))
    }, 60_000)
    const onData = (chunk: Buffer) => {
      output += String(chunk)
      const m = /storyshot serve: http:\/\/([^ ]+?):(\d+)\//.exec(output)
      if (m && !done) {
        done = true
        clearTimeout(timer)
        const port = Number(m[2])
        resolve({
          url: `http://127.0.0.1:${port}`,
          port,
          child,
          output: () => output,
          stop: async () => {
            child.kill("SIGINT")
            return exited
          },
          kill9: async () => {
            child.kill("SIGKILL")
            await exited
          }
        })
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.on("exit", (code) => {
      if (done) return
      done = true
      clearTimeout(timer)
      reject(new Error(`storyshot serve exited (${code}) before listening:\n${output}`))
    })
  })

export const tempRoot = () => fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-serve-"))

export interface Answer<T = any> {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: T
}

/** One request; the body is parsed when it is JSON. */
export const request = async <T = any>(url: string, init: RequestInit & { json?: unknown } = {}): Promise<Answer<T>> => {
  const { json, ...rest } = init
  const res = await fetch(url, {
    ...rest,
    ...(json !== undefined ? { body: JSON.stringify(json), headers: { "content-type": "application/json", ...(rest.headers as Record<string, string> | undefined) } } : {})
  })
  const text = await res.text()
  let parsed: unknown = undefined
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {}
  return { status: res.status, headers: res.headers, text, json: parsed as T }
}

/** A small, fast film: 160x90 at 12 fps. */
export const smallSettings = { height: 90, fps: 12, style: "test style" }

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
export const waitFor = async <T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 120_000, every = 100): Promise<T> => {
  const until = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`)
    await new Promise((r) => setTimeout(r, every))
  }
}

/** Waits for a build to end and returns its job view. */
export const waitForJob = (base: string, project: string, id: string, ms = 180_000) =>
  waitFor(`build ${id}`, async () => {
    const r = await request(`${base}/api/projects/${project}/builds/${id}`)
    return r.json && r.json.state !== "queued" && r.json.state !== "running" ? r.json : undefined
  }, ms, 200)
