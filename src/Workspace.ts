/**
 * Finding the workspace: --cwd when given; otherwise the nearest folder, from the current one upward, that
 * holds a `storyshot.config.*` or a `.storyshot/` store (as git looks for `.git`), else the current folder.
 * Then its `storyshot.config.ts` (or --config), its `.env`, and the transcript. Every problem here is the user's to fix, so each is one line that says what
 * to do; the CLI turns them into exit code 2.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { builtinModules } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Effect, Either, Schema } from "effect"
import * as Config from "./Config.ts"

export class WorkspaceError extends Schema.TaggedError<WorkspaceError>()("WorkspaceError", {
  message: Schema.String
}) {}

export interface Workspace {
  readonly dir: string
  /** Where the search for it started (the current directory), when it was found upward from there. */
  readonly foundFrom?: string | undefined
  readonly configPath: string | undefined
  readonly config: Config.Config
  /** The environment: the process's, over `.env`'s (a variable set in the shell wins). */
  readonly env: { readonly [name: string]: string | undefined }
  readonly storeDir: string
  readonly outDir: string
  readonly transcriptPath: string
}

export const configFileNames = ["storyshot.config.ts", "storyshot.config.mts", "storyshot.config.js", "storyshot.config.mjs"]

/** `.env` lines: `KEY=value`, `KEY="value"`, `export KEY=value`, `#` comments. Values are never logged. */
export const parseDotenv = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line || line.startsWith("#")) continue
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (!m) continue
    let value = m[2]!
    const quote = value[0]
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
      value = value.slice(1, -1)
      if (quote === '"') value = value.replace(/\\n/g, "\n")
    } else {
      value = value.replace(/\s+#.*$/, "").trim()
    }
    out[m[1]!] = value
  }
  return out
}

export const readEnv = (dir: string, base: NodeJS.ProcessEnv = process.env) => {
  let fromFile: Record<string, string> = {}
  try {
    fromFile = parseDotenv(fs.readFileSync(path.join(dir, ".env"), "utf8"))
  } catch {}
  const env: Record<string, string | undefined> = { ...fromFile }
  for (const [k, v] of Object.entries(base)) if (v !== undefined && v !== "") env[k] = v
  return env
}

/**
 * Loading `storyshot.config.ts`. Node 20 runs no TypeScript, so the config is compiled with esbuild (a
 * dependency) into one ES module, as vite does for its own config:
 * - `import ... from "storyshot"` resolves to the running storyshot, so a workspace needs no node_modules (a
 *   global install, npx); other packages stay imports, resolved from the workspace as Node always does;
 * - the compiled module is kept in the user's cache folder (never in the store: a refused build leaves the store
 *   untouched) with the mtimes of the files it was made from, so a build that changes nothing starts no
 *   esbuild: one stat per file, then an import;
 * - a config that imports other packages must be imported from the workspace, where Node finds them: it is
 *   written next to the config for the import and removed (vite's way), and not kept.
 * A `.js`/`.mjs` config goes through esbuild too: the module is keyed by its content, so a long-running
 * process (watch mode) sees every edit, where import() of the same file URL returns the first version forever.
 */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** What `storyshot` means in a config: this storyshot's own entry point (src/ in a checkout, dist/ when packed). */
export const selfEntry = (): string =>
  [path.join(packageRoot, "src", "index.ts"), path.join(packageRoot, "dist", "index.js")].find((f) => fs.existsSync(f)) ??
  path.join(packageRoot, "src", "index.ts")

interface CompiledConfig {
  readonly inputs: Record<string, number>
  readonly module: string
}

const mtimes = (files: ReadonlyArray<string>) => Object.fromEntries(files.map((f) => [f, fs.statSync(f).mtimeMs]))

const compileConfig = async (file: string) => {
  const esbuild = await import("esbuild")
  const out = await esbuild.build({
    entryPoints: [file],
    absWorkingDir: path.dirname(file),
    bundle: true,
    write: false,
    outdir: path.dirname(file),
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    metafile: true,
    logLevel: "silent",
    plugins: [
      {
        name: "storyshot-self",
        setup: (build) => {
          build.onResolve({ filter: /^storyshot$/ }, () => ({ path: selfEntry() }))
        }
      }
    ]
  })
  const inputs = Object.keys(out.metafile.inputs)
    .map((f) => path.resolve(path.dirname(file), f))
    .filter((f) => !f.split(path.sep).includes("node_modules") && f !== selfEntry())
  const importsPackages = Object.values(out.metafile.outputs).some((o) =>
    o.imports.some((i) => i.external && !builtinModules.includes(i.path.replace(/^node:/, "")))
  )
  return { code: out.outputFiles[0]!.text, inputs, importsPackages }
}

const importFile = (file: string) => import(pathToFileURL(file).href)

/**
 * The user's cache folder for storyshot (compiled configs, which ffmpeg was checked): `$XDG_CACHE_HOME` or
 * ~/.cache on Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows. Not the temp folder: what is
 * imported from here must be writable by this user only.
 */
export const userCacheDir = (env: NodeJS.ProcessEnv = process.env): string =>
  path.join(
    process.platform === "win32"
      ? (env.LOCALAPPDATA ?? path.join(os.homedir(), "AppData", "Local"))
      : process.platform === "darwin"
        ? path.join(os.homedir(), "Library", "Caches")
        : (env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache")),
    "storyshot"
  )

const configCache = path.join(userCacheDir(), "config")

const importConfig = (file: string) =>
  Effect.tryPromise({
    try: async () => {
      const key = crypto.createHash("sha256").update(file).digest("hex").slice(0, 16)
      const index = path.join(configCache, `${key}.json`)
      try {
        const kept = JSON.parse(fs.readFileSync(index, "utf8")) as CompiledConfig
        if (Object.entries(kept.inputs).every(([f, m]) => fs.statSync(f).mtimeMs === m)) return await importFile(path.join(configCache, kept.module))
      } catch {}
      const before = mtimes([file])
      const { code, inputs, importsPackages } = await compileConfig(file)
      const name = `${key}.${crypto.createHash("sha256").update(code).digest("hex").slice(0, 16)}.mjs`
      if (!importsPackages) {
        try {
          fs.mkdirSync(configCache, { recursive: true })
          const tmp = `${index}.${process.pid}.tmp`
          fs.writeFileSync(path.join(configCache, name), code)
          fs.writeFileSync(tmp, JSON.stringify({ inputs: { ...mtimes(inputs), ...before }, module: name } satisfies CompiledConfig))
          fs.renameSync(tmp, index)
          return await importFile(path.join(configCache, name))
        } catch (e) {
          if (!isWriteError(e)) throw e
          return await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`)
        }
      }
      const beside = path.join(path.dirname(file), `.${path.basename(file)}.${name}`)
      fs.writeFileSync(beside, code)
      try {
        return await importFile(beside)
      } finally {
        fs.rmSync(beside, { force: true })
      }
    },
    catch: (e) => {
      const message = ((e as Error)?.message ?? String(e)).split("\n").slice(0, 2).join(" ")
      return new WorkspaceError({ message: `could not load ${file}: ${message}` })
    }
  })

const isWriteError = (e: unknown) => ["EACCES", "EPERM", "EROFS", "ENOSPC"].includes((e as NodeJS.ErrnoException)?.code ?? "")

/** The nearest folder from `from` upward that holds a config file or a `.storyshot/` store; undefined when none does. */
export const findUp = (from: string): string | undefined => {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (configFileNames.some((n) => isFile(path.join(dir, n))) || isDir(path.join(dir, ".storyshot"))) return dir
    if (path.dirname(dir) === dir) return undefined
  }
}

const isFile = (p: string) => {
  try {
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}

const isDir = (p: string) => {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    return false
  }
}

export interface LoadOptions {
  /** The workspace folder, taken as it is (--cwd). */
  readonly cwd?: string | undefined
  /** Where the upward search starts when there is no `cwd` (default: the current directory). */
  readonly from?: string | undefined
  readonly config?: string | undefined
  readonly profile?: Config.Profile | undefined
  readonly env?: NodeJS.ProcessEnv | undefined
}

export const load = Effect.fn("Workspace.load")(function* (options: LoadOptions = {}) {
  const here = path.resolve(options.from ?? process.cwd())
  const dir = options.cwd !== undefined ? path.resolve(here, options.cwd) : (findUp(here) ?? here)
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    return yield* new WorkspaceError({ message: `workspace ${dir} is not a folder (check --cwd)` })
  let configPath: string | undefined
  if (options.config) {
    // Relative to where the person typed it (or to --cwd, when given).
    configPath = path.resolve(options.cwd !== undefined ? dir : here, options.config)
    if (!fs.existsSync(configPath))
      return yield* new WorkspaceError({ message: `config file ${configPath} does not exist (check --config)` })
  } else {
    configPath = configFileNames.map((n) => path.join(dir, n)).find((p) => fs.existsSync(p))
  }
  let input: Config.ConfigInput = {}
  if (configPath) {
    const mod = yield* importConfig(configPath)
    const exported = mod?.default ?? mod?.config
    if (exported === undefined)
      return yield* new WorkspaceError({
        message: `${path.basename(configPath)} has no default export: write \`export default defineConfig({ ... })\``
      })
    const decoded = Config.decode(exported)
    if (Either.isLeft(decoded))
      return yield* new WorkspaceError({ message: `${path.basename(configPath)}: ${decoded.left}` })
    input = decoded.right
  }
  const env = readEnv(dir, options.env ?? process.env)
  let profile = options.profile
  if (!profile && env.STORYSHOT_PROFILE) {
    const p = env.STORYSHOT_PROFILE
    if (p !== "draft" && p !== "cloud")
      return yield* new WorkspaceError({ message: `STORYSHOT_PROFILE is "${p}"; use draft or cloud` })
    profile = p
  }
  const config = Config.resolve(input, profile)
  if (config.music !== undefined && !fs.existsSync(path.resolve(dir, config.music.file)))
    return yield* new WorkspaceError({
      message: `music.file: ${config.music.file} does not exist (the path is relative to the workspace, ${dir}): put the music file there or fix the path`
    })
  return {
    dir,
    foundFrom: options.cwd === undefined && dir !== here ? here : undefined,
    configPath,
    config,
    env,
    storeDir: path.join(dir, ".storyshot"),
    outDir: path.join(dir, "out"),
    transcriptPath: path.resolve(dir, config.transcript)
  } satisfies Workspace
})
