/**
 * The `draft` profile's shot planner: stands in for the LLM, for free, offline and deterministically.
 *
 * Same input, same shots: the choices (framing order, camera moves) come from a small hash of the
 * sentence's normalized text, never from Math.random or a clock, so a draft rebuild reproduces the
 * same storyboard, and a change of case or spacing changes nothing. The planner reads only its input;
 * the neighbouring sentences feed just the continuity hint at the end of each prompt, so editing a
 * neighbour changes that hint and nothing else.
 *
 * Shots follow the sentence as it is spoken: the first establishes the whole scene, later ones move
 * through the sentence's salient words in order, so each picture matches what is being said while it
 * is on screen (shots are 2 s slices of the narration).
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
  /** How the prompt opens: "<lead> <focus>". */
  readonly lead: string
  /** Moves that suit the framing, preferred when the seed allows. */
  readonly moves: ReadonlyArray<Camera>
}

const establishing: ReadonlyArray<Framing> = [
  { shotType: "wide", lead: "Wide establishing shot of", moves: ["pull-out", "pan-right", "pan-left"] },
  { shotType: "aerial", lead: "High aerial view over", moves: ["tilt-down", "pull-out", "pan-right"] }
]

const details: ReadonlyArray<Framing> = [
  { shotType: "medium", lead: "Medium shot of", moves: ["pan-left", "pan-right", "push-in"] },
  { shotType: "close-up", lead: "Close-up of", moves: ["push-in", "tilt-up", "tilt-down"] },
  { shotType: "detail", lead: "Extreme close-up detail of", moves: ["push-in", "pan-right", "tilt-down"] },
  { shotType: "over-the-shoulder", lead: "Over-the-shoulder shot toward", moves: ["push-in", "pan-left"] },
  { shotType: "low-angle", lead: "Low-angle shot looking up at", moves: ["tilt-up", "push-in", "pull-out"] },
  { shotType: "high-angle", lead: "High-angle shot looking down on", moves: ["tilt-down", "pull-out", "pan-left"] }
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

const excerpt = (text: string, max = 90): string => {
  const clean = text.replace(/\s+/gu, " ").trim()
  if (clean.length <= max) return clean
  const cut = clean.slice(0, max)
  const space = cut.lastIndexOf(" ")
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:]+$/u, "")}…`
}

/**
 * What shot `i` of `count` shows: the first the scene as a whole, the rest consecutive slices of the
 * salient words, so the pictures move through the sentence as the narration does.
 */
const focusOf = (words: ReadonlyArray<string>, i: number, count: number): ReadonlyArray<string> => {
  if (words.length === 0) return []
  if (i === 0) return longest(words, 4)
  const rest = count - 1
  if (words.length >= rest) {
    const from = Math.floor(((i - 1) * words.length) / rest)
    const to = Math.floor((i * words.length) / rest)
    return longest(words.slice(from, to), 3)
  }
  return [words[(i - 1) % words.length]!]
}

/** The `n` longest words (the more specific ones, as a rule), kept in spoken order. */
const longest = (words: ReadonlyArray<string>, n: number): ReadonlyArray<string> =>
  words
    .map((word, index) => ({ word, index }))
    .sort((a, b) => [...b.word].length - [...a.word].length || a.index - b.index)
    .slice(0, n)
    .sort((a, b) => a.index - b.index)
    .map(({ word }) => word)

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
  const words = salientWords(input.text)
  const scene = excerpt(input.text).replace(/[.。!！?？।]+$/u, "")
  const style = input.style.trim().replace(/[.\s]+$/u, "")
  const hint = continuity(input.previous, input.next)
  let camera: Camera | undefined
  return framings(random, count).map((framing, i) => {
    camera = cameraFor(random, framing, camera)
    const focus = focusOf(words, i, count)
    const subject =
      focus.length === 0 ? `the moment “${scene}”` : i === 0 ? `${list(focus)}: “${scene}”` : list(focus)
    const prompt = [`${framing.lead} ${subject}.`, style.length > 0 ? `Style: ${style}.` : "", hint]
      .filter((part) => part.length > 0)
      .join(" ")
    return { prompt, shotType: framing.shotType, camera }
  })
}
