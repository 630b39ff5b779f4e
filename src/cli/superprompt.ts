/**
 * `storyshot superprompt`: the whole project in one markdown file, to paste into an LLM (the original spec's
 * `sprompt.py`). The file is `project_superprompt_output.md` (git-ignored): the notes file
 * `project_superprompt.md` first, if there is one (what you want to ask, in your words), then every source
 * file with a header, each exactly once, in a stable order.
 *
 * "The project's source files" are:
 *   - in a workspace that has `src/` or `targets/` (storyshot's own repository, or a fork with its own
 *     rules): those folders of the workspace;
 *   - in a film workspace that has neither: the `src/` and `targets/` of the storyshot that is running,
 *     so the LLM sees the code that builds this film;
 *   - and in both cases the workspace's config (`storyshot.config.ts` or `--config`).
 * The transcript, `.env` (secrets) and the store are never included. Files are ordered by path (code-unit
 * order, not the file system's or the locale's): `src/` first, then `targets/`, then the config. Absolute
 * paths are not written: the file is meant to be pasted outside this machine.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Option } from "effect"
import { configFileNames } from "../Workspace.ts"
import { root } from "./Root.ts"
import type { Flags, superpromptOptions } from "./Commands.ts"
import * as Session from "./Session.ts"
import * as Watch from "./Watch.ts"

export const defaultOut = "project_superprompt_output.md"
export const defaultNotes = "project_superprompt.md"
const sourceDirs = ["src", "targets"]

export interface Plan {
  /** The workspace folder. */
  readonly dir: string
  /** The folder whose `src/` and `targets/` are joined: the workspace, or the running storyshot's. */
  readonly sourceRoot: string
  readonly fromWorkspace: boolean
  readonly config: string | undefined
  /** Watched for a config that appears, when no --config was given. */
  readonly configCandidates: ReadonlyArray<string>
  readonly notes: string
  readonly out: string
}

/** The running storyshot's package folder: up from this module (a source file or the bundle in dist/). */
export const installedRoot = (from = path.dirname(fileURLToPath(import.meta.url))): string | undefined => {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string }
      if (pkg.name === "storyshot") return dir
    } catch {}
    if (path.dirname(dir) === dir) return undefined
  }
}

const isDir = (p: string) => {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    return false
  }
}

export const plan = (options: {
  readonly dir: string
  readonly config?: string | undefined
  readonly notes?: string | undefined
  readonly out?: string | undefined
}) =>
  Effect.gen(function* () {
    const dir = path.resolve(options.dir)
    const fromWorkspace = sourceDirs.some((d) => isDir(path.join(dir, d)))
    const sourceRoot = fromWorkspace ? dir : installedRoot()
    if (sourceRoot === undefined)
      return yield* new Session.UsageError({
        message: `${dir} has no src/ or targets/, and the storyshot package folder could not be found to use its own: run this in the storyshot repository or a workspace with its own src/`
      })
    const candidates = configFileNames.map((n) => path.join(dir, n))
    let config: string | undefined
    if (options.config) {
      config = path.resolve(dir, options.config)
      if (!fs.existsSync(config))
        return yield* new Session.UsageError({ message: `config file ${config} does not exist (check --config)` })
    } else config = candidates.find((p) => fs.existsSync(p))
    const notes = path.resolve(dir, options.notes ?? defaultNotes)
    if (options.notes !== undefined && !fs.existsSync(notes))
      return yield* new Session.UsageError({
        message: `notes file ${notes} does not exist: write it, or leave out --notes (${defaultNotes} is used when present)`
      })
    return {
      dir,
      sourceRoot,
      fromWorkspace,
      config,
      configCandidates: options.config ? [config!] : candidates,
      notes,
      out: path.resolve(dir, options.out ?? defaultOut)
    } satisfies Plan
  })

export interface SourceFile {
  /** The header: a path relative to the source root (or to the workspace, for the config), with `/`. */
  readonly name: string
  readonly file: string
  readonly text: string
}

/** Code-unit order: the same on every machine, unlike `localeCompare` or the order `readdir` returns. */
const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

const skippedName = (name: string) => name.startsWith(".") || name.endsWith("~") || name === "node_modules"

/** Every text file under `src/` and `targets/`, then the config; binary files are named but not joined. */
export const collect = (p: Plan) => {
  const files: Array<SourceFile> = []
  const binary: Array<string> = []
  const seen = new Set<string>()
  const never = new Set([p.out, p.notes].map((f) => path.resolve(f)))
  const add = (file: string, name: string) => {
    let real: string
    try {
      real = fs.realpathSync(file)
    } catch {
      return
    }
    // Exactly once: a symlink to a file already joined (or the output itself) is not joined again.
    if (seen.has(real) || never.has(path.resolve(file)) || never.has(real)) return
    seen.add(real)
    const bytes = fs.readFileSync(file)
    if (bytes.subarray(0, 8000).includes(0)) binary.push(name)
    else files.push({ name, file, text: bytes.toString("utf8") })
  }
  for (const top of sourceDirs) {
    const found: Array<{ name: string; file: string }> = []
    const walk = (dir: string) => {
      let entries: Array<fs.Dirent>
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true })
      } catch {
        return
      }
      for (const e of entries) {
        if (skippedName(e.name)) continue
        const file = path.join(dir, e.name)
        const stat = fs.statSync(file, { throwIfNoEntry: false })
        if (!stat) continue
        if (stat.isDirectory()) walk(file)
        else if (stat.isFile()) found.push({ name: path.relative(p.sourceRoot, file).split(path.sep).join("/"), file })
      }
    }
    walk(path.join(p.sourceRoot, top))
    for (const f of found.sort(byName)) add(f.file, f.name)
  }
  if (p.config) add(p.config, path.relative(p.dir, p.config).split(path.sep).join("/"))
  return { files, binary }
}

const languages: Record<string, string> = {
  ".ts": "ts",
  ".mts": "ts",
  ".cts": "ts",
  ".tsx": "tsx",
  ".js": "js",
  ".mjs": "js",
  ".cjs": "js",
  ".json": "json",
  ".md": "markdown",
  ".css": "css",
  ".html": "html",
  ".sh": "sh"
}

/** A fence longer than any run of backticks in the file, so a file that holds ``` cannot close it early. */
const fenceFor = (text: string) => "`".repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)))

const projectName = (dir: string) => {
  try {
    const name = (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown }).name
    if (typeof name === "string" && name) return name
  } catch {}
  return path.basename(dir)
}

export const render = (p: Plan) => {
  const { files, binary } = collect(p)
  const parts: Array<string> = []
  let notes: string | undefined
  try {
    notes = fs.readFileSync(p.notes, "utf8")
  } catch {}
  if (notes !== undefined && notes.trim()) parts.push(notes.trimEnd(), "", "---", "")
  const where = p.fromWorkspace
    ? "`src/` and `targets/` of this workspace"
    : "`src/` and `targets/` of the storyshot that builds this workspace (the workspace has none of its own)"
  parts.push(
    `# ${projectName(p.dir)}: the project's source`,
    "",
    `${files.length} files: ${where}, then the config${p.config ? "" : " (none: this workspace uses the defaults)"}. ` +
      "Each file follows under a `## path` header. Written by `storyshot superprompt`; edit the sources, not this file.",
    ""
  )
  if (binary.length) parts.push(`Binary files left out: ${binary.join(", ")}.`, "")
  for (const f of files) {
    const fence = fenceFor(f.text)
    parts.push(`## ${f.name}`, "", `${fence}${languages[path.extname(f.name)] ?? ""}`, f.text.endsWith("\n") ? f.text.slice(0, -1) : f.text, fence, "")
  }
  return { text: parts.join("\n"), files, binary }
}

/** Writes the superprompt (temp file, then rename: a reader never sees half of it); skips an identical one. */
export const write = (p: Plan) =>
  Effect.try({
    try: () => {
      const { text, files } = render(p)
      let before: string | undefined
      try {
        before = fs.readFileSync(p.out, "utf8")
      } catch {}
      if (before !== text) {
        fs.mkdirSync(path.dirname(p.out), { recursive: true })
        const tmp = `${p.out}.${process.pid}.tmp`
        fs.writeFileSync(tmp, text)
        fs.renameSync(tmp, p.out)
      }
      return { out: p.out, files: files.length, bytes: Buffer.byteLength(text), changed: before !== text }
    },
    catch: (e) => new Session.UsageError({ message: `could not write ${p.out}: ${(e as Error).message}` })
  })

const describe = (p: Plan, r: Effect.Effect.Success<ReturnType<typeof write>>) =>
  `${r.changed ? "wrote" : "unchanged:"} ${path.relative(process.cwd(), r.out) || r.out}: ${r.files} files, ${(r.bytes / 1024).toFixed(0)} KB${p.fromWorkspace ? "" : " (storyshot's own src/ and targets/: this workspace has none)"}`

/** Rewrites the superprompt on every settled change of a joined file, the notes or the config, until interrupted. */
export const watchLoop = (p: Plan, options: { readonly debounceMs?: number; readonly log?: (text: string) => void } = {}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const log = options.log ?? ((text: string) => void process.stderr.write(text + "\n"))
      const watcher = yield* Watch.watchPaths({
        files: [...p.configCandidates, p.notes],
        trees: sourceDirs.map((d) => path.join(p.sourceRoot, d)),
        exclude: [p.out]
      })
      while (true) {
        yield* write(p).pipe(
          Effect.match({
            onFailure: (e) => log(`storyshot: ${e.message}`),
            onSuccess: (r) => log(describe(p, r))
          })
        )
        log("watching for changes… (Ctrl-C to stop)")
        yield* Watch.settle(watcher.changes, options.debounceMs ?? 200)
      }
    })
  )

/** `storyshot superprompt` (its options are in Commands.ts). */
export const handler = (flags: Flags<typeof superpromptOptions>) =>
    Effect.gen(function* () {
      const g = yield* root
      const p = yield* plan({
        dir: Session.workspaceDir(g),
        config: Session.configPath(g),
        notes: Option.getOrUndefined(flags.notes),
        out: Option.getOrUndefined(flags.out)
      })
      if (flags.watch) return yield* watchLoop(p)
      const r = yield* write(p)
      process.stdout.write(describe(p, r) + "\n")
    })
