/**
 * `--length 60s | 150w`: how long the script should be, as words (what a writer model can aim at) and as
 * narration time (what a person means). Seconds become words at the voice's speaking rate
 * (`voice.wordsPerMinute`, the rate espeak narrates at; cloud voices are near it).
 */
import { Either } from "effect"

export interface Length {
  readonly words: number
  /** The narration time the person asked for, when they asked in time. */
  readonly seconds: number | undefined
  /** As the person wrote it, normalised: "60 s", "150 words". */
  readonly label: string
}

export const defaultLength = "60s"

/** The longest script `write` asks for: 20 minutes of narration (a film, not a book). */
export const maxWords = 3_300

const units: ReadonlyArray<readonly [RegExp, "s" | "m" | "w"]> = [
  [/^s(ec(ond)?s?)?$/, "s"],
  [/^m(in(ute)?s?)?$/, "m"],
  [/^w(ords?)?$/, "w"]
]

export const parse = (text: string, wordsPerMinute: number): Either.Either<Length, string> => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = m ? units.find(([re]) => re.test(m[2]!.toLowerCase()))?.[1] : undefined
  if (!m || unit === undefined || Number(m[1]) <= 0)
    return Either.left(`--length "${text}" is not a length: write seconds (60s), minutes (2m) or words (150w)`)
  const n = Number(m[1])
  const seconds = unit === "s" ? n : unit === "m" ? n * 60 : undefined
  const words = Math.round(seconds === undefined ? n : (seconds * wordsPerMinute) / 60)
  if (words < 10) return Either.left(`--length "${text}" is under 10 words: ask for at least ${Math.ceil((10 * 60) / wordsPerMinute)}s or 10w`)
  if (words > maxWords)
    return Either.left(`--length "${text}" is over ${maxWords} words (20 minutes of narration): write a shorter film, or several`)
  const label = seconds === undefined ? `${words} words` : `${seconds % 60 === 0 && seconds >= 120 ? `${seconds / 60} min` : `${seconds} s`}`
  return Either.right({ words, seconds, label })
}

/** Words in a text, as a narrator counts them. */
export const countWords = (text: string): number => (text.match(/[\p{L}\p{N}][\p{L}\p{N}'’.-]*/gu) ?? []).length

/** How long `words` take to say at `wordsPerMinute`, in seconds. */
export const secondsOf = (words: number, wordsPerMinute: number): number => (words * 60) / wordsPerMinute
