/**
 * Finding the workspace: --cwd when given; otherwise the nearest folder, from the current one upward, that
 * holds a `storyshot.config.*` or a `.storyshot/` store (as git looks for `.git`), else the current folder.
 * Then its `storyshot.config.ts` (or --config), its `.env`, and the transcript. Every problem here is the user's to fix, so each is one line that says what
 * to do; the CLI turns them into exit code 2.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
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
 * A config is bundled with esbuild (shipped with tsx) into one module and imported from memory:
 * ~50 ms, against ~1 s for tsx's loader, which remains the fallback (a config that imports packages).
 */
const importConfig = (file: string) =>
  Effect.tryPromise({
    try: async () => {
      // Through esbuild for .js too: the module is keyed by its content, so a long-running process (watch
      // mode) sees every edit, where import() of the same file URL would return the first version forever.
      const version = `?t=${fs.statSync(file).mtimeMs}`
      try {
        const esbuild = await import("esbuild")
        const out = await esbuild.build({
          entryPoints: [file],
          bundle: true,
          write: false,
          format: "esm",
          platform: "node",
          logLevel: "silent"
        })
        const code = out.outputFiles[0]!.text
        if (/^\s*import\s.*from\s+["'](?!node:)[^"']+["']/m.test(code)) throw new Error("imports packages")
        return await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`)
      } catch (e) {
        if (isSyntaxError(e)) throw e
        if (/\.m?js$/.test(file)) return import(`${pathToFileURL(file).href}${version}`)
        const { tsImport } = await import("tsx/esm/api")
        return tsImport(`${pathToFileURL(file).href}${version}`, import.meta.url)
      }
    },
    catch: (e) => {
      const message = ((e as Error)?.message ?? String(e)).split("\n").slice(0, 2).join(" ")
      return new WorkspaceError({ message: `could not load ${file}: ${message}` })
    }
  })

const isSyntaxError = (e: unknown) => Array.isArray((e as { errors?: unknown })?.errors) && (e as { errors: Array<unknown> }).errors.length > 0

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
