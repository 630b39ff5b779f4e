/** Shot lists the fake LLM servers answer with: as many shots as the request pins (its schema's `minItems`,
 *  or "Write exactly N shots" in its text), each prompt drawn from the request's own words. */
import { cameraMoves } from "../../src/Shot.ts"

const framings = ["wide", "medium", "close-up", "extreme close-up"]

/** How many shots a request asks for. */
export const pinnedCount = (body: unknown): number => {
  const text = JSON.stringify(body ?? "")
  const min = /"shots":\{"type":"array","minItems":(\d+)/.exec(text)
  if (min) return Number(min[1])
  const words = /Write exactly (\d+) shot/.exec(text)
  return words ? Number(words[1]) : 3
}

/** The sentence a request is about (its "Sentence: ..." line). */
export const sentenceOf = (body: unknown): string => /Sentence: ([^"\\]*)/.exec(JSON.stringify(body ?? ""))?.[1] ?? "a scene"

export const shotList = (count: number, subject: string) => ({
  shots: Array.from({ length: count }, (_, i) => ({
    prompt: `Shot ${i + 1} of ${count}: ${subject}, cinematic still, soft light`,
    shotType: framings[i % framings.length]!,
    camera: cameraMoves[(i + subject.length) % cameraMoves.length]!
  }))
})

export const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4))
