// Makes what the installed command runs, with esbuild (a dependency):
//   dist/storyshot.cjs          src/bin.ts and everything it imports, as one script (see bin/storyshot.js for why
//                               a classic script and not an ES module: V8's code cache);
//   dist/storyshot.inputs.json  the source files it was made from, with their mtimes (the freshness check);
//   dist/index.js, index.d.ts   what `import { defineConfig } from "storyshot"` loads (the package's `exports`).
// Run by `npm install` in a checkout and by `npm pack` (the `prepare` script), and by bin/storyshot.js when a
// source file changed since (it checks dist/storyshot.inputs.json).
import * as fs from "node:fs"
import * as path from "node:path"
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
  "playwright-core"
]

// V8 does not run `import()` inside a script compiled from a code cache on Node 20 ("A dynamic import callback
// was not specified"), so in our own sources an `import()` of a package or a URL goes through the loader's
// import (bin/storyshot.js passes it in). `import("./x.ts")` stays: esbuild turns it into a lazy module
// initialiser inside the bundle, which is how a subcommand's code is loaded only when it runs.
const hostImport = {
  name: "host-import",
  setup(build) {
    build.onLoad({ filter: /[\\/](src|targets)[\\/].*\.ts$/ }, (args) => {
      const source = fs.readFileSync(args.path, "utf8")
      return { contents: source.replace(/(?<![\w$.])import\((?!\s*["']\.)/g, "__storyshotImport("), loader: "ts" }
    })
  }
}

// fluent-ffmpeg is a function our code calls only to render; requiring it (about 15 files, outside the bundle)
// at start-up would cost a no-op build time for nothing, so the bundle gets a stand-in that requires it on
// the first call.
const lazyFluent = {
  name: "lazy-fluent-ffmpeg",
  setup(build) {
    build.onResolve({ filter: /^fluent-ffmpeg$/ }, (args) =>
      args.namespace === "lazy" ? { path: "fluent-ffmpeg", external: true } : { path: "fluent-ffmpeg", namespace: "lazy" }
    )
    build.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({
      contents: 'let real\nmodule.exports = function ffmpeg(...args) { return (real ??= require("fluent-ffmpeg"))(...args) }\n',
      loader: "js"
    }))
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
    plugins: [hostImport, lazyFluent],
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
  writeAtomic(bundlePath, result.outputFiles[0].contents)
  writeAtomic(inputsPath, JSON.stringify(inputs))
  await configHelper(esbuild)
}

/** `import { defineConfig } from "storyshot"`: plain JavaScript for Node, and its types for editors. */
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
  const types = path.join(root, "src", "index.d.ts")
  if (fs.existsSync(types)) fs.copyFileSync(types, path.join(dist, "index.d.ts"))
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // As the `prepare` script: a bundle that cannot be made must not fail `npm install`; the command then
  // runs the sources through tsx (slower to start) and tries to bundle again on its next run.
  try {
    await bundle()
  } catch (e) {
    console.warn(`storyshot: could not bundle the command (${e?.message ?? e}); it will run from the sources`)
  }
}
