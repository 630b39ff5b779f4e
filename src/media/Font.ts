/**
 * The card font, DejaVu Sans from the `dejavu-fonts-ttf` package (the same glyphs on every machine, never a
 * system font), and its advance widths read from the TTF itself, so lettering is laid out by what drawtext
 * will really draw instead of a guessed average character width.
 *
 * Surprises:
 * - drawtext (FreeType, hinted, no shaping) advances by each code point's glyph, rounded to whole pixels, and
 *   draws a code point the font lacks (CJK, most emoji) as the `.notdef` box: `advance` counts it that way too,
 *   and adds half a pixel per glyph so rounding can only make a line narrower than measured.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"

const require = createRequire(import.meta.url)

/** DejaVu Sans from the `dejavu-fonts-ttf` package. */
export const fontFile = (): string =>
  path.join(path.dirname(require.resolve("dejavu-fonts-ttf/package.json")), "ttf", "DejaVuSans.ttf")

export interface Metrics {
  readonly unitsPerEm: number
  /** Ascender and descender (negative) in font units, from `hhea`. */
  readonly ascender: number
  readonly descender: number
  readonly lineGap: number
  /** Advance width in font units of a code point's glyph (`.notdef` when the font has none). */
  readonly advanceOf: (codePoint: number) => number
}

/** Reads `head`, `hhea`, `hmtx` and `cmap` (format 4 or 12) from a TrueType file. */
export const readMetrics = (bytes: Buffer): Metrics => {
  const tables = new Map<string, number>()
  const count = bytes.readUInt16BE(4)
  for (let i = 0; i < count; i++) {
    const record = 12 + i * 16
    tables.set(bytes.toString("latin1", record, record + 4), bytes.readUInt32BE(record + 8))
  }
  const table = (tag: string) => {
    const offset = tables.get(tag)
    if (offset === undefined) throw new Error(`the font has no ${tag} table`)
    return offset
  }
  const head = table("head")
  const hhea = table("hhea")
  const hmtx = table("hmtx")
  const unitsPerEm = bytes.readUInt16BE(head + 18)
  const hMetrics = bytes.readUInt16BE(hhea + 34)
  const advanceOfGlyph = (glyph: number) => bytes.readUInt16BE(hmtx + 4 * Math.min(glyph, hMetrics - 1))
  const glyphOf = cmapLookup(bytes, table("cmap"))
  const cache = new Map<number, number>()
  return {
    unitsPerEm,
    ascender: bytes.readInt16BE(hhea + 4),
    descender: bytes.readInt16BE(hhea + 6),
    lineGap: bytes.readInt16BE(hhea + 8),
    advanceOf: (cp) => {
      let a = cache.get(cp)
      if (a === undefined) cache.set(cp, (a = advanceOfGlyph(glyphOf(cp))))
      return a
    }
  }
}

const cmapLookup = (bytes: Buffer, cmap: number): ((cp: number) => number) => {
  const subtables: Array<{ platform: number; encoding: number; offset: number }> = []
  const n = bytes.readUInt16BE(cmap + 2)
  for (let i = 0; i < n; i++) {
    const r = cmap + 4 + i * 8
    subtables.push({ platform: bytes.readUInt16BE(r), encoding: bytes.readUInt16BE(r + 2), offset: cmap + bytes.readUInt32BE(r + 4) })
  }
  const format = (s: { offset: number }) => bytes.readUInt16BE(s.offset)
  const full = subtables.find((s) => format(s) === 12)
  if (full !== undefined) {
    const groups = bytes.readUInt32BE(full.offset + 12)
    return (cp) => {
      let lo = 0
      let hi = groups - 1
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        const g = full.offset + 16 + mid * 12
        const start = bytes.readUInt32BE(g)
        const end = bytes.readUInt32BE(g + 4)
        if (cp < start) hi = mid - 1
        else if (cp > end) lo = mid + 1
        else return bytes.readUInt32BE(g + 8) + (cp - start)
      }
      return 0
    }
  }
  const bmp = subtables.find((s) => format(s) === 4)
  if (bmp === undefined) return () => 0
  const o = bmp.offset
  const segments = bytes.readUInt16BE(o + 6) / 2
  const ends = o + 14
  const starts = ends + segments * 2 + 2
  const deltas = starts + segments * 2
  const rangeOffsets = deltas + segments * 2
  return (cp) => {
    if (cp > 0xffff) return 0
    for (let i = 0; i < segments; i++) {
      if (cp > bytes.readUInt16BE(ends + i * 2)) continue
      const start = bytes.readUInt16BE(starts + i * 2)
      if (cp < start) return 0
      const delta = bytes.readInt16BE(deltas + i * 2)
      const rangeOffset = bytes.readUInt16BE(rangeOffsets + i * 2)
      if (rangeOffset === 0) return (cp + delta) & 0xffff
      const glyph = bytes.readUInt16BE(rangeOffsets + i * 2 + rangeOffset + (cp - start) * 2)
      return glyph === 0 ? 0 : (glyph + delta) & 0xffff
    }
    return 0
  }
}

let loaded: Metrics | undefined

/** The card font's metrics, read once per process. */
export const metrics = (): Metrics => (loaded ??= readMetrics(fs.readFileSync(fontFile())))

/** How wide drawtext draws `text` at `size` pixels (an upper bound: see the note at the top). */
export const advance = (text: string, size: number): number => {
  const m = metrics()
  let units = 0
  let glyphs = 0
  for (const ch of text) {
    const cp = ch.codePointAt(0)!
    units += m.advanceOf(cp)
    glyphs++
  }
  return (units * size) / m.unitsPerEm + glyphs * 0.5
}

/** The distance from one baseline to the next at `size` pixels (FreeType's `height`, rounded up). */
export const lineHeight = (size: number): number => {
  const m = metrics()
  return Math.ceil(((m.ascender - m.descender + m.lineGap) * size) / m.unitsPerEm)
}

/** Ascent above the baseline at `size` pixels. */
export const ascent = (size: number): number => Math.ceil((metrics().ascender * size) / metrics().unitsPerEm)
