/**
 * Properties of the split on random mixes of the tokens that make splitting hard (abbreviations, initials,
 * numbers, quotation marks, apostrophes, ellipses, list markers, other scripts), seeded so a failure replays:
 * the split never throws, never drops, adds or reorders a word, and never makes a piece over the limit. The only
 * characters it may add are quotation marks, to balance a quotation it cut.
 */
import { describe, expect, it } from "vitest"
import { split } from "../../src/text/Sentences.ts"
import { seeded } from "../random.ts"

const tokens = [
  "the", "river", "ran", "She", "He", "It", "The", "I", "said", "went", "home", "Mr.", "Dr.", "St.", "etc.", "U.S.",
  "a.m.", "p.m.", "E.", "J.", "No.", "5", "3.14", "$100.00", "2.0.1", "N°.", "1.", "2.", "a.", "b.", "1)", "•",
  "Yahoo!", "well...", "...", ". . .", "…", "[...]", "end.", "end!", "end?", "end?!", "\"Go.", "now.\"", "\"Stop!\"",
  "'This", "great.'", "“It’s", "over.”", "(see", "below.)", "don't", "dogs'", "'90s", "«", "»", "東京。", "はい！",
  "है।", "حالك؟", "https://example.com/a.b?c=1.", "jane.doe@example.org.", "—", ",", ";", ":", "\n", "\n\n"
]

const strip = (text: string) => text.replace(/["“”„‘’«»‹›'()[\]「」『』（）【】〈〉《》]/gu, "").replace(/\s+/gu, "")

describe("split: properties", () => {
  it("keeps every word in order, adds nothing but quotation marks, and keeps pieces within the limit", () => {
    const random = seeded(15)
    for (let round = 0; round < 400; round++) {
      const length = 1 + Math.floor(random() * 80)
      const text = Array.from({ length }, () => tokens[Math.floor(random() * tokens.length)]!).join(" ")
      const maxChars = random() < 0.3 ? 40 + Math.floor(random() * 60) : 400
      const pieces = split(text, { maxChars })
      for (const piece of pieces) {
        expect(piece.length).toBeLessThanOrEqual(maxChars)
        expect(piece).toBe(piece.trim())
      }
      // Pieces with nothing to say ("...", "—") are dropped; everything else comes out once, in order.
      const said = (s: string) => strip(s).replace(/[^\p{L}\p{N}]/gu, "")
      expect(said(pieces.join(" "))).toBe(said(text))
      expect(strip(pieces.join(" ")).length).toBeLessThanOrEqual(strip(text).length)
    }
  })
})
