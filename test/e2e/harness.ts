/**
 * End-to-end helpers: a throw-away workspace with a small, fast config (160x90 at 12 fps), the build run
 * in-process (as the CLI runs it), and the real command spawned when exit codes or output matter.
 */
import { spawnSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { createRequire } from "node:module"
import { Effect, Option } from "effect"
import * as Build from "../../src/cli/build.ts"
import type { BuildEvent } from "../../src/engine/Events.ts"
import * as Workspace from "../../src/Workspace.ts"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
export const bin = path.join(repoRoot, "bin", "storyshot.js")

export const smallConfig = (extra = "") => `export default {
  transcript: "transcript.txt",
  height: 90,
  fps: 12,
  style: "test style"${extra ? `,\n  ${extra}` : ""}
}
`

/** A temp workspace with `transcript.txt` and a small `storyshot.config.mjs`. */
export const makeWorkspace = (transcript: string, options: { config?: string; env?: string } = {}) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-ws-"))
  fs.writeFileSync(path.join(dir, "transcript.txt"), transcript)
  fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), options.config ?? smallConfig())
  if (options.env !== undefined) fs.writeFileSync(path.join(dir, ".env"), options.env)
  return dir
}

export const flags = (over: Partial<Build.BuildFlags> = {}): Build.BuildFlags => ({
  target: [],
  force: false,
  keepGoing: false,
  dryRun: false,
  json: true,
  profile: Option.none(),
  maxCost: Option.none(),
  ...over
})

/** Runs a build in-process, as `storyshot build` would; returns the summary and every event. */
export const build = (
  dir: string,
  over: Partial<Build.BuildFlags> = {},
  env: NodeJS.ProcessEnv = {}
) =>
  Effect.gen(function* () {
    const events: Array<BuildEvent> = []
    const ws = yield* Workspace.load({ cwd: dir, env: { PATH: process.env.PATH, ...env } })
    const summary = yield* Build.run(ws, flags(over), (e) => events.push(e))
    return { summary, events, ws }
  })

export const runBuild = (dir: string, over: Partial<Build.BuildFlags> = {}, env: NodeJS.ProcessEnv = {}) =>
  Effect.runPromise(build(dir, over, env) as Effect.Effect<Effect.Effect.Success<ReturnType<typeof build>>, unknown, never>)

/** Spawns the real command; resolves with its exit code and output. */
export const cli = (args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, CI: "true", ...options.env },
    encoding: "utf8",
    timeout: options.timeoutMs ?? 120_000
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal }
}

/** Spawns the command without waiting (for interruption and lock tests). */
export const cliAsync = (args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, CI: "true", ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })

export const ffprobe = (file: string) => {
  const probe = require_ffprobe()
  const r = spawnSync(probe, ["-v", "error", "-show_entries", "stream=codec_type,duration,nb_frames,width,height:format=duration", "-of", "json", file], {
    encoding: "utf8"
  })
  return JSON.parse(r.stdout) as {
    streams: Array<{ codec_type: string; duration?: string; nb_frames?: string; width?: number; height?: number }>
    format: { duration: string }
  }
}

const require_ffprobe = (): string =>
  process.env.FFPROBE_PATH ?? (createRequire(import.meta.url)("@ffprobe-installer/ffprobe") as { path: string }).path

/** Rewrites the workspace's transcript, one sentence a line. */
export const writeTranscript = (dir: string, sentences: ReadonlyArray<string>) =>
  fs.writeFileSync(path.join(dir, "transcript.txt"), sentences.join("\n"))

export const sorted = (xs: ReadonlyArray<string>) => [...xs].sort()

/** `.storyshot/story.json`, the manifest a build writes. */
export const manifest = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, ".storyshot", "story.json"), "utf8"))

/** The film-wide numbers K of sentence n's shots, from the manifest. */
export const shotNumbers = (dir: string, n: number): Array<number> =>
  manifest(dir).sentences[n - 1].shots.map((s: { k: number }) => s.k)

/** The ids of one sentence's nodes, given its number and its shots' numbers. */
export const sentenceNodes = (n: number, shots: ReadonlyArray<number>) => [
  `sentence:${n}:audio`,
  `sentence:${n}:shots`,
  `sentence:${n}:timing`,
  `sentence:${n}:prompts`,
  // The shots as the film uses them: the writer's with the person's edits (issue 16, targets/plan.ts).
  `sentence:${n}:plan`,
  `sentence:${n}:mux`,
  ...shots.flatMap((k) => [`shot:${k}:image`, `shot:${k}:video`])
]
