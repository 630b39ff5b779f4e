// Makes what the installed command runs, with esbuild (a dependency):
//   dist/storyshot.cjs          src/bin.ts and everything it imports, as one script (see bin/storyshot.js for why
//                               a classic script and not an ES module: V8's code cache);
//   dist/storyshot.inputs.json  the source files it was made from, with their mtimes (the freshness check);
//   dist/index.js, types/       what `import { defineConfig } from "storyshot"` loads (the package's `exports`),
//                               and its types (made by the `prepare` run only: the TypeScript compiler is slow).
// Run by `npm install` in a checkout and by `npm pack` (the `prepare` script), and by bin/storyshot.js when a
// source file changed since (it checks dist/storyshot.inputs.json).
import * as crypto from "node:crypto"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const dist = path.join(root, "dist")
export const bundlePath = path.join(dist, "storyshot.cjs")
export const inputsPath = path.join(dist, "storyshot.inputs.json")

/** Packages that ship binaries, WASM or fonts next to their code, or load other files at run time. */
const external = [
  "@ffmpeg-installer/*",
  "@ffprobe-installer/*",
  "espeak-ng",
  "tsx",
  "tsx/*",
  "esbuild",
  "chokidar",
  "fluent-ffmpeg",
  "dejavu-fonts-ttf",
  "playwright-core",
  // Loaded only when a remote cache is configured (src/cache/Remote.ts): ~2 MB that every start would parse.
  "@aws-sdk/*",
  // Loaded only by `serve --queue` and `worker` (src/queue/, src/server/Metrics.ts).
  "bullmq",
  "ioredis",
  "prom-client"
]

// Three rewrites of our own sources (src/, targets/), as esbuild reads them:
// - V8 does not run `import()` inside a script compiled from a code cache on Node 20 ("A dynamic import
//   callback was not specified"), so an `import()` of a package or a URL goes through the loader's import
//   (bin/storyshot.cjs passes it in). `import("./x.ts")` stays: esbuild turns it into a lazy module initialiser
//   inside the bundle, which is how a subcommand's code is loaded only when it runs.
// - `import { Effect, Stream } from "effect"` becomes `import * as Effect from "effect/Effect"` (one import per
//   module). Through the package's index, every module any subcommand uses would be initialised at start-up,
//   by `--help` too; through its own path, each is initialised when code that needs it is.
// - A character outside ASCII in a regular expression literal becomes a \u escape (the same character to the
//   expression, with or without the u flag). esbuild's `charset: "ascii"` escapes every other place but not
//   those, and one such character makes V8 keep the whole bundle's source as a two-byte string: 9 MB of the
//   heap instead of 4.5, for as long as the process runs. Found with the TypeScript parser (a dev
//   dependency, there wherever the bundle is made); without it, the bundle is made as it is.
const asciiRegExps = (file, source) => {
  if (!/[^\x00-\x7f]/.test(source)) return source
  let ts
  try {
    ts = createRequire(path.join(root, "package.json"))("typescript")
  } catch {
    return source
  }
  const spans = []
  const visit = (node) => {
    if (node.kind === ts.SyntaxKind.RegularExpressionLiteral && /[^\x00-\x7f]/.test(node.text)) spans.push([node.getStart(sf), node.end])
    ts.forEachChild(node, visit)
  }
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  visit(sf)
  let out = source
  for (const [from, to] of spans.reverse())
    out = out.slice(0, from) + out.slice(from, to).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) + out.slice(to)
  return out
}
const barrels = ["effect", "@effect/cli", "@effect/platform", "@effect/platform-node"]
const modulePaths = () => {
  const require = createRequire(path.join(root, "package.json"))
  const paths = new Map()
  for (const pkg of barrels) {
    const index = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "dist", "esm", "index.js")
    const map = new Map()
    for (const m of fs.readFileSync(index, "utf8").matchAll(/^export \* as (\w+) from "\.\/(.+)\.js";?$/gm)) map.set(m[1], `${pkg}/${m[2]}`)
    paths.set(pkg, map)
  }
  return paths
}
const rewriteSources = {
  name: "sources",
  setup(build) {
    const paths = modulePaths()
    build.onLoad({ filter: /[\\/](src|targets)[\\/].*\.ts$/ }, (args) => {
      const source = asciiRegExps(args.path, fs.readFileSync(args.path, "utf8"))
        .replace(/(?<![\w$.])import\((?!\s*["']\.)/g, "__storyshotImport(")
        .replace(/^import \{([^}]*)\} from "(effect|@effect\/[a-z-]+)"/gm, (whole, names, pkg) => {
          const map = paths.get(pkg)
          const specs = names.split(",").map((n) => n.trim()).filter((n) => n && !n.startsWith("type "))
          const parts = specs.map((n) => {
            const [name, alias = name] = n.split(/\s+as\s+/)
            return map?.has(name) ? `import * as ${alias} from "${map.get(name)}"` : undefined
          })
          return parts.every((p) => p !== undefined) ? parts.join("; ") : whole
        })
      return { contents: source, loader: "ts" }
    })
  }
}

// Packages whose export is one function that a no-op build never calls: fluent-ffmpeg (outside the bundle,
// about 15 files to require) and sanitize-html (inside, via sbd; with htmlparser2 and its entity tables).
// Each importer gets a stand-in that requires the real package on the first call.
const lazyFunctions = { "fluent-ffmpeg": { external: true }, "sanitize-html": { external: false } }
const lazyFunction = {
  name: "lazy-function",
  setup(build) {
    build.onResolve({ filter: /^(fluent-ffmpeg|sanitize-html)$/ }, (args) =>
      args.namespace === "lazy-function"
        ? lazyFunctions[args.path].external
          ? { path: args.path, external: true }
          : undefined
        : { path: args.path, namespace: "lazy-function" }
    )
    build.onLoad({ filter: /.*/, namespace: "lazy-function" }, (args) => ({
      contents: `let real\nmodule.exports = function (...args) { return (real ??= require(${JSON.stringify(args.path)}))(...args) }\n`,
      loader: "js",
      resolveDir: root
    }))
  }
}

// undici (the HTTP client of the paid providers) is bundled, but evaluating it loads Node's own copy of undici
// as well: tens of milliseconds that a build with nothing to fetch should not pay. Our sources get a stand-in
// whose exports are getters that evaluate the real module on first use.
const lazyUndici = {
  name: "lazy-undici",
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, (args) =>
      args.namespace === "lazy-undici" || !/[\\/](src|targets)[\\/]/.test(args.importer) ? undefined : { path: "undici", namespace: "lazy-undici" }
    )
    build.onLoad({ filter: /.*/, namespace: "lazy-undici" }, () => {
      const names = Object.keys(createRequire(path.join(root, "package.json"))("undici"))
      return {
        contents: `let real\nconst load = () => (real ??= require("undici"))\nfor (const k of ${JSON.stringify(names)}) Object.defineProperty(exports, k, { enumerable: true, get: () => load()[k] })\n`,
        loader: "js",
        resolveDir: root
      }
    })
  }
}

const writeAtomic = (file, text) => {
  const tmp = `${file}.${process.pid}.tmp`
  try {
    fs.writeFileSync(tmp, text)
    fs.renameSync(tmp, file)
  } finally {
    fs.rmSync(tmp, { force: true })
  }
}

/** Files outside node_modules the bundle depends on (a dependency upgrade shows in the lockfiles). */
const inputMtimes = (files) => {
  const out = {}
  for (const f of files) {
    try {
      out[f] = fs.statSync(path.join(root, f)).mtimeMs
    } catch {}
  }
  return out
}

export const bundle = async () => {
  const esbuild = await import("esbuild")
  fs.mkdirSync(dist, { recursive: true })
  // Sources are stat'ed before they are read, so an edit made during the build makes the bundle stale.
  const before = Date.now()
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [path.join(root, "src", "bin.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    write: false,
    outfile: bundlePath,
    external,
    metafile: true,
    plugins: [rewriteSources, lazyFunction, lazyUndici],
    // Our sources are ES modules; in a script, import.meta.url is the bundle's own file URL.
    define: { "import.meta.url": "__storyshotUrl" },
    banner: { js: 'var __storyshotUrl = require("node:url").pathToFileURL(__filename).href;' },
    // Less to read and to check against the code cache; identifiers keep their names, for stack traces.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    charset: "ascii",
    logLevel: "error"
  })
  const sources = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith("node_modules/") && !f.includes(":"))
  const inputs = inputMtimes([...sources, "package.json", "package-lock.json", "bin/bundle.js"])
  if (Object.values(inputs).some((m) => m > before)) inputs["(edited while bundling)"] = -1
  // The first line names this build (a hash of the code): the launcher's code cache is keyed by it, since V8
  // checks only a cached script's length, and npm pack gives every file the same mtime.
  const code = result.outputFiles[0].text
  // The file is one function expression, the wrapper the launcher calls (wrapping it at run time would copy
  // 2 MB of source on every start).
  const id = crypto.createHash("sha256").update(code).digest("hex").slice(0, 32)
  writeAtomic(bundlePath, `// storyshot build ${id}\n(function (exports, require, module, __filename, __dirname, __storyshotImport) {${code}\n})`)
  writeAtomic(inputsPath, JSON.stringify(inputs))
  for (const f of fs.readdirSync(dist)) if (f.endsWith(".v8")) fs.rmSync(path.join(dist, f), { force: true })
  await configHelper(esbuild)
}

/** `import { defineConfig } from "storyshot"`: plain JavaScript for Node (the package's `exports`). */
const configHelper = async (esbuild) => {
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: [path.join(root, "src", "index.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: path.join(dist, "index.js"),
    logLevel: "error"
  })
}

/** Its types, for editors (dist/types), by the TypeScript compiler; only when packing or installing a checkout. */
export const types = () => {
  let tsc
  try {
    tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  } catch {
    throw new Error("typescript is not installed (a devDependency): no types for `storyshot`")
  }
  const out = path.join(dist, "types")
  fs.rmSync(out, { recursive: true, force: true })
  const r = spawnSync(
    process.execPath,
    [tsc, path.join(root, "src", "index.ts"), "--declaration", "--emitDeclarationOnly", "--outDir", out, "--module", "nodenext",
      "--moduleResolution", "nodenext", "--target", "es2022", "--strict", "--skipLibCheck", "--types", "node",
      "--allowImportingTsExtensions", "--verbatimModuleSyntax"],
    { cwd: root, encoding: "utf8" }
  )
  if (r.status !== 0) throw new Error(`tsc failed: ${(r.stdout + r.stderr).trim().split("\n").slice(0, 3).join(" ")}`)
  // The sources import "./X.ts"; a published declaration names the file a consumer's resolver finds.
  for (const f of fs.readdirSync(out))
    fs.writeFileSync(path.join(out, f), fs.readFileSync(path.join(out, f), "utf8").replace(/(from\s+["']\.{1,2}\/[^"']+)\.ts(["'])/g, "$1.js$2"))
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // As the `prepare` script: a bundle that cannot be made must not fail `npm install`; the command then
  // runs the sources through tsx (slower to start) and tries to bundle again on its next run.
  try {
    await bundle()
  } catch (e) {
    console.warn(`storyshot: could not bundle the command (${e?.message ?? e}); it will run from the sources`)
  }
  try {
    types()
  } catch (e) {
    console.warn(`storyshot: ${e?.message ?? e}`)
  }
}
