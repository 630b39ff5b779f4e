/**
 * Quotations and brackets inside one block of text: where each opens and closes, so that a short quotation
 * stays one sentence (`It said only: "Take care of them. I couldn't."`), and so that a piece cut out of a
 * quotation shows balanced marks in the narration and the subtitles.
 *
 * The straight marks are ambiguous. `"` opens before a word and closes after one. `'` and `’` are mostly
 * apostrophes ("couldn't", "the dogs' bowls", "'90s"): one opens a quotation only after a space or an opening
 * mark and before a letter, and closes an open one only when no letter follows it. A closing mark with nothing
 * open is left alone (a quotation that began in an earlier paragraph).
 */

export interface Span {
  /** Index of the opening mark. */
  readonly open: number
  /** Index of the closing mark, or -1 when the block ends with the quotation still open. */
  readonly close: number
  readonly openMark: string
  readonly closeMark: string
}

/** Opening mark → the closing marks that end it. */
const pairs: { readonly [open: string]: string } = {
  '"': '"',
  "“": "”",
  "„": "“”",
  "‘": "’",
  "'": "'",
  "«": "»",
  "‹": "›",
  "「": "」",
  "『": "』",
  "(": ")",
  "[": "]",
  "（": "）",
  "【": "】",
  "〈": "〉",
  "《": "》"
}

/** The mark that closes an opening one, for a quotation the writer left open. */
const closerOf = (open: string): string => pairs[open]![pairs[open]!.length - 1]!

/** Marks whose quotation may run past the end of a paragraph on purpose (the convention for long speeches). */
const carries = new Set(['"', "“", "„", "«", "「", "『"])

const isLetter = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c)
const isSpace = (c: string | undefined) => c === undefined || c === " "
const opensBefore = (c: string | undefined) => c === undefined || /[\s([{“‘«‹„"'—–-]/u.test(c)

const sentenceEnd = /[.!?…] /u

const anyMark = /["“”„‘’'«»‹›「」『』()[\]（）【】〈〉《》]/gu

/** Every quotation and bracket of `text`, in the order they open. */
export const spans = (text: string): Array<Span> => {
  const out: Array<{ open: number; close: number; openMark: string; closeMark: string }> = []
  const stack: Array<number> = [] // indexes into `out`
  const closeTo = (mark: string, at: number): boolean => {
    for (let k = stack.length - 1; k >= 0; k--) {
      const span = out[stack[k]!]!
      if (pairs[span.openMark]!.includes(mark)) {
        span.close = at
        span.closeMark = mark
        stack.length = k
        return true
      }
    }
    return false
  }
  const open = (mark: string, at: number) => {
    stack.push(out.length)
    out.push({ open: at, close: -1, openMark: mark, closeMark: closerOf(mark) })
  }
  const isOpen = (mark: string) => stack.some((k) => out[k]!.openMark === mark)
  const openAt = (mark: string) => {
    for (let k = stack.length - 1; k >= 0; k--) if (out[stack[k]!]!.openMark === mark) return out[stack[k]!]!.open
    return -1
  }
  for (const match of text.matchAll(anyMark)) {
    const mark = match[0]
    const at = match.index
    const before = text[at - 1]
    const after = text[at + 1]
    switch (mark) {
      case '"':
        if (isOpen('"') && !(opensBefore(before) && !isSpace(after) && !/[.,;:!?…)]/u.test(after!))) closeTo('"', at)
        else if (!isSpace(after)) open('"', at)
        break
      case "'":
      case "’": {
        // An apostrophe inside or at the end of a word ("couldn't", "dogs'") unless it closes an open quotation.
        // After a letter it closes only a quotation of words ('home'), not one that holds a sentence's end: in
        // "the '90s we danced. Then the dogs' bowls" both marks are apostrophes.
        const opener = mark === "'" ? "'" : "‘"
        const from = openAt(opener)
        const closes =
          from >= 0 && !isSpace(before) && !isLetter(after) && !(isLetter(before) && sentenceEnd.test(text.slice(from, at)))
        if (closes) closeTo(mark, at)
        else if (mark === "'" && opensBefore(before) && isLetter(after) && !isLetter(before)) open("'", at)
        break
      }
      case "“":
        // German „...“ closes with this mark; everywhere else it opens.
        if (!(isOpen("„") && closeTo("“", at))) open("“", at)
        break
      default:
        if (mark in pairs) open(mark, at)
        else closeTo(mark, at)
    }
  }
  return out
}

/**
 * A test for "a closed quotation or bracket shorter than `limit` holds the index `at` strictly inside it" (`at`
 * is where a next sentence would start: a boundary there would cut the quotation). Ask it about ascending
 * indexes only: it sweeps the spans once, so a megabyte of dialogue in one paragraph stays linear.
 */
export const insideShort = (all: ReadonlyArray<Span>, limit: number): ((at: number) => boolean) => {
  let next = 0
  let active: Array<Span> = []
  return (at) => {
    while (next < all.length && all[next]!.open < at) {
      const span = all[next++]!
      if (span.close !== -1 && span.close - span.open < limit) active.push(span)
    }
    if (active.length > 0) active = active.filter((span) => span.close >= at)
    return active.length > 0
  }
}

/** How deeply the quotations a cut piece gets marks for nest at most (each level: a mark at either end). */
export const depth = (all: ReadonlyArray<Span>): number => {
  let most = 0
  const open: Array<number> = [] // the close indexes of the spans open at this point (-1: never closed)
  for (const span of all) {
    if (span.close === -1 && !carries.has(span.openMark)) continue
    while (open.length > 0 && open[open.length - 1]! !== -1 && open[open.length - 1]! < span.open) open.pop()
    open.push(span.close)
    most = Math.max(most, open.length)
  }
  return most
}

/**
 * The marks to put before and after each piece `[start, end)` of a block that was cut into pieces, so that it
 * shows every quotation it is part of as opened and closed: a quotation that began in an earlier piece is
 * opened again, one that goes on into the next piece is closed. Single quotes and brackets left open by the
 * writer are not completed (an apostrophe can look like one). Ask it about the pieces in order.
 */
export const balancer = (all: ReadonlyArray<Span>): ((start: number, end: number) => { before: string; after: string }) => {
  const kept = all.filter((span) => span.close !== -1 || carries.has(span.openMark))
  let next = 0
  let active: Array<Span> = [] // in the order they open
  return (start, end) => {
    while (next < kept.length && kept[next]!.open < end) active.push(kept[next++]!)
    active = active.filter((span) => span.close === -1 || span.close >= start)
    let before = ""
    let after = ""
    for (const span of active) {
      if (span.open < start) before += span.openMark
      if (span.close === -1 || span.close >= end) after = span.closeMark + after
    }
    return { before, after }
  }
}
