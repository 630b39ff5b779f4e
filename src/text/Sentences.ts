/**
 * Transcript → sentences.
 *
 * Built on `sbd`, which splits only at whitespace between "words" and knows nothing beyond ASCII
 * punctuation, so this module adds the rules a person expects before and around it:
 *
 * - Blank lines end a paragraph and always end a sentence; list lines ("1. Buy milk", "- eggs")
 *   are sentences of their own; any other newline is a soft wrap and reads as a space.
 * - Sentence ends that need no space (Japanese/Chinese "。！？", Hindi "।", Arabic "؟", Urdu "۔",
 *   Greek ";") are cut before sbd sees the text.
 * - A few cases sbd gets wrong are cut explicitly: a closing quote after the full stop
 *   (`He said "Stop!" Then he left.` is two sentences, `"Stop!" she said.` is one), an ellipsis
 *   before a capital (`Wait... what?` is one sentence, `I waited... Then I left.` two), "etc."
 *   before a capital, and a short ordinary word before a capital (sbd takes "Hi. My name is Sam."
 *   for a name abbreviation like "Gen. Grant" and keeps it whole).
 * - Titles and abbreviations that introduce something ("Dr.", "St.", "approx.", "e.g.", "vs.")
 *   never end a sentence; initials ("J. R. R. Tolkien"), dotted acronyms before a lower-case word
 *   ("the U.S. team"), decimals, URLs and e-mail addresses are left to sbd, which handles them.
 * - A piece with nothing to say (only punctuation or symbols, e.g. a "***" scene break) is dropped.
 * - A sentence longer than `maxChars` (UTF-16 code units, so never more characters than that) is
 *   cut at the best break before the limit: ";", ":", ",", a spaced dash, then a space.
 */
import { Effect, Schema } from "effect"
import sbd from "sbd"

export class TranscriptError extends Schema.TaggedError<TranscriptError>()("TranscriptError", {
  path: Schema.String,
  reason: Schema.Literal("invalid-utf8", "empty", "nothing-to-narrate"),
  message: Schema.String
}) {}

export interface SplitOptions {
  /** The longest sentence passed on; longer ones are cut at a break. Default 400. */
  readonly maxChars?: number | undefined
}

export const defaultMaxChars = 400

/** The cache key of a sentence: a change of case or spacing alone must not re-pay anything. */
export const normalize = (sentence: string): string =>
  sentence.normalize("NFC").trim().replace(/\s+/gu, " ").toLowerCase()

// --- abbreviations --------------------------------------------------------------------------------

/** Words that introduce what follows and so never end a sentence, whatever comes next. */
const leading = [
  "Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "St", "Mt", "Ft", "Sen", "Rep", "Gov", "Gen", "Capt", "Cpt", "Lt", "Col",
  "Sgt", "Maj", "Cmdr", "Adm", "Rev", "Hon", "Fr", "Pres", "Supt", "Messrs", "Mme", "Mlle", "Msgr", "Sra",
  "approx", "Approx", "ca", "cf", "Cf", "vs", "Vs", "v", "eg", "Eg", "ie", "Ie", "incl", "Incl", "esp", "viz", "Viz"
]

/**
 * Abbreviations that may close a sentence ("...apples, pears, etc. Then we left.") or come before a
 * number ("No. 5", "Fig. 2", "Jan. 3"): not a boundary before a lower-case word or a number, a
 * boundary before a capital.
 */
const closing = [
  "etc", "Jr", "jr", "Sr", "sr", "Inc", "inc", "Ltd", "ltd", "Co", "Corp", "PhD", "MD", "BA", "MA", "BSc", "MSc",
  "al", "adj", "assn", "est", "ext", "pl", "pt", "repr", "rev", "trans", "Mol", "Dem", "mt", "mts", "mi", "No",
  "Nos", "no", "nr", "Nr", "Fig", "fig", "Figs", "figs", "Vol", "vol", "pp", "Ch", "ch", "Sec", "Eq", "Eqs", "Ref",
  "Refs", "Dept", "Univ", "Ave", "Blvd", "Rd", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept",
  "Oct", "Nov", "Dec", "Tue", "Tues", "Wed", "Thu", "Thur", "Thurs", "Fri"
]

const leadingSet = new Set(leading)
// sbd compares the word with its punctuation removed ("e.g." → "eg"), case-sensitively, and the
// option replaces its own list, so this is the whole list it uses.
const sbdOptions = { abbreviations: [...leading, ...closing] }

// --- character classes ----------------------------------------------------------------------------

const closers = `"'”’»›」』）】〉》〕)\\]`
const openers = `"'“‘«‹「『（【〈《〔(\\[`
/** Sentence ends of scripts that need no space after them. */
const terminators = "。｡！？।॥؟۔።‼⁇⁈⁉\u037E" // U+037E is the Greek question mark
const hardEnd = new RegExp(`[${terminators}]+([${closers}]*)`, "gu")
const opensOrSpace = new RegExp(`^(?:$|\\s|[${openers}])`, "u")
/**
 * ASCII "!" or "?" straight before CJK text: a Japanese sentence typed with Latin punctuation. Not
 * ".", which joins names and abbreviations to Japanese text ("Mr.田中").
 */
const cjkAfterAscii = /(?<=[!?][\p{Pe}\p{Pf}"']*)(?=[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])/u
const startsCapital = new RegExp(`^[${openers}]*\\p{Lu}`, "u")
const startsGreekCapital = new RegExp(`^[${openers}]*(?=\\p{Script=Greek})\\p{Lu}`, "u")
const plainWordWithStop = /^[\p{L}\p{M}]{2,}\.$/u
const stopThenCloser = new RegExp(`[.!?…][${closers}]+$`, "u")
const ellipsis = /(?:\.\.\.|…)$/u
// Greek writes its question mark as ";" (U+037E, usually typed as the ASCII semicolon).
const greekQuestion = /\p{Script=Greek}[;\u037E]$/u
/** What a narrator can say: letters, digits or emoji. */
const speakable = /[\p{L}\p{N}]|\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F/u
const listItem = /^\s*(?:\d{1,3}[.)]|[a-zA-Z][.)]|[-*•–])\s+\S/u

// --- splitting ------------------------------------------------------------------------------------

/** Paragraphs and list items: the boundaries no rule may join. */
const blocks = (text: string): Array<string> => {
  const out: Array<string> = []
  for (const paragraph of text.replace(/\r\n?/gu, "\n").split(/\n\s*\n/u)) {
    let current: Array<string> = []
    for (const line of paragraph.split("\n")) {
      if (listItem.test(line) && current.length > 0) {
        out.push(current.join(" "))
        current = []
      }
      current.push(line)
    }
    out.push(current.join(" "))
  }
  return out.map((block) => block.replace(/\s+/gu, " ").trim()).filter((block) => block.length > 0)
}

/**
 * Cut after "。", "？", "।", ... A quote closed after the mark ends the sentence only if a new one
 * follows (`「はい。」「いいえ。」`), not when the sentence goes on (`「そうです。」と彼は言った。`).
 */
const hardSplit = (block: string): Array<string> => {
  const out: Array<string> = []
  let start = 0
  for (const match of block.matchAll(hardEnd)) {
    const end = match.index + match[0].length
    if (match[1]!.length > 0 && !opensOrSpace.test(block.slice(end))) continue
    out.push(block.slice(start, end))
    start = end
  }
  out.push(block.slice(start))
  return out.flatMap((part) => part.split(cjkAfterAscii)).map((part) => part.trim())
}

/** Boundaries between two words that sbd misses or misplaces (see the top of the file). */
const isForcedBoundary = (word: string, next: string): boolean => {
  if (stopThenCloser.test(word) || ellipsis.test(word)) return startsCapital.test(next)
  if (greekQuestion.test(word)) return startsGreekCapital.test(next)
  if (plainWordWithStop.test(word)) {
    const bare = word.slice(0, -1)
    if (leadingSet.has(bare)) return false
    return startsCapital.test(next)
  }
  return false
}

const forcedPieces = (segment: string): Array<string> => {
  const words = segment.split(" ")
  const out: Array<string> = []
  let start = 0
  for (let i = 0; i < words.length - 1; i++) {
    if (isForcedBoundary(words[i]!, words[i + 1]!)) {
      out.push(words.slice(start, i + 1).join(" "))
      start = i + 1
    }
  }
  out.push(words.slice(start).join(" "))
  return out
}

/** The best place to cut `text` at or before `max` code units (an index into `text`). */
const bestBreak = (text: string, max: number): number => {
  const window = text.slice(0, max + 1)
  const floor = Math.floor(max / 3)
  // Highest priority first; each entry matches the break and `end` is where the first piece ends.
  const kinds: ReadonlyArray<RegExp> = [
    /[;；](?=\s)|；/gu,
    /[:：](?=\s)|：/gu,
    /[,，](?=\s)|[，、]/gu,
    /\s[—–]\s/gu
  ]
  for (const kind of kinds) {
    let best = -1
    for (const match of window.matchAll(kind)) {
      const end = match.index + match[0].trimEnd().length
      if (end >= floor && end <= max) best = end
    }
    if (best > 0) return best
  }
  const space = window.search(/\s\S*$/u)
  if (space > 0) return space
  // No space at all: between two CJK characters (each is a word of its own) ...
  for (let i = Math.min(max, text.length - 1); i > floor; i--) {
    if (/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u.test(text[i - 1]! + text[i]!)) {
      return i
    }
  }
  // ... else one "word" longer than the limit (a URL, a hash): cut it, but not inside a surrogate pair.
  const code = text.charCodeAt(max - 1)
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max
}

const splitLong = (sentence: string, max: number): Array<string> => {
  const out: Array<string> = []
  let rest = sentence
  while (rest.length > max) {
    const cut = bestBreak(rest, max)
    const head = rest.slice(0, cut).trim()
    if (head.length > 0) out.push(head)
    rest = rest.slice(cut).trim()
  }
  if (rest.length > 0) out.push(rest)
  return out
}

/** The sentences of `text`, each in its original wording (trimmed, inner whitespace made one space). */
export const split = (text: string, options?: SplitOptions): ReadonlyArray<string> => {
  const max = Math.max(1, Math.floor(options?.maxChars ?? defaultMaxChars))
  const out: Array<string> = []
  for (const block of blocks(text)) {
    for (const hard of hardSplit(block)) {
      for (const piece of forcedPieces(hard)) {
        if (piece.length === 0) continue
        for (const sentence of sbd.sentences(piece, sbdOptions)) {
          const clean = sentence.replace(/\s+/gu, " ").trim()
          if (speakable.test(clean)) out.push(...splitLong(clean, max))
        }
      }
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
    return yield* fail(
      "nothing-to-narrate",
      `${path} has only punctuation or symbols, nothing to narrate: write at least one sentence with words.`
    )
  }
  return sentences
})

const lineOf = (bytes: Uint8Array, offset: number): number => {
  let line = 1
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++
  return line
}
