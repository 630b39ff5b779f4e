import { describe, expect, it } from "vitest"
import * as Font from "../../src/media/Font.ts"
import { wrapText } from "../../src/media/Text.ts"

describe("wrapText", () => {
  it("wraps by columns, breaks long words, and ends cut text with an ellipsis", () => {
    const lines = wrapText("the quick brown fox jumps over the lazy dog", 10, 10)
    expect(lines).toEqual(["the quick", "brown fox", "jumps over", "the lazy", "dog"])
    expect(wrapText("abcdefghijklmnop", 5, 10)).toEqual(["abcde", "fghij", "klmno", "p"])
    const cut = wrapText("one two three four five six seven eight", 9, 2)
    expect(cut).toHaveLength(2)
    expect(cut[1]!.endsWith("…")).toBe(true)
  })

  it("counts CJK as double width and never splits an emoji", () => {
    expect(wrapText("日本語のテキストです", 6, 10)).toEqual(["日本語", "のテキ", "ストで", "す"])
    const family = "👨‍👩‍👧"
    expect(wrapText(`${family}${family}${family}`, 2, 10)).toEqual([family, family, family])
  })

  it("wraps by the card font's real widths: a line of W's holds fewer letters than a line of i's", () => {
    const measure = (text: string) => Font.advance(text, 20)
    const ws = wrapText("WWWW ".repeat(20), 200, 99, measure)
    const is = wrapText("iiii ".repeat(20), 200, 99, measure)
    expect(ws.length).toBeGreaterThan(is.length)
    for (const line of [...ws, ...is]) expect(measure(line)).toBeLessThanOrEqual(200)
  })
})

describe("Font", () => {
  it("reads DejaVu Sans' advance widths from the TTF: W is wider than i, a missing glyph is the .notdef box", () => {
    const m = Font.metrics()
    expect(m.unitsPerEm).toBe(2048)
    expect(m.advanceOf("W".codePointAt(0)!)).toBeGreaterThan(m.advanceOf("i".codePointAt(0)!))
    expect(m.advanceOf("日".codePointAt(0)!)).toBe(m.advanceOf(0x10ffff))
    expect(Font.lineHeight(20)).toBeGreaterThan(20)
  })
})
