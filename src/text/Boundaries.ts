/**
 * Where the sentences of one block start: the rule engine.
 *
 * The approach is the Pragmatic Segmenter's (and pySBD's): decide, for every mark that could end a sentence,
 * whether it does, from the word before it and the word after it; protect list markers, numbers, abbreviations,
 * ellipses and quotations first. Here that is one pass over the block's candidate marks, each decided by the
 * table below, instead of a chain of substitutions, so a megabyte of prose takes a fraction of a second.
 *
 * A run of marks (".", "?!", "...", ". . . .") followed by closing quotes or brackets ends a sentence only when
 * a space (or the end) follows. Then, by the run and the words around it:
 *
 * - "?" or "!": an end unless a lower-case word follows ("She works at Yahoo! in the accounting department").
 * - an ellipsis: after a word ("I waited... Then", "that.... She") an end before a capital; after a space
 *   (`really ... well`, `is . . . I didn't`) a pause inside the sentence, unless it has a fourth dot, the full
 *   stop (`a period . . . . Next sentence.`); "[...]" marks an omission and never ends anything. A full stop
 *   followed by a spaced ellipsis (`compounds. . . . The practice`) ends the sentence at the full stop.
 * - a full stop after a closing quote or bracket: an end unless a lower-case word follows
 *   (`"This is great." she said.`).
 * - a full stop after the word W:
 *   - W a title or a word that introduces ("Dr.", "Mt.", "e.g.", "vs."): never an end;
 *   - W an initial or a dotted acronym ("E.", "I.", "U.S."): an end only before a word that usually begins a
 *     sentence ("you and I. Did you", "the U.S. How about") — "Jonas E. Smith", "the U.S. Government" are names;
 *   - W "a.m."/"p.m.": an end before a capital, unless the time opens the sentence ("At 5 a.m. Mr. Smith went");
 *   - W an abbreviation that may close a sentence ("etc.", "Co.", "Jan.", "ft." after a number, "N°."), or a
 *     word without vowels ("govt."): an end before a capital only;
 *   - any other word (a number, a URL, an e-mail address): an end, unless a lower-case word follows in a text
 *     that uses capitals at all.
 * - an inline list ("1.) The first item 2.) The second item", "a. ... b. ...", "• 9. ... • 10. ...") starts a
 *   sentence at each marker of a run of consecutive markers, and a marker's own dot ends nothing.
 * - marks of scripts that need no space after them (Japanese and Chinese "。！？", Hindi "।", Arabic "؟",
 *   Urdu "۔", "‼") always end a sentence, unless a closing quote follows and the sentence goes on
 *   (`「そうです。」と彼は言った。`); an ASCII "!" or "?" straight before Japanese or Chinese text ends one too; a
 *   Greek ";" is a question mark between Greek words.
 * - a boundary inside a closed quotation or bracket shorter than `quoteChars` is not taken: the quotation stays
 *   one sentence. The writer's `|` and `~` (Blocks.ts) win over every rule.
 */
import * as Words from "./Abbreviations.ts"
import type { Block } from "./Blocks.ts"
import * as Quotes from "./Quotes.ts"

// After an end mark, “ and ‘ close too: German „Hallo.“ and ‚ja.‘
const closers = `"'”’“‘»›」』）】〉》〕)\\]`
const openers = `"'“‘«‹「『（【〈《〔(\\[¿¡„`
const isCloser = new RegExp(`[${closers}]`, "u")
const isOpener = new RegExp(`[${openers}]`, "u")
/** Sentence ends of scripts that need no space after them. */
const hard = "。｡！？।॥؟۔።‼⁇⁈⁉\u037E"
const isHard = new RegExp(`[${hard}]`, "u")
const candidate = new RegExp(`[.!?…;${hard}]`, "gu")
const isCjk = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u
const isGreek = /\p{Script=Greek}/u
const isUpper = /[\p{Lu}\p{Lt}\p{Lo}]/u // a letter of a script without case counts as a capital
const isLower = /\p{Ll}/u
const isDigit = /\p{N}/u
const hasUpper = /\p{Lu}/u
const numeric = /^[\p{Sc}#+\-±~≈]*\d[\d.,:/\-]*(?:%|st|nd|rd|th)?$/u
const dotted = /^\p{L}{1,2}(?:\.\p{L}{1,2})+$/u
const singleLetter = /^\p{L}$/u
const hasVowel = /[aeiouyäöüàáâèéêìíîòóôùúûæøåœ]/iu
const plainLetters = /^\p{L}+$/u
const degree = /[°º]$/u
const initialToken = /^\p{L}\.$/u
const wordOf = /^[\p{L}\p{M}'’]+/u
/** A word in capitals: two letters or more, none lower-case ("TO", "U.S.", "A.M."). */
const capitals = /^(?=(?:[^\p{Lu}]*\p{Lu}){2})[^\p{Ll}\p{Lo}]+$/u

/** What starts the next word: a capital (or a letter without case), a lower-case letter, a digit, or else. */
type Next = "upper" | "lower" | "digit" | "other" | "end"

export interface Options {
  /** A closed quotation or bracket shorter than this (code units, marks included) stays one sentence. */
  readonly quoteChars: number
}

interface Marker {
  readonly start: number // where the sentence it opens starts (its bullet, if any)
  readonly dots: ReadonlyArray<number> // its own marks, which end nothing
  readonly kind: string
  readonly value: number
}

const listMarker = /(?<=^| )(?:([•⁃*\-–]) ?)?(?:(\d{1,2})(\.\)|\)|\.)|([a-z])(\.|\)))(?= \S)/gu

/** The markers of inline lists: runs of consecutive numbers or letters of one kind, and a marker at the start. */
const listMarkers = (text: string): Array<Marker> => {
  const found: Array<Marker> = []
  for (const m of text.matchAll(listMarker)) {
    const number = m[2]
    const kind = number !== undefined ? `n${m[3]}` : `a${m[5]}`
    const value = number !== undefined ? Number(number) : m[4]!.charCodeAt(0) - 96
    const markEnd = m.index + m[0].length
    const dots: Array<number> = []
    for (let i = m.index; i < markEnd; i++) if (text[i] === ".") dots.push(i)
    found.push({ start: m.index, dots, kind, value })
  }
  if (found.length === 0) return found
  const byKind = new Map<string, Array<Marker>>()
  for (const marker of found) byKind.set(marker.kind, [...(byKind.get(marker.kind) ?? []), marker])
  const out: Array<Marker> = []
  for (const run of byKind.values()) {
    run.forEach((marker, i) => {
      const consecutive = run[i - 1]?.value === marker.value - 1 || run[i + 1]?.value === marker.value + 1
      if (consecutive || marker.start === 0) out.push(marker)
    })
  }
  return out
}

/** The start of each sentence of `block` after the first, in order. */
export const starts = (block: Block, options: Options): Array<number> => {
  const text = block.text
  const cased = hasUpper.test(text)
  const found = new Set<number>()
  const protectedDots = new Set<number>()
  if (/\d[.)]|(?:^| )[a-z][.)] |•/u.test(text)) {
    for (const marker of listMarkers(text)) {
      for (const dot of marker.dots) protectedDots.add(dot)
      if (marker.start > 0) found.add(marker.start)
    }
    for (const bullet of text.matchAll(/(?<= )• (?=\S)/gu)) found.add(bullet.index)
  }

  const nextOf = (at: number): Next => {
    // `at` is where the next word starts; opening marks are skipped.
    let i = at
    while (i < text.length && (isOpener.test(text[i]!) || (i > at && text[i] === " " && /[«‹]/u.test(text[i - 1]!)))) i++
    const c = text[i]
    if (c === undefined) return "end"
    if (isLower.test(c)) return cased ? "lower" : "upper"
    if (isUpper.test(c)) return "upper"
    if (isDigit.test(c)) return "digit"
    return "other"
  }
  const nextWord = (at: number): string => {
    let i = at
    while (i < text.length && isOpener.test(text[i]!)) i++
    const space = text.indexOf(" ", i)
    return text.slice(i, space === -1 ? text.length : space)
  }
  const wordBefore = (end: number): { word: string; start: number } => {
    if (end <= 0) return { word: "", start: 0 }
    const space = text.lastIndexOf(" ", end - 1)
    let start = space + 1
    while (start < end && isOpener.test(text[start]!)) start++
    return { word: text.slice(start, end), start }
  }
  /** A word that usually begins a sentence, and not an initial itself ("J. A. Smith"). */
  const startsSentenceWord = (at: number): boolean => {
    const token = nextWord(at)
    if (initialToken.test(token)) return false
    const word = wordOf.exec(token)?.[0]
    return word !== undefined && Words.starters.has(word)
  }

  let sentenceStart = 0
  candidate.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = candidate.exec(text)) !== null) {
    const s = m.index
    if (protectedDots.has(s)) continue
    const first = text[s]!
    // The run of marks: ".", "?!", "...", and dots spaced by single spaces (". . .").
    let e = s + 1
    let dots = first === "." ? 1 : 0
    let spaced = false
    let exclaims = first === "!" || first === "?"
    let ellipsis = first === "…"
    for (;;) {
      const c = text[e]
      if (c === "." || c === "!" || c === "?" || c === "…" || (c !== undefined && isHard.test(c))) {
        if (c === ".") dots++
        if (c === "!" || c === "?") exclaims = true
        if (c === "…") ellipsis = true
        e++
      } else if (c === " " && text[e + 1] === "." && dots > 0 && (e + 2 >= text.length || /[ .\p{Pe}\p{Pf}"']/u.test(text[e + 2]!))) {
        spaced = true
        dots++
        e += 2
      } else break
    }
    candidate.lastIndex = e
    let after = e
    while (after < text.length && isCloser.test(text[after]!)) after++
    // French sets its closing guillemet off with a space: « Bonjour. » Puis...
    if (text[after] === " " && (text[after + 1] === "»" || text[after + 1] === "›")) after += 2
    const closed = after > e
    const following = text[after]

    let start = -1 // where the next sentence starts, if this run ends one
    if (isHard.test(first) || isHard.test(text[e - 1]!)) {
      if (!closed || following === undefined || following === " " || isOpener.test(following)) start = after
    } else if (first === ";") {
      const word = wordBefore(s).word
      if (following === " " && word.length > 0 && isGreek.test(word[word.length - 1]!)) {
        const next = nextWord(after + 1)
        if (isGreek.test(next[0] ?? "") && /^\p{Lu}/u.test(next)) start = after + 1
      }
    } else if (following !== undefined && following !== " ") {
      // No space: "3.14", "Jane.Doe", "Jr.'s", "mean...see"; only "!" or "?" straight before CJK text ends one.
      if (exclaims && isCjk.test(following)) start = after
    } else if (following === " ") {
      const at = after + 1
      const next = nextOf(at)
      if (exclaims) {
        if (next !== "lower") start = at
      } else if (ellipsis || dots >= 2) {
        const attached = s > 0 && text[s - 1] !== " "
        if (text[s - 1] === "[" || text[s - 1] === "(") {
          // "[...]": an omission
        } else if (!attached) {
          if (spaced && dots >= 4 && (next === "upper" || next === "digit")) start = at
        } else if (spaced && dots >= 4) {
          if (next === "upper") start = s + 1 // the full stop ends it; the ellipsis opens the next one
        } else if (next === "upper") start = at
      } else if (closed) {
        if (next !== "lower") start = at
      } else {
        start = fullStop(s, at, next) ? at : -1
      }
    }
    if (start > 0 && start < text.length) {
      found.add(start)
      sentenceStart = start
    }
  }

  /** Whether the single "." at `s`, with the next word at `at`, ends a sentence. */
  function fullStop(s: number, at: number, nextClass: Next): boolean {
    const { word, start } = wordBefore(s)
    if (word.length === 0) return nextClass === "upper"
    const bare = word.replace(/\./gu, "").toLowerCase()
    if (numeric.test(word)) return nextClass !== "lower"
    // Text in capitals ("OPEN 7 A.M. TO 5 P.M.") says nothing by its capitals: an abbreviation in capitals
    // followed by a word in capitals is read as inside the sentence.
    const next: Next = nextClass === "upper" && capitals.test(word) && capitals.test(nextWord(at)) ? "lower" : nextClass
    if (dotted.test(word) || singleLetter.test(word)) {
      if (Words.clock.has(bare)) {
        if (next !== "upper") return false
        const opening = text.slice(sentenceStart, s).split(" ")
        return !(opening.length <= 4 && Words.timeIntroducers.has(opening[0]!.toLowerCase()))
      }
      if (Words.introducing.has(bare)) return false
      return next === "upper" && startsSentenceWord(at)
    }
    if (Words.streets.has(bare) || (Words.units.has(bare) && bare === "ft")) {
      // "Baker St." or "6 ft." may end a sentence; "St. Mark's", "Dr. Patel", "Ft. Worth" never.
      const before = wordBefore(start - 1)
      const street = before.start > sentenceStart && /^\p{Lu}[\p{L}\p{M}'’-]*$/u.test(before.word) // not "Rev. Dr."
      const measure = numeric.test(before.word)
      if (!street && !measure) return false
      return next === "upper"
    }
    if (Words.introducing.has(bare)) return false
    if (Words.units.has(bare) && numeric.test(wordBefore(start - 1).word)) return next === "upper"
    if (Words.closing.has(bare) || degree.test(word)) {
      // "Campbell & Co. Ltd." is one name.
      return next === "upper" && !Words.suffixes.has(nextWord(at).replace(/[.,;:]/gu, "").toLowerCase())
    }
    if (plainLetters.test(word) && word.length <= 5 && !hasVowel.test(word)) return next === "upper"
    return next !== "lower"
  }

  for (const at of block.forced) found.add(at)
  const inside = Quotes.insideShort(found.size > 0 ? Quotes.spans(text) : [], options.quoteChars)
  const out: Array<number> = []
  for (const at of [...found].sort((a, b) => a - b)) {
    if (block.forced.has(at)) out.push(at)
    else if (!block.joined.has(at) && !inside(at)) out.push(at)
  }
  return out
}
