/**
 * The English Golden Rules (fixtures/goldenRules.ts): one test per case, and the score with the cases missed,
 * printed for the record. The splitter storyshot used before (sbd plus rules, fixtures/LegacySentences.ts)
 * is scored too, so the figure says what the upgrade changed.
 */
import { describe, expect, it } from "vitest"
import { split } from "../../src/text/Sentences.ts"
import { goldenRules } from "./fixtures/goldenRules.ts"
import { legacySplit } from "./fixtures/LegacySentences.ts"

const same = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => JSON.stringify(a) === JSON.stringify(b)

describe("the English Golden Rules", () => {
  it("has the suite's 48 cases", () => {
    expect(goldenRules).toHaveLength(48)
  })

  goldenRules.forEach((rule, i) => {
    it(`${i + 1}. ${rule.text.slice(0, 80)}`, () => {
      expect(split(rule.text)).toEqual(rule.expected)
    })
  })

  it("scores at least 44 of 48 (the sbd-based splitter scored 28)", () => {
    const missed = goldenRules.flatMap((rule, i) => (same(split(rule.text), rule.expected) ? [] : [i + 1]))
    const legacy = goldenRules.filter((rule) => same(legacySplit(rule.text), rule.expected)).length
    const score = goldenRules.length - missed.length
    process.stdout.write(
      `English Golden Rules: ${score}/${goldenRules.length}${missed.length ? ` (missed: ${missed.join(", ")})` : ""}; the old splitter: ${legacy}/${goldenRules.length}\n`
    )
    expect(legacy).toBe(28)
    expect(score).toBeGreaterThanOrEqual(44)
  })
})
