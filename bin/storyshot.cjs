#!/usr/bin/env node
// The storyshot command. Runs the bundle dist/storyshot.cjs (made by `npm install` / `npm pack`, see bundle.js);
// in a checkout it is remade first when a source file changed, and when it cannot be made the TypeScript
// sources run through tsx instead (a development fallback: an installed package always has its bundle).
//
// Start-up is most of a no-op build's time, so this file is CommonJS (Node sets up no ES module loader for it),
// and:
// - an installed copy (under node_modules) trusts its bundle: no check at all; a checkout stats the files the
//   bundle was made from (dist/storyshot.inputs.json), without walking the source folders;
// - the bundle is a classic script compiled with V8's code cache (vm.Script `cachedData`; Node 20 has no code
//   cache for ES modules), which saves most of the compile of 3 MB of JavaScript. There is one cache per kind
//   of command (its first word), holding the functions that kind runs; each is written once, at exit, next to
//   the bundle (or in the user's cache folder when that is read-only).
"use strict"
const fs = require("node:fs")
const { createRequire } = require("node:module")
const os = require("node:os")
const path = require("node:path")
const vm = require("node:vm")

// Before anything is allocated: the heap settings (bin/heap.cjs).
require("./heap.cjs")

const root = path.resolve(__dirname, "..")
const bundlePath = path.join(root, "dist", "storyshot.cjs")
const inputsPath = path.join(root, "dist", "storyshot.inputs.json")
const installed = root.split(path.sep).includes("node_modules")

/** Every file the bundle was made from still has the mtime it had then. */
const isFresh = () => {
  try {
    const inputs = JSON.parse(fs.readFileSync(inputsPath, "utf8"))
    for (const f in inputs) if (fs.statSync(path.join(root, f)).mtimeMs !== inputs[f]) return false
    return fs.existsSync(bundlePath)
  } catch {
    return false
  }
}

const fresh = async () => {
  if (installed ? fs.existsSync(bundlePath) : isFresh()) return true
  try {
    await (await import("./bundle.js")).bundle()
    return true
  } catch (e) {
    process.stderr.write(`storyshot: could not bundle the command (${(e && e.message) || e}); running the sources\n`)
    return false
  }
}

/** The first word of the command line that is not an option's value: `build`, `graph`, ... ("-" for none). */
const kindOf = (args) => {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a.startsWith("-")) {
      if (!a.includes("=") && (a === "--cwd" || a === "--config")) i++
      continue
    }
    return /^[a-z][a-z-]{0,20}$/.test(a) ? a : "-"
  }
  return "-"
}

/** As src/Workspace.ts userCacheDir: the user's own cache folder (not the temp folder: what is run from here
 * must be writable by this user only). */
const userCacheDir = () =>
  path.join(
    process.platform === "win32"
      ? process.env.LOCALAPPDATA || path.join(os.homedir(), "AppData", "Local")
      : process.platform === "darwin"
        ? path.join(os.homedir(), "Library", "Caches")
        : process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"),
    "storyshot"
  )

/**
 * A code cache file: a header (the build's name) and V8's data. V8 itself checks only the source's length, so
 * the header is what ties the data to this exact bundle.
 */
const cacheFiles = (id, kind) => {
  const name = `storyshot.cjs.${kind === "-" ? "root" : kind}.v8`
  const key = Buffer.from(path.dirname(bundlePath)).toString("base64url").slice(-40)
  return [path.join(path.dirname(bundlePath), name), path.join(userCacheDir(), "v8", key, name)].map((file) => ({ file, id }))
}

const readCache = (candidates) => {
  for (const { file, id } of candidates) {
    try {
      const buf = fs.readFileSync(file)
      const n = buf.readUInt32LE(0)
      if (buf.subarray(4, 4 + n).toString("utf8") === id) return buf.subarray(4 + n)
    } catch {}
  }
  return undefined
}

const writeCache = (candidates, data) => {
  for (const { file, id } of candidates) {
    const tmp = `${file}.${process.pid}.tmp`
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      const header = Buffer.from(id)
      const size = Buffer.alloc(4)
      size.writeUInt32LE(header.length)
      fs.writeFileSync(tmp, Buffer.concat([size, header, data]))
      fs.renameSync(tmp, file)
      return
    } catch {
      try {
        fs.rmSync(tmp, { force: true })
      } catch {}
    }
  }
}

const runBundle = () => {
  const source = fs.readFileSync(bundlePath, "utf8")
  // Its first line names the build ("// storyshot build <hash>"), see bundle.js.
  const header = source.slice(0, source.indexOf("\n"))
  const candidates = cacheFiles(header, kindOf(process.argv.slice(2)))
  // The code's name, for what the build records under a key of what made it (src/Build.ts recordedKey).
  globalThis.__storyshotBuild = header
  const cachedData = readCache(candidates)
  // The bundle is one function expression (see bundle.js): compiled as it is, with no copy of the source.
  const script = new vm.Script(source, { filename: bundlePath, cachedData })
  // Written at exit, so the functions this run compiled lazily are in it.
  if (cachedData === undefined || script.cachedDataRejected) process.once("exit", () => writeCache(candidates, script.createCachedData()))
  const module = { exports: {} }
  // Dynamic import() does not work in a script compiled from a code cache on Node 20; the bundle calls this.
  const hostImport = (specifier) => import(specifier)
  script.runInThisContext()(module.exports, createRequire(bundlePath), module, bundlePath, path.dirname(bundlePath), hostImport)
}

fresh().then(async (ok) => {
  if (ok) return runBundle()
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/bin.ts")
})
