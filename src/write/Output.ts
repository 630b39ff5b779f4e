/**
 * The transcript `write` makes: the script, then the sources cited as `//` comments (not narrated: see
 * src/text/Blocks.ts). It is the person's file from then on, so it is never overwritten without `--force`:
 * the script goes to `transcript.new.txt` beside it instead (or `.new-2`, ... when that exists too, so a
 * script already paid for is never lost either). Written to a temporary name and renamed into place.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import * as Atomic from "../engine/Atomic.ts"
import { WriteError } from "./Errors.ts"

/** A comment line: one line, whatever the text holds (a title with a newline cannot end the comment early). */
export const comment = (text: string): string => `// ${text.replace(/[\r\n\u2028\u2029\t]+/g, " ").replace(/\s+/g, " ").trim()}`

export const compose = (body: string, comments: ReadonlyArray<string>): string =>
  `${body.trim()}\n${comments.length > 0 ? `\n${comments.map(comment).join("\n")}\n` : ""}`

export interface Target {
  readonly path: string
  /** The transcript existed and --force was not given: this is the `.new` file beside it. */
  readonly instead: boolean
  /** The transcript existed and is being replaced (--force). */
  readonly replaces: boolean
}

const exists = (file: string) => fs.existsSync(file)

/** Where the script goes: the transcript itself, or a `.new` name beside it. */
export const target = (transcript: string, force: boolean): Target => {
  if (!exists(transcript) || force) return { path: transcript, instead: false, replaces: exists(transcript) }
  const ext = path.extname(transcript)
  const stem = transcript.slice(0, transcript.length - ext.length)
  for (let i = 1; ; i++) {
    const candidate = `${stem}.new${i === 1 ? "" : `-${i}`}${ext}`
    if (!exists(candidate)) return { path: candidate, instead: true, replaces: false }
  }
}

/** temp → fsync → rename, the temp beside the file (same volume): the file is whole or absent. */
export const write = (file: string, text: string) =>
  Effect.try({
    try: () => Atomic.writeAtomicSync(file, text, path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)),
    catch: (e) => new WriteError({ reason: "output", message: `could not write ${file}: ${(e as Error).message ?? String(e)}` })
  })
