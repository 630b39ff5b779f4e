import { describe, expect, it } from "vitest"
import { cameras, planShots, salientWords } from "../../../src/providers/local/ShotPlanner.ts"

const sentence =
  "The old lighthouse keeper climbed the spiral stairs at dusk while the storm rolled in over the harbour and the fishing boats raced home."
const previous = "Captain Mara Quinn lost her ship in the winter of 1921."
const next = "By morning the harbour was silent."
const style = "moody watercolor, muted blues"

const base = { text: sentence, previous, next, style, count: 4 }

describe("ShotPlanner (draft profile)", () => {
  it("plans exactly the number of shots the shot rule asked for", () => {
    for (const count of [1, 2, 3, 7, 30]) expect(planShots({ ...base, count })).toHaveLength(count)
  })

  it("is deterministic: the same sentence gives the same storyboard, whatever its case or spacing", () => {
    expect(planShots(base)).toEqual(planShots(base))
    const retyped = planShots({ ...base, text: sentence.toUpperCase().replace(/ /g, "  ") })
    expect(retyped.map((s) => [s.shotType, s.camera])).toEqual(planShots(base).map((s) => [s.shotType, s.camera]))
  })

  it("starts with an establishing shot, then varies the framing without repeating it back to back", () => {
    for (const text of [sentence, previous, next, "Yes.", "She opened the letter and began to cry."]) {
      const shots = planShots({ text, style, count: 12 })
      expect(["wide", "aerial"]).toContain(shots[0]!.shotType)
      expect(new Set(shots.map((s) => s.shotType)).size).toBeGreaterThanOrEqual(5)
      shots.slice(1).forEach((shot, i) => expect(shot.shotType).not.toBe(shots[i]!.shotType))
    }
  })

  it("never uses the same camera move twice in a row, and only known moves", () => {
    for (let n = 0; n < 200; n++) {
      const shots = planShots({ text: `Sentence number ${n} about a red kite over the dunes.`, style, count: 6 })
      shots.forEach((shot) => expect(cameras).toContain(shot.camera))
      shots.slice(1).forEach((shot, i) => expect(shot.camera).not.toBe(shots[i]!.camera))
    }
  })

  it("writes prompts a person can read: framing, the sentence's subject, the style and a continuity hint", () => {
    const shots = planShots(base)
    expect(shots[0]!.prompt).toMatch(/^(Wide establishing shot|High aerial view)/)
    expect(shots[0]!.prompt).toContain("lighthouse")
    for (const shot of shots) {
      expect(shot.prompt).toContain("Style: moody watercolor, muted blues.")
      expect(shot.prompt).toContain("Continuity:")
      expect(shot.prompt).toContain("Quinn")
      expect(shot.prompt).toMatch(/harbour|silent|morning/)
      expect(shot.prompt).not.toMatch(/undefined|NaN|\[object/)
    }
  })

  it("moves through the sentence: later shots focus on different parts of it, in spoken order", () => {
    const shots = planShots(base)
    const subjects = shots.slice(1).map((s) => s.prompt.split(". Style:")[0]!)
    expect(new Set(subjects).size).toBe(subjects.length)
    expect(subjects[0]).toContain("lighthouse")
    expect(subjects[subjects.length - 1]).toMatch(/boats/)
  })

  it("keeps an edit to a neighbour local: only the continuity hint changes", () => {
    const before = planShots(base)
    const after = planShots({ ...base, previous: "Nobody remembered the old war." })
    expect(after.map((s) => [s.shotType, s.camera])).toEqual(before.map((s) => [s.shotType, s.camera]))
    after.forEach((shot, i) => {
      const strip = (p: string) => p.split(" Continuity:")[0]
      expect(strip(shot.prompt)).toBe(strip(before[i]!.prompt))
      expect(shot.prompt).not.toBe(before[i]!.prompt)
    })
  })

  it("leaves out what it is not given: no style, no neighbours", () => {
    const [shot] = planShots({ text: "The kettle whistled.", style: "", count: 1 })
    expect(shot!.prompt).toContain("kettle")
    expect(shot!.prompt).not.toContain("Style:")
    expect(shot!.prompt).not.toContain("Continuity:")
  })

  it("handles sentences without content words, other scripts and emoji", () => {
    expect(planShots({ text: "Yes.", style, count: 2 })[0]!.prompt).toContain("“Yes”")
    const japanese = planShots({ text: "今日は東京タワーへ行きます。", style: "anime", count: 2 })
    expect(japanese[0]!.prompt).toContain("東京タワー")
    const emoji = planShots({ text: "We won the cup 🏆!", style, count: 1 })
    expect(emoji[0]!.prompt).toContain("cup")
  })

  it("rejects a shot count that is not a whole number >= 1", () => {
    expect(() => planShots({ ...base, count: 0 })).toThrow(RangeError)
  })
})

describe("salientWords", () => {
  it("keeps the content words in spoken order, without stop words or repeats", () => {
    expect(salientWords("The cat and the other cat sat on the warm mat.")).toEqual(["cat", "sat", "warm", "mat"])
  })
})
