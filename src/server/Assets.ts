/**
 * A project's files, for players and downloads: only what `out/` holds (the film, sentence clips, subtitles,
 * the storyboard page) and the store's content-addressed objects (stills, clips, narration). Nothing else of a
 * project (its `.env`, its logs, its records) is ever served.
 *
 * Path parameters arrive percent-decoded (`..%2F..%2Fetc` is `../../etc` by the time a handler sees it), so
 * every segment must be a plain name (letters, digits, `.`, `_`, `-`; not starting with a dot; no separator of
 * any platform, no NUL, no `:`), and the file's real path (symlinks resolved) must lie inside the allowed folder's
 * real path. A name that fails either check is a 404: whether something exists outside is not told.
 *
 * `HttpServerResponse.file` does not answer `Range`, and `<video>` seeks with it: a single byte range gets a 206
 * with `Content-Range`, an unsatisfiable one a 416.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import type { Workspace } from "../Workspace.ts"
import { NotFound } from "./Errors.ts"

const plainName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/

export const isPlainName = (segment: string) => plainName.test(segment) && !segment.includes("..")

const types: Record<string, string> = {
  mp4: "video/mp4",
  webm: "video/webm",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  wav: "audio/wav",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  srt: "text/plain; charset=utf-8",
  vtt: "text/vtt; charset=utf-8",
  html: "text/html; charset=utf-8",
  json: "application/json"
}

export type Area = "out" | "objects"

const areaDir = (ws: Workspace, area: Area) => (area === "out" ? ws.outDir : path.join(ws.storeDir, "objects"))

const inside = (dir: string, file: string) => {
  const rel = path.relative(dir, file)
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel)
}

/** The real path of `segments` under the area, or undefined when it is not a plain file inside it. */
export const resolve = (ws: Workspace, area: Area, segments: ReadonlyArray<string>): string | undefined => {
  if (segments.length === 0 || !segments.every(isPlainName)) return undefined
  const dir = areaDir(ws, area)
  try {
    const realDir = fs.realpathSync(dir)
    const real = fs.realpathSync(path.join(dir, ...segments))
    if (!inside(realDir, real)) return undefined
    // The area itself must be the project's (a symlinked `out/` could lead anywhere).
    if (!inside(fs.realpathSync(ws.dir), realDir)) return undefined
    return fs.statSync(real).isFile() ? real : undefined
  } catch {
    return undefined
  }
}

/** Parses a single `bytes=` range against a size: the inclusive [start, end], "unsatisfiable", or undefined (none). */
export const parseRange = (header: string | undefined, size: number): readonly [number, number] | "unsatisfiable" | undefined => {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === "" && m[2] === "")) return undefined // several ranges or another unit: the whole file
  if (m[1] === "") {
    const suffix = Number(m[2])
    if (suffix === 0) return "unsatisfiable"
    return [Math.max(0, size - suffix), size - 1]
  }
  const start = Number(m[1])
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (start >= size || end < start) return "unsatisfiable"
  return [start, end]
}

export interface ServeOptions {
  readonly range?: string | undefined
  /** Content-addressed: the bytes behind this name never change. */
  readonly immutable: boolean
  readonly download?: boolean | undefined
}

export const serve = (ws: Workspace, area: Area, segments: ReadonlyArray<string>, options: ServeOptions) =>
  Effect.gen(function* () {
    const file = resolve(ws, area, segments)
    if (file === undefined)
      return yield* new NotFound({
        message: `${segments.every(isPlainName) ? `no file ${segments.join("/")}` : "no such file"} in this project's ${area === "out" ? "out/" : "store"}: the story (GET …/story) links every file there is`
      })
    const size = fs.statSync(file).size
    const ext = path.extname(file).slice(1).toLowerCase()
    const name = segments.at(-1)!
    // The platform's file response takes its type from this header (its `contentType` option is not read).
    const headers: Record<string, string> = {
      "content-type": types[ext] ?? "application/octet-stream",
      "accept-ranges": "bytes",
      "cache-control": options.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
      ...(options.download ? { "content-disposition": `attachment; filename="${name}"` } : {}),
      // The storyboard page is ours and has no script; it only shows stills and players of this project.
      ...(ext === "html" ? { "content-security-policy": "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'" } : {})
    }
    const range = parseRange(options.range, size)
    if (range === "unsatisfiable")
      return HttpServerResponse.empty({ status: 416, headers: { ...headers, "content-range": `bytes */${size}` } })
    const response = range
      ? HttpServerResponse.file(file, {
          status: 206,
          offset: range[0],
          bytesToRead: range[1] - range[0] + 1,
          headers: { ...headers, "content-range": `bytes ${range[0]}-${range[1]}/${size}` }
        })
      : HttpServerResponse.file(file, { headers })
    return yield* response.pipe(Effect.mapError(() => new NotFound({ message: `${name} could not be read` })))
  })
