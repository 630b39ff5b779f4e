/**
 * The sources of a script: `--from FILE` (HTML, Markdown or text, read from disk: no network, no key) and
 * `--url URL` (fetched, see Fetch.ts), each reduced to its main text (Extract.ts). In the order given.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { WriteError } from "./Errors.ts"
import * as Extract from "./Extract.ts"
import * as Fetch from "./Fetch.ts"
import { countWords } from "./Length.ts"
import type { SourceText } from "./Prompt.ts"

export interface Source extends SourceText {
  readonly kind: "file" | "url"
  /** For a page: the address that answered (after redirects), or the page's canonical address. */
  readonly url: string | undefined
  readonly byline: string | undefined
  readonly words: number
  readonly fetchedAt: number | undefined
}

const maxFileBytes = 20 * 1024 * 1024

const readFile = (file: string, shown: string) =>
  Effect.try({
    try: () => {
      const stat = fs.statSync(file)
      if (stat.isDirectory()) throw Object.assign(new Error("it is a folder"), { code: "EISDIR" })
      if (stat.size > maxFileBytes) throw Object.assign(new Error(`it is larger than ${maxFileBytes / (1024 * 1024)} MB`), { code: "EFBIG" })
      return fs.readFileSync(file)
    },
    catch: (e) => {
      const code = (e as NodeJS.ErrnoException).code
      const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (e as Error).message
      return new WriteError({ reason: "file", message: `--from ${shown}: ${why}` })
    }
  })

/** A file's text: UTF-8 (a BOM is dropped), or by an HTML page's own `<meta charset>`. */
const textOf = (bytes: Uint8Array, file: string): string => {
  if (/\.x?html?$/i.test(file)) return Fetch.decode(bytes, "")
  return new TextDecoder("utf-8").decode(bytes)
}

const source = (kind: Source["kind"], where: string, url: string | undefined, extracted: Extract.Extracted, fetchedAt?: number): Source => ({
  kind,
  where,
  url,
  title: extracted.title,
  byline: extracted.byline,
  paragraphs: extracted.paragraphs,
  words: extracted.paragraphs.reduce((n, p) => n + countWords(p), 0),
  fetchedAt
})

export const fromFile = Effect.fn("Write.fromFile")(function* (file: string, cwd: string) {
  const full = path.resolve(cwd, file)
  const shown = path.relative(cwd, full) || file
  const bytes = yield* readFile(full, shown)
  const text = textOf(bytes, full)
  const format = Extract.formatOf(full, text)
  const extracted =
    format === "html" ? yield* Extract.fromHtml(text, shown) : format === "markdown" ? Extract.fromMarkdown(text) : Extract.fromText(text)
  if (extracted.paragraphs.length === 0)
    return yield* new WriteError({ reason: "no-text", message: `--from ${shown}: no text to narrate in it` })
  return source("file", path.basename(full), extracted.canonical, extracted)
})

export const fromUrl = Effect.fn("Write.fromUrl")(function* (url: string, limits: Fetch.Limits = Fetch.defaultLimits) {
  const page = yield* Fetch.fetchPage(url, limits)
  const extracted = yield* Extract.fromHtml(page.html, page.url)
  return source("url", page.url, page.url, extracted, Date.now())
})
