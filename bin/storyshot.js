#!/usr/bin/env node
// The storyshot command. Runs the bundle dist/storyshot.cjs (made by `npm install` / `npm pack`); in a checkout
// it is remade first when a source file changed, and when it cannot be made the TypeScript sources run through
// tsx instead (a development fallback: an installed package always has its bundle).
//
// Start-up is most of a no-op build's time, so:
// - an installed copy (under node_modules) trusts its bundle: no check at all; a checkout stats the files the
//   bundle was made from (dist/storyshot.inputs.json), without walking the source folders;
// - the bundle is a classic script compiled with V8's code cache (vm.Script `cachedData`; Node 20 has no code
//   cache for ES modules), which saves most of the compile of 4 MB of JavaScript. The cache is written next to
//   the bundle (or in the temp folder when that is read-only) once per kind of command, at exit.
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as vm from "node:vm"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bundlePath = path.join(root, "dist", "storyshot.cjs")
const installed = root.split(path.sep).includes("node_modules")

const fresh = async () => {
  if (installed) return fs.existsSync(bundlePath)
  const { isFresh, bundle } = await import("./bundle.js")
  if (isFresh()) return true
  try {
    await bundle()
    return true
  } catch (e) {
    process.stderr.write(`storyshot: could not bundle the command (${e?.message ?? e}); running the sources\n`)
    return false
  }
}

/**
 * The code cache file: a header (the bundle's size and mtime, the kinds of command it has seen) and V8's data.
 * V8 checks only the source's length, so the header ties the data to this exact bundle.
 */
const cacheFiles = (stat) => [
  `${bundlePath}.v8`,
  path.join(os.tmpdir(), `storyshot-v8-${process.getuid?.() ?? "user"}`, `${Buffer.from(bundlePath).toString("base64url").slice(-60)}.v8`)
].map((file) => ({ file, id: `${stat.size}:${stat.mtimeMs}` }))

const readCache = (candidates) => {
  for (const { file, id } of candidates) {
    try {
      const buf = fs.readFileSync(file)
      const n = buf.readUInt32LE(0)
      const header = JSON.parse(buf.subarray(4, 4 + n).toString("utf8"))
      if (header.id === id) return { header, data: buf.subarray(4 + n) }
    } catch {}
  }
  return undefined
}

const writeCache = (candidates, kinds, data) => {
  for (const { file, id } of candidates) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      const header = Buffer.from(JSON.stringify({ id, kinds }))
      const size = Buffer.alloc(4)
      size.writeUInt32LE(header.length)
      const tmp = `${file}.${process.pid}.tmp`
      fs.writeFileSync(tmp, Buffer.concat([size, header, data]))
      fs.renameSync(tmp, file)
      return
    } catch {}
  }
}

const runBundle = () => {
  const stat = fs.statSync(bundlePath)
  const candidates = cacheFiles(stat)
  const cache = readCache(candidates)
  // The kind of command: its first word (a subcommand name), so `build` and `--help` each add their functions.
  const kind = process.argv.slice(2).find((a) => /^[a-z][a-z-]{0,20}$/.test(a)) ?? "-"
  const source = fs.readFileSync(bundlePath, "utf8")
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname, __storyshotImport) {${source}\n})`,
    { filename: bundlePath, cachedData: cache?.data }
  )
  const seen = script.cachedDataRejected === false ? cache.header.kinds : []
  if (!seen.includes(kind))
    process.once("exit", () => writeCache(candidates, [...seen, kind], script.createCachedData()))
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(bundlePath), module, bundlePath, path.dirname(bundlePath), (specifier) => import(specifier))
}

if (await fresh()) runBundle()
else {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/bin.ts")
}
