/**
 * Word-wrapping for lettering: by measured width (the card font's advances, `Font.advance`), or by columns
 * (East Asian wide characters and emoji take two). Graphemes are never split, so an emoji sequence or a
 * letter with its accents stays whole; a word wider than a line is broken between graphemes.
 */
// Made on first use: the first Intl.Segmenter loads ICU's break data (~10 ms), which a no-op build never needs.
let segmenter: Intl.Segmenter | undefined
export const graphemes = (text: string): Array<string> =>
  Array.from((segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" })).segment(text), (s) => s.segment)

const wide = (cp: number) =>
  (cp >= 0x1100 && cp <= 0x115f) ||
  (cp >= 0x2e80 && cp <= 0xa4cf) ||
  (cp >= 0xac00 && cp <= 0xd7a3) ||
  (cp >= 0xf900 && cp <= 0xfaff) ||
  (cp >= 0xfe30 && cp <= 0xfe4f) ||
  (cp >= 0xff00 && cp <= 0xff60) ||
  (cp >= 0xffe0 && cp <= 0xffe6) ||
  (cp >= 0x1f300 && cp <= 0x1faff) ||
  (cp >= 0x20000 && cp <= 0x3fffd)

/** Columns a text takes in a monospace terminal sense: wide characters and emoji count two. */
export const columns = (text: string): number =>
  graphemes(text).reduce((n, g) => n + (wide(g.codePointAt(0) ?? 0) ? 2 : 1), 0)

/** Control characters become spaces; runs of whitespace one space. */
export const clean = (text: string): string => text.replace(/[\u0000-\u001f\u007f]/g, " ").replace(/\s+/g, " ").trim()

/**
 * Word-wraps `text` to lines at most `maxWidth` wide as `measure` counts (columns by default), and keeps at
 * most `maxLines` lines, ending the last kept one with "…" when text was dropped.
 */
export const wrapText = (
  text: string,
  maxWidth: number,
  maxLines: number,
  measure: (text: string) => number = columns
): Array<string> => {
  const limit = Math.max(1, maxWidth)
  const words = clean(text).split(" ").filter((w) => w !== "")
  const lines: Array<string> = []
  let line = ""
  for (const word of words) {
    const candidate = line === "" ? word : `${line} ${word}`
    if (measure(candidate) <= limit) {
      line = candidate
      continue
    }
    if (line !== "") lines.push(line)
    line = ""
    // Break a word that is wider than a whole line (long URLs, CJK without spaces).
    let piece = ""
    for (const g of graphemes(word)) {
      if (piece !== "" && measure(piece + g) > limit) {
        lines.push(piece)
        piece = ""
      }
      piece += g
    }
    line = piece
  }
  if (line !== "") lines.push(line)
  const lineLimit = Math.max(1, Math.floor(maxLines))
  if (lines.length <= lineLimit) return lines
  const kept = lines.slice(0, lineLimit)
  let last = graphemes(kept[lineLimit - 1]!)
  while (last.length > 0 && measure(`${last.join("").trimEnd()}…`) > limit) last = last.slice(0, -1)
  kept[lineLimit - 1] = `${last.join("").trimEnd()}…`
  return kept
}
