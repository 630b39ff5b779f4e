// Bundles src/bin.ts into dist/storyshot.mjs with esbuild (shipped with tsx), so the command starts in about
// half a second instead of two (Effect's many modules load much faster as one file). Run by `npm install`
// (the root `prepare` script) and, when a source file is newer than the bundle, by bin/storyshot.js itself.
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const bundlePath = path.join(root, "dist", "storyshot.mjs")
const sourceDirs = ["src", "targets"].map((d) => path.join(root, d))

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
  "@aws-sdk/*"
]

const newestSource = () => {
  let newest = 0
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(p)
      else if (/\.(ts|js|mjs|json)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs)
    }
  }
  for (const d of sourceDirs) if (fs.existsSync(d)) walk(d)
  newest = Math.max(newest, fs.statSync(path.join(root, "package.json")).mtimeMs, fs.statSync(fileURLToPath(import.meta.url)).mtimeMs)
  return newest
}

export const isFresh = () => {
  try {
    return fs.statSync(bundlePath).mtimeMs >= newestSource()
  } catch {
    return false
  }
}

export const bundle = async () => {
  const esbuild = await import("esbuild")
  const tmp = `${bundlePath}.${process.pid}.tmp`
  fs.mkdirSync(path.dirname(bundlePath), { recursive: true })
  try {
    await esbuild.build({
      entryPoints: [path.join(root, "src", "bin.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile: tmp,
      external,
      // CommonJS dependencies inside an ESM bundle still call require().
      banner: { js: "import { createRequire as __storyshotRequire } from 'node:module'; const require = __storyshotRequire(import.meta.url);" },
      logLevel: "error"
    })
    fs.renameSync(tmp, bundlePath)
  } finally {
    fs.rmSync(tmp, { force: true })
  }
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
