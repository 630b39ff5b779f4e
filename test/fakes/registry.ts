/**
 * A package registry on 127.0.0.1 made from an installed node_modules: every package found there is served
 * with its npm metadata (the package.json as installed, plus `dist.tarball`) and a tarball packed on request.
 *
 * Why: `npm install -g storyshot-*.tgz` resolves the package's dependencies from a registry, and npm 11 asks
 * for full metadata documents, which `npm ci` never stores in the npm cache (it fetches the abbreviated
 * ones), so `--offline` cannot work even on a warm cache. Pointing `--registry` here installs the tested
 * versions with no network and whatever the state of the cache. Platform packages that are not installed
 * (other systems' esbuild or ffmpeg) answer 404, which npm takes as an optional dependency to skip.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import * as zlib from "node:zlib"

interface Found {
  readonly dir: string
  readonly pkg: Record<string, unknown> & { name: string; version: string }
}

/** Every package in a node_modules tree, nested ones included: name → version → folder. */
export const scan = (nodeModules: string): Map<string, Map<string, Found>> => {
  const out = new Map<string, Map<string, Found>>()
  const visit = (dir: string) => {
    let entries: Array<fs.Dirent>
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      if (e.name.startsWith(".") || !e.isDirectory()) continue
      if (e.name.startsWith("@")) {
        visit(path.join(dir, e.name))
        continue
      }
      const pkgDir = path.join(dir, e.name)
      try {
        const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")) as Found["pkg"]
        if (typeof pkg.name === "string" && typeof pkg.version === "string") {
          const versions = out.get(pkg.name) ?? new Map<string, Found>()
          versions.set(pkg.version, { dir: pkgDir, pkg })
          out.set(pkg.name, versions)
        }
      } catch {}
      visit(path.join(pkgDir, "node_modules"))
    }
  }
  visit(nodeModules)
  return out
}

/** A gzipped tarball of a folder, every file under `package/`, keeping executable bits (ffmpeg's binary). */
export const packFolder = (dir: string): Buffer => {
  const blocks: Array<Buffer> = []
  const header = (name: string, size: number, mode: number) => {
    const h = Buffer.alloc(512)
    let prefix = ""
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf("/", 155)
      prefix = name.slice(0, cut)
      name = name.slice(cut + 1)
    }
    h.write(name, 0, 100)
    h.write(`${(mode & 0o777).toString(8).padStart(7, "0")}\0`, 100)
    h.write("0000000\0", 108)
    h.write("0000000\0", 116)
    h.write(`${size.toString(8).padStart(11, "0")}\0`, 124)
    h.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, "0")}\0`, 136)
    h.write("        ", 148)
    h.write("0", 156)
    h.write("ustar\u000000", 257)
    h.write(prefix, 345, 155)
    let sum = 0
    for (const b of h) sum += b
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148)
    return h
  }
  const walk = (abs: string, rel: string) => {
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      if (rel === "" && e.name === "node_modules") continue
      const a = path.join(abs, e.name)
      const r = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) walk(a, r)
      else if (e.isFile()) {
        const data = fs.readFileSync(a)
        blocks.push(header(`package/${r}`, data.length, fs.statSync(a).mode), data, Buffer.alloc((512 - (data.length % 512)) % 512))
      }
    }
  }
  walk(dir, "")
  blocks.push(Buffer.alloc(1024))
  return zlib.gzipSync(Buffer.concat(blocks), { level: 1 })
}

export interface Registry {
  readonly url: string
  /** Names asked for that are not installed here (other platforms' optional packages). */
  readonly missing: ReadonlyArray<string>
  readonly close: () => Promise<void>
}

export const startRegistry = async (nodeModules: string): Promise<Registry> => {
  const packages = scan(nodeModules)
  const missing: Array<string> = []
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const tarball = /^\/-\/tarball\/(.+)\/([^/]+)\.tgz$/.exec(url.pathname)
    if (tarball) {
      const found = packages.get(decodeURIComponent(tarball[1]!))?.get(decodeURIComponent(tarball[2]!))
      if (!found) return void res.writeHead(404).end()
      const body = packFolder(found.dir)
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length }).end(body)
      return
    }
    const name = decodeURIComponent(url.pathname.slice(1))
    const versions = packages.get(name)
    if (!versions) {
      missing.push(name)
      return void res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}')
    }
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const doc = {
      name,
      "dist-tags": { latest: [...versions.keys()].at(-1) },
      versions: Object.fromEntries(
        [...versions].map(([v, { pkg }]) => {
          // What the registry stores of a package.json: no install-time fields, and a tarball to fetch.
          const { _resolved, _integrity, _from, ...meta } = pkg as Record<string, unknown>
          void _resolved, _integrity, _from
          return [v, { ...meta, _id: `${name}@${v}`, dist: { tarball: `${base}/-/tarball/${encodeURIComponent(name)}/${v}.tgz` } }]
        })
      )
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(doc))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    missing,
    close: () => new Promise((resolve) => server.close(() => resolve()))
  }
}
