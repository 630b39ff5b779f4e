/**
 * Values that enter an ffmpeg filtergraph or a concat list. Prompt text is data: it never goes through here
 * into a graph but into a file (`textfile=` with `expansion=none`), and only the file's *path* is escaped.
 *
 * A drawtext value goes through up to three levels of escaping: text expansion (`%{...}`), the filter's option
 * string (`key=value:key=value`), and the filtergraph (`a,b;[x]c[y]`). Each function below names its level.
 */
import * as path from "node:path"

/** Escapes a value for a filter's option string (level 1: `key=value:key=value`). */
export const escapeOptionValue = (value: string): string => value.replace(/[\\':]/g, (c) => `\\${c}`)

/** Escapes a filter description for a filtergraph (level 2: `a=1,b=2;[x]c[y]`). */
export const escapeGraph = (description: string): string => description.replace(/[\\'[\],;]/g, (c) => `\\${c}`)

/** A value (a path, a colour, any text) for `-vf`/`-filter_complex`, e.g. `fontfile=${filterValue(p)}`. */
export const filterValue = (value: string): string => escapeGraph(escapeOptionValue(value))

/**
 * A file path for a filter option. Windows separators become `/` (ffmpeg accepts both) so that only the
 * drive colon needs escaping: `C:\fonts\a.ttf` → `C\\:/fonts/a.ttf` in the graph, `C:/fonts/a.ttf` to the filter.
 */
export const filterPath = (file: string): string => filterValue(path.resolve(file).replace(/\\/g, "/"))

/**
 * Literal text for drawtext's `text=` with its default `expansion=normal`: `\` and `%` are escaped for the
 * expansion, then the value for the option string and the graph. Prefer `textfile=` + `expansion=none`.
 */
export const filterText = (text: string): string => filterValue(text.replace(/[\\%]/g, (c) => `\\${c}`))

/**
 * `file '...'` for the concat demuxer: inside single quotes only `'` is special, written as `'\''`. A path with
 * a newline cannot be written into a list at all (the caller takes another road).
 */
export const concatListLine = (file: string): string => `file '${path.resolve(file).replace(/'/g, "'\\''")}'`
