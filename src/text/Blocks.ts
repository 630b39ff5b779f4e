/**
 * A transcript → blocks: the stretches of text that no rule may join, each with its spaces made single and
 * the writer's own overrides read out of it.
 *
 * - A blank line ends a paragraph, and so a sentence.
 * - A single line break is a soft wrap and reads as a space: many transcripts are hard-wrapped at about 80
 *   columns. Three kinds of line stand alone all the same: a list item ("1. Buy milk", "- eggs", "• tea"), a
 *   Markdown heading ("# The storm"), and a line broken on purpose: it starts a sentence (it opens its paragraph
 *   or follows a sentence's end) with a capital, ends in a letter or a digit, the next line starts with a
 *   capital, a digit or a quotation mark, and the next line's first word would have fitted on it with room to
 *   spare (under 80% of the longest line in the transcript), which a wrapping editor never leaves. A heading
 *   ("Chapter One") is such a line; a wrapped line is not, nor a phrase of a caption-style transcript.
 * - Overrides (README "Splitting sentences"): a `|` standing alone between spaces forces a sentence boundary
 *   there, and a `~` joins: after a sentence's end mark (`U.S.~How`) it keeps the two sides one sentence, and at
 *   the end of a line it joins that line to the next whatever the rules above say. Both marks are removed from
 *   the text; a `~` anywhere else (`~5 km`, a URL) is left alone.
 * - A line whose first characters are `//` is a comment (a note, the sources `storyshot write` cites): it is
 *   not narrated or shown, and it neither ends nor joins a paragraph, as if it were not there.
 */

export interface Block {
  /** The block's text, trimmed, every run of white space one space, the override marks removed. */
  readonly text: string
  /** Where the writer forced a boundary: the index in `text` where the next sentence starts. */
  readonly forced: ReadonlySet<number>
  /** Where the writer joined: indexes in `text` where no rule may start a sentence. */
  readonly joined: ReadonlySet<number>
}

const none: ReadonlySet<number> = new Set()

const listItem = /^\s*(?:\d{1,3}[.)]|[a-zA-Z][.)]|[-*•–⁃])\s+\S/u
const heading = /^\s{0,3}#{1,6}\s+\S/u
const comment = /^\s*\/\//u
const endsInWord = /[\p{L}\p{N}]$/u
const startsSentence = /^[\p{Lu}\p{Lt}\p{Lo}\p{N}"“„'‘«(\[]/u
/** Internal stand-in for a line-end `~` until the marks are read (a private-use character). */
const lineJoin = "\uE000"
const closers = `"'”’»›」』）】〉》〕)\\]`
const inlineJoin = new RegExp(`(?<=[.!?…。！？｡‼][${closers}]*)~(?=\\S)`, "gu")
const endJoin = new RegExp(`[.!?…。！？｡‼][${closers}]*~$`, "u")

/**
 * A line a wrapping editor would not have broken where it is broken, and that reads as a line of its own (a
 * heading): it starts a sentence, in capitals, and ends without a mark. A phrase of a caption-style transcript
 * ("and then" / "I went home") does not start a sentence, so it still reads on into the next line.
 */
const deliberate = (line: string, next: string, width: number, startsAfterEnd: boolean): boolean => {
  if (!startsAfterEnd || !startsSentence.test(line) || !endsInWord.test(line) || !startsSentence.test(next)) return false
  const word = next.search(/\s|$/u)
  return line.length + 1 + word < 0.8 * width
}
const endsSentence = /[.!?…:;。！？][\p{Pe}\p{Pf}"']*$/u

const startsOwnBlock = (previous: string, line: string, width: number, previousStartsAfterEnd: boolean): boolean =>
  listItem.test(line) || heading.test(line) || heading.test(previous) || deliberate(previous, line, width, previousStartsAfterEnd)

/** Reads `|` and `~` out of one block's raw text (lines already joined with spaces). */
const marks = (raw: string): Block => {
  const forced = new Set<number>()
  const joined = new Set<number>()
  let text = ""
  let pendingForce = false
  let pendingJoin = false
  for (const token of raw.split(/\s+/u)) {
    if (token.length === 0) continue
    if (token === "|") {
      pendingForce = true
      continue
    }
    let word = token
    let joinAfter = false
    if (word.endsWith(lineJoin)) {
      word = word.slice(0, -lineJoin.length)
      joinAfter = true
    }
    if (endJoin.test(word)) {
      word = word.slice(0, -1)
      joinAfter = true
    }
    const parts = word.split(inlineJoin)
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      if (part.length === 0) continue
      if (text.length > 0) text += " "
      if (pendingForce && text.length > 0) forced.add(text.length)
      if ((pendingJoin || i > 0) && text.length > 0) joined.add(text.length)
      pendingForce = false
      pendingJoin = false
      text += part
    }
    pendingJoin = joinAfter
  }
  return { text, forced, joined }
}

const needsMarks = /(?:^|\s)\|(?:\s|$)|~|\uE000/u

const block = (raw: string): Block =>
  needsMarks.test(raw) ? marks(raw) : { text: raw.replace(/\s+/gu, " ").trim(), forced: none, joined: none }

/** The blocks of a transcript, in order; empty ones left out. */
export const blocks = (text: string): Array<Block> => {
  const lines = text.replace(/\r\n?/gu, "\n").split("\n").filter((line) => !comment.test(line))
  let width = 0
  for (const line of lines) width = Math.max(width, line.trimEnd().length)
  const out: Array<Block> = []
  let current: Array<string> = []
  let previous = ""
  let previousStartsAfterEnd = true // the line `previous` is the first of its block, or follows a sentence's end
  const flush = () => {
    if (current.length > 0) {
      const b = block(current.join(" "))
      if (b.text.length > 0) out.push(b)
    }
    current = []
  }
  for (const raw of lines) {
    const line = raw.trim()
    if (line.length === 0) {
      flush()
      previous = ""
      previousStartsAfterEnd = true
      continue
    }
    let startsAfterEnd = current.length === 0 || endsSentence.test(previous)
    if (previous.endsWith("~")) current[current.length - 1] = previous.slice(0, -1) + lineJoin
    else if (current.length > 0 && startsOwnBlock(previous, line, width, previousStartsAfterEnd)) {
      flush()
      startsAfterEnd = true
    }
    current.push(line)
    previous = line
    previousStartsAfterEnd = startsAfterEnd
  }
  flush()
  return out
}
