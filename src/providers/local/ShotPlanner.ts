/**
 * The `draft` profile's shot planner: stands in for the LLM, for free, offline and deterministically.
 *
 * Same input, same shots: the choices (framing order, camera moves) come from a small hash of the
 * sentence's normalized text, never from Math.random or a clock, so a draft rebuild reproduces the
 * same storyboard, and a change of case or spacing changes nothing. The planner reads only its input;
 * the neighbouring sentences feed just the continuity hint at the end of each prompt, so editing a
 * neighbour changes that hint and nothing else.
 *
 * Shots follow the sentence as it is spoken (shots are 2 s slices of the narration): each prompt opens
 * with a panel line, the way a storyboard artist labels a panel ("Low angle: the keeper climbed the
 * spiral stairs"): the framing, then the phrase of the sentence that is being said while the shot is on
 * screen, with a leading pronoun named ("she" → "the lighthouse keeper", from this sentence or the one
 * before). When a sentence has fewer phrases than shots, the extra shots close in on a thing the phrase
 * names ("Detail: the lantern"). The draft card prints the panel line; the rest of the prompt (the
 * style, the continuity hint) is for an image model.
 */
import { normalize } from "../../text/Sentences.ts"

import { cameraMoves, type CameraMove, type Shot } from "../../Shot.ts"

export type { Shot }
export type Camera = CameraMove
export const cameras = cameraMoves

export interface PlanInput {
  readonly text: string
  readonly previous?: string | undefined
  readonly next?: string | undefined
  readonly style: string
  readonly count: number
}

interface Framing {
  readonly shotType: string
  /** How the panel line opens: "<lead>: <phrase>". */
  readonly lead: string
  /** Moves that suit the framing, preferred when the seed allows. */
  readonly moves: ReadonlyArray<Camera>
}

const establishing: ReadonlyArray<Framing> = [
  { shotType: "wide", lead: "Wide", moves: ["pull-out", "pan-right", "pan-left"] },
  { shotType: "aerial", lead: "Aerial", moves: ["tilt-down", "pull-out", "pan-right"] }
]

const details: ReadonlyArray<Framing> = [
  { shotType: "medium", lead: "Medium shot", moves: ["pan-left", "pan-right", "push-in"] },
  { shotType: "close-up", lead: "Close-up", moves: ["push-in", "tilt-up", "tilt-down"] },
  { shotType: "detail", lead: "Detail", moves: ["push-in", "pan-right", "tilt-down"] },
  { shotType: "over-the-shoulder", lead: "Over the shoulder", moves: ["push-in", "pan-left"] },
  { shotType: "low-angle", lead: "Low angle", moves: ["tilt-up", "push-in", "pull-out"] },
  { shotType: "high-angle", lead: "High angle", moves: ["tilt-down", "pull-out", "pan-left"] }
]

const stopwords = new Set(
  ("a an the and or but nor so yet for of in on at to from by with without into onto over under about above below " +
    "after before between through during until while as than then there here this that these those it its it's " +
    "is are was were be been being am do does did done have has had having will would shall should can could may " +
    "might must not no yes i me my mine we us our you your he him his she her they them their what which who whom " +
    "whose when where why how all any both each every few more most other some such only own same too very just " +
    "also again once up down out off if because although though even ever never still now one two lot lots really " +
    "let let's get got go went gone come came say said tell told like well back way thing things something")
    .split(" ")
)

// --- determinism ----------------------------------------------------------------------------------

/** FNV-1a, 32 bit: a small, stable hash; cryptographic strength is not needed to pick a framing. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/** mulberry32: a tiny seeded generator, the same sequence on every platform. */
const generator = (seed: number) => {
  let state = seed >>> 0
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const pick = <A>(random: () => number, items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!

const shuffle = <A>(random: () => number, items: ReadonlyArray<A>): Array<A> => {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

// --- subject matter -------------------------------------------------------------------------------

// Made on first use: the first Intl.Segmenter loads ICU's break data (~10 ms), which a no-op build never needs.
let segmenter: Intl.Segmenter | undefined

/**
 * The sentence's salient words in spoken order: no stop words, no repeats; when there are more than
 * `limit`, the longest (and names) are kept. Works for any script (Intl word segmentation).
 */
export const salientWords = (text: string, limit = 12): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const words: Array<{ word: string; index: number; score: number }> = []
  for (const { segment, isWordLike } of (segmenter ??= new Intl.Segmenter(undefined, { granularity: "word" })).segment(text)) {
    if (!isWordLike) continue
    const key = segment.toLowerCase()
    if (seen.has(key) || stopwords.has(key) || /^\p{N}+$/u.test(segment)) continue
    const cjk = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u.test(segment)
    if (!cjk && [...segment].length < 3) continue
    if (cjk && /^\p{Script=Hiragana}{1,2}$/u.test(segment)) continue // particles and endings
    seen.add(key)
    const name = words.length > 0 && /^\p{Lu}/u.test(segment) ? 3 : 0
    words.push({ word: segment, index: words.length, score: [...segment].length + name })
  }
  // Pictures show things: drop likely past-tense verbs and adverbs ("climbed", "slowly") when
  // enough other words remain. A crude English-only cue, but it keeps prompts on nouns.
  const weak = (word: string) => /^\p{Ll}[\p{Script=Latin}]{2,}(?:ed|ly)$/u.test(word)
  const strong = words.filter(({ word }) => !weak(word))
  return (strong.length >= 2 ? strong : words)
    .slice()
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, limit)
    .sort((a, b) => a.index - b.index)
    .map(({ word }) => word)
}

const list = (words: ReadonlyArray<string>): string =>
  words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`

// --- panel lines ----------------------------------------------------------------------------------

/** Words before which a long phrase may be split (a clause or a prepositional phrase starts there). */
const joints = new Set(
  ("and but while as when whilst until before after because though although then so with without " +
    "towards toward into onto across through over under past beyond behind beside from at in on")
    .split(" ")
)
/** Leading words dropped from a panel line: they only link it to the phrase before. */
const linkers = new Set(["and", "but", "then", "so", "or", "yet"])
const determiners = new Set("the a an her his their its my our your this that these those".split(" "))
const pronouns = new Set(["she", "he", "they"])
/** Common irregular verbs in the past and present, which end a subject ("The old keeper *woke*"). */
const verbs = new Set(
  ("was were is are am has had have does did do woke wakes rang rings ran runs came comes went goes saw sees " +
    "took takes made makes stood stands sat sits fell falls held holds knew knows found finds gave gives told " +
    "tells felt feels left leaves kept keeps began begins brought brings thought thinks heard hears lay lies " +
    "rose rises drove drives flew flies grew grows threw throws caught catches led leads spoke speaks wrote " +
    "writes met meets lost loses won wins swam swims sang sings broke breaks chose chooses drew draws shook " +
    "shakes climbs climb turned turns looked looks walked walks opened opens will would could should can may might must")
    .split(" ")
)
const verbLike = (word: string) => {
  const w = word.toLowerCase()
  return verbs.has(w) || /^\p{L}{3,}ed$/u.test(w)
}

const MAX_PHRASE = 64

interface Token {
  readonly text: string
  readonly word: string
}

/** Whitespace tokens, each with its bare word (punctuation stripped, lower case) for the tests above. */
const tokens = (text: string): Array<Token> =>
  text
    .split(/\s+/u)
    .filter((t) => t !== "")
    .map((t) => ({ text: t, word: t.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "").toLowerCase() }))

/**
 * The sentence cut into the phrases a panel line can quote: at punctuation, then long phrases (more than
 * eight words) at a clause or preposition near their middle, never leaving fewer than three words a side.
 */
export const phrases = (text: string): Array<Array<Token>> => {
  const out: Array<Array<Token>> = []
  let current: Array<Token> = []
  for (const token of tokens(text)) {
    current.push(token)
    if (/[,;:()\u2014\u2013]$|[.!?。！？]$/u.test(token.text) || token.text === "-") {
      out.push(current)
      current = []
    }
  }
  if (current.length > 0) out.push(current)
  const split = (phrase: Array<Token>): Array<Array<Token>> => {
    if (phrase.length <= 8) return [phrase]
    let best = -1
    for (let i = 3; i <= phrase.length - 3; i++) {
      if (joints.has(phrase[i]!.word) && (best < 0 || Math.abs(i - phrase.length / 2) < Math.abs(best - phrase.length / 2))) best = i
    }
    return best < 0 ? [phrase] : [...split(phrase.slice(0, best)), ...split(phrase.slice(best))]
  }
  return out.flatMap(split).filter((p) => p.some((t) => t.word !== ""))
}

/** "The old lighthouse keeper" of "The old lighthouse keeper woke before dawn": who the sentence is about. */
export const subjectOf = (text: string | undefined): string | undefined => {
  if (text === undefined) return undefined
  const ts = tokens(text).slice(0, 6)
  if (ts.length === 0 || pronouns.has(ts[0]!.word)) return undefined
  const names = ts.findIndex((t) => !/^\p{Lu}/u.test(t.text) || /[,;:.!?]$/u.test(t.text))
  // Two or three capitalised words that start the sentence ("Captain Mara Quinn"): a name. One alone may
  // only be capitalised for starting the sentence ("Snow fell").
  if (!determiners.has(ts[0]!.word) && !stopwords.has(ts[0]!.word)) {
    const end = names < 0 ? ts.length : names + (/[,;:.!?]$/u.test(ts[names]!.text) ? 1 : 0)
    const name = ts.slice(0, end).map((t) => t.text.replace(/[,;:.!?]+$/u, ""))
    return name.length >= 2 && name.length <= 3 ? name.join(" ") : undefined
  }
  if (!determiners.has(ts[0]!.word)) return undefined
  for (let i = 1; i < ts.length && i <= 4; i++) {
    const t = ts[i]!
    if (verbLike(t.word) || stopwords.has(t.word)) return i >= 2 ? ts.slice(0, i).map((x) => x.text).join(" ") : undefined
    if (/[,;:.!?]$/u.test(t.text)) return undefined
  }
  return undefined
}

/** A phrase as a panel line's text: no linking word in front, no dangling word behind, at most MAX_PHRASE. */
const tidy = (phrase: ReadonlyArray<Token>, subject: string | undefined): string => {
  let ts = [...phrase]
  while (ts.length > 1 && linkers.has(ts[0]!.word)) ts = ts.slice(1)
  let words = ts.map((t) => t.text)
  if (subject !== undefined && pronouns.has(ts[0]?.word ?? "")) words = [subject, ...words.slice(1)]
  // Cut a long phrase at a joint (or a word boundary) so it stays one short line.
  const whole = words.length
  while (words.join(" ").length > MAX_PHRASE && words.length > 3) {
    let cut = words.length - 1
    for (let i = words.length - 1; i >= 3; i--) {
      if (joints.has(words[i]!.toLowerCase()) && words.slice(0, i).join(" ").length <= MAX_PHRASE) {
        cut = i
        break
      }
    }
    words = words.slice(0, cut)
  }
  // A cut phrase must not end on "the" or "with"; a whole one ends where the sentence's phrase does.
  while (words.length < whole && words.length > 1 && stopwords.has(words[words.length - 1]!.toLowerCase().replace(/[^\p{L}]/gu, ""))) words = words.slice(0, -1)
  let line = words.join(" ").replace(/[\s,;:(\u2014\u2013-]+$/u, "").replace(/[.!?。！？]+$/u, "").replace(/^[(\u2014\u2013-]+/u, "")
  // "The keeper" reads as "the keeper" after "Wide: "; a name keeps its capital.
  const first = tokens(line)[0]
  if (first !== undefined && (determiners.has(first.word) || pronouns.has(first.word) || stopwords.has(first.word))) {
    line = line.charAt(0).toLowerCase() + line.slice(1)
  }
  return line
}

/** The things a phrase names: a determiner and up to three words after it ("the frozen river", "a cup"). */
const thingsIn = (phrase: ReadonlyArray<Token>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < phrase.length; i++) {
    if (!determiners.has(phrase[i]!.word) || /[,;:.!?]$/u.test(phrase[i]!.text)) continue
    let end = i
    for (let j = i + 1; j < phrase.length && j <= i + 3; j++) {
      const t = phrase[j]!
      if (t.word === "" || stopwords.has(t.word) || verbLike(t.word)) break
      end = j
      if (/[,;:.!?]$/u.test(t.text)) break
    }
    if (end > i) out.push(phrase.slice(i, end + 1).map((t) => t.text).join(" ").replace(/[^\p{L}\p{N}]+$/u, ""))
  }
  return out
}

/**
 * What each of `count` shots says, in spoken order: the phrases shared out by their place in the sentence;
 * with more shots than phrases, a shot that would repeat its neighbour's phrase closes in on a thing in it.
 */
const panelPhrases = (text: string, count: number, subject: string | undefined, own: string | undefined): Array<string> => {
  const ps = phrases(text)
  if (ps.length === 0) return Array.from({ length: count }, () => "")
  const total = ps.reduce((n, p) => n + p.length, 0)
  // Each phrase goes to the shot on screen at its middle; a shot may get several, or none.
  const groups: Array<Array<number>> = Array.from({ length: count }, () => [])
  let start = 0
  ps.forEach((p, k) => {
    groups[Math.min(count - 1, Math.floor(((start + p.length / 2) * count) / total))]!.push(k)
    start += p.length
  })
  const out: Array<string> = []
  // Before its first phrase is due, a shot shows that phrase (a sentence of one long word).
  let current = groups.find((g) => g.length > 0)?.[0] ?? 0
  groups.forEach((group, i) => {
    if (group.length > 0) {
      current = group[group.length - 1]!
      out.push(tidy(group.flatMap((k) => ps[k]!), subject))
      return
    }
    // No phrase of its own: close in on a thing the phrase being said names, else on whom it is about.
    const things = thingsIn(ps[current]!).filter((t) => t.toLowerCase() !== subject?.toLowerCase())
    const thing = things.length > 0 ? things[i % things.length]! : own
    out.push(thing !== undefined ? tidy(tokens(thing), undefined) : tidy(ps[current]!, subject))
  })
  return out
}

const continuity = (previous: string | undefined, next: string | undefined): string => {
  const before = previous === undefined ? [] : salientWords(previous, 3)
  const after = next === undefined ? [] : salientWords(next, 3)
  if (before.length > 0 && after.length > 0) {
    return `Continuity: same world as the moment before (${list(before)}), leading into ${list(after)}.`
  }
  if (before.length > 0) return `Continuity: same world as the moment before (${list(before)}).`
  if (after.length > 0) return `Continuity: sets up what comes next (${list(after)}).`
  return ""
}

// --- planning -------------------------------------------------------------------------------------

const framings = (random: () => number, count: number): Array<Framing> => {
  if (count === 1) return [pick(random, [establishing[0]!, ...details.slice(0, 2), details[4]!])]
  const out: Array<Framing> = [pick(random, establishing)]
  let deck: Array<Framing> = []
  while (out.length < count) {
    if (deck.length === 0) deck = shuffle(random, details)
    const next = deck.shift()!
    // A reshuffled deck may start with the framing just used; put it back at the end.
    if (next === out[out.length - 1] && deck.length > 0) deck.push(next)
    else out.push(next)
  }
  return out
}

const cameraFor = (random: () => number, framing: Framing, previous: Camera | undefined): Camera => {
  const preferred = framing.moves.filter((move) => move !== previous)
  const any = cameras.filter((move) => move !== previous)
  // Mostly the framing's natural moves, sometimes any other, so long sentences don't feel mechanical.
  return random() < 0.75 && preferred.length > 0 ? pick(random, preferred) : pick(random, any)
}

/** Exactly `count` still-image shots for one sentence. */
export const planShots = (input: PlanInput): ReadonlyArray<Shot> => {
  const count = Math.floor(input.count)
  if (!Number.isFinite(count) || count < 1) {
    throw new RangeError(`ShotPlanner: count must be a whole number >= 1, got ${input.count}`)
  }
  const random = generator(hash(normalize(input.text)))
  const own = subjectOf(input.text)
  const lines = panelPhrases(input.text, count, own ?? subjectOf(input.previous), own)
  const style = input.style.trim().replace(/[.\s]+$/u, "")
  const hint = continuity(input.previous, input.next)
  let camera: Camera | undefined
  return framings(random, count).map((framing, i) => {
    camera = cameraFor(random, framing, camera)
    const phrase = lines[i] === "" ? "the moment" : lines[i]!
    const prompt = [`${framing.lead}: ${phrase}.`, style.length > 0 ? `Style: ${style}.` : "", hint]
      .filter((part) => part.length > 0)
      .join(" ")
    return { prompt, shotType: framing.shotType, camera }
  })
}
