/**
 * Transcript → sentences, as a careful reader splits them.
 *
 * A sentence is the film's unit: a cache key, a narration, a set of shots and a subtitle. So a split must be
 * right (a wrong one cuts a narration mid-phrase) and stable (an edit elsewhere must not move a boundary).
 * The pipeline runs the way it reads:
 *
 *   Blocks.ts      paragraphs, list lines, headings and lines broken on purpose; the writer's `|` and `~`
 *   Boundaries.ts  where each sentence of a block starts (abbreviations, numbers, lists, ellipses, quotations,
 *                  other scripts' marks)
 *   Long.ts        a sentence longer than `maxChars` cut at its best clause break
 *   Quotes.ts      a piece cut out of a quotation shows balanced marks
 *
 * A piece with nothing to say (only punctuation or symbols, e.g. a "***" scene break) is dropped. Each sentence
 * keeps its original wording (trimmed, inner white space made one space); its cache key is `normalize(text)`.
 * English Golden Rules (the Pragmatic Segmenter's suite): see test/text/GoldenRules.test.ts.
 */
import { Effect, Schema } from "effect"
import { blocks } from "./Blocks.ts"
import * as Boundaries from "./Boundaries.ts"
import * as Long from "./Long.ts"
import * as Quotes from "./Quotes.ts"

export class TranscriptError extends Schema.TaggedError<TranscriptError>()("TranscriptError", {
  path: Schema.String,
  reason: Schema.Literal("invalid-utf8", "empty", "nothing-to-narrate"),
  message: Schema.String
}) {}

export interface SplitOptions {
  /** The longest sentence passed on; longer ones are cut at a break. Default 400. */
  readonly maxChars?: number | undefined
  /** A quotation (or bracket) shorter than this stays one sentence, marks included. Default 250. */
  readonly quoteChars?: number | undefined
}

export const defaultMaxChars = 400
export const defaultQuoteChars = 250

/** The cache key of a sentence: a change of case or spacing alone must not re-pay anything. */
export const normalize = (sentence: string): string =>
  sentence.normalize("NFC").trim().replace(/\s+/gu, " ").toLowerCase()

/** What a narrator can say: letters, digits or emoji. */
const speakable = /[\p{L}\p{N}]|\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F/u

/** The pieces `[from, to)` of `text` between the sentence starts `bounds`, spaces at their edges left out. */
const between = (text: string, bounds: ReadonlyArray<number>): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  for (let i = 0; i + 1 < bounds.length; i++) {
    let from = bounds[i]!
    let to = bounds[i + 1]!
    while (from < to && text[from] === " ") from++
    while (to > from && text[to - 1] === " ") to--
    if (to > from) out.push([from, to])
  }
  return out
}

/** The sentences of `text`, each in its original wording (trimmed, inner whitespace made one space). */
export const split = (text: string, options?: SplitOptions): ReadonlyArray<string> => {
  const max = Math.max(1, Math.floor(options?.maxChars ?? defaultMaxChars))
  const rules = { quoteChars: options?.quoteChars ?? defaultQuoteChars }
  const out: Array<string> = []
  for (const block of blocks(text)) {
    const t = block.text
    const sentences = between(t, [0, ...Boundaries.starts(block, rules), t.length])
    if (sentences.length === 1 && t.length <= max) {
      if (speakable.test(t)) out.push(t)
      continue
    }
    // A piece cut out of a quotation gets its marks back (at most one at each end per level of nesting), so a
    // sentence that would then pass the limit is cut shorter, by that much.
    const spans = Quotes.spans(t)
    const room = Math.min(2 * Quotes.depth(spans), Math.floor(max / 2))
    const marksOf = Quotes.balancer(spans)
    const pieces: Array<readonly [number, number]> = []
    for (const [from, to] of sentences) {
      const marks = marksOf(from, to)
      const length = to - from + (sentences.length > 1 ? marks.before.length + marks.after.length : 0)
      if (length <= max) pieces.push([from, to])
      else pieces.push(...Long.cut(t, from, to, Math.max(1, max - room)))
    }
    const balance = Quotes.balancer(spans)
    for (const [from, to] of pieces) {
      const piece = t.slice(from, to)
      const marks = balance(from, to)
      if (!speakable.test(piece)) continue
      const balanced = marks.before + piece + marks.after
      // The limit wins over the marks, should quotations nest deeper than the room kept for them.
      out.push(pieces.length === 1 || balanced.length > max ? piece : balanced)
    }
  }
  return out
}

// --- decoding -------------------------------------------------------------------------------------

/** Where the first byte that is not valid UTF-8 sits, or -1 (TextDecoder only says "invalid"). */
export const firstInvalidUtf8Offset = (bytes: Uint8Array): number => {
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    if (b < 0x80) {
      i++
      continue
    }
    let need: number
    let min: number
    let max = 0xbf
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80]
    else if (b === 0xe0) [need, min] = [2, 0xa0]
    else if (b === 0xed) [need, min, max] = [2, 0x80, 0x9f] // no UTF-16 surrogates
    else if (b >= 0xe1 && b <= 0xef) [need, min] = [2, 0x80]
    else if (b === 0xf0) [need, min] = [3, 0x90]
    else if (b >= 0xf1 && b <= 0xf3) [need, min] = [3, 0x80]
    else if (b === 0xf4) [need, min, max] = [3, 0x80, 0x8f] // nothing above U+10FFFF
    else return i
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]
      if (c === undefined) return i
      if (k === 1 ? c < min || c > max : c < 0x80 || c > 0xbf) return i
    }
    i += need + 1
  }
  return -1
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

/** Decode a transcript file (strict UTF-8, BOM stripped, any line ends) and split it into sentences. */
export const parseTranscript = Effect.fn("Sentences.parseTranscript")(function*(
  bytes: Uint8Array,
  path: string,
  options?: SplitOptions
) {
  const fail = (reason: TranscriptError["reason"], message: string) =>
    Effect.fail(new TranscriptError({ path, reason, message }))
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
      return yield* fail("invalid-utf8", `${path} is UTF-16, not UTF-8: save it as UTF-8 and build again.`)
    }
    const offset = firstInvalidUtf8Offset(bytes)
    const where = offset >= 0 ? ` (first bad byte at offset ${offset}, line ${lineOf(bytes, offset)})` : ""
    return yield* fail("invalid-utf8", `${path} is not valid UTF-8${where}: save it as UTF-8 and build again.`)
  }
  if (text.trim().length === 0) {
    const what = text.length === 0 ? "is empty" : "holds only whitespace"
    return yield* fail("empty", `${path} ${what}: write the text to narrate in it, one sentence or more.`)
  }
  const sentences = split(text, options)
  if (sentences.length === 0) {
    const only = /[\p{L}\p{N}]/u.test(text) ? "only // comment lines" : "only punctuation or symbols"
    return yield* fail("nothing-to-narrate", `${path} has ${only}, nothing to narrate: write at least one sentence with words.`)
  }
  return sentences
})

const lineOf = (bytes: Uint8Array, offset: number): number => {
  let line = 1
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++
  return line
}
