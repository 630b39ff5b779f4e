import { describe, expect, it } from "vitest"
import { cameras, phrases, planShots, salientWords, subjectOf } from "../../../src/providers/local/ShotPlanner.ts"

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

  it("writes prompts a person can read: a panel line, the style and a continuity hint", () => {
    const shots = planShots(base)
    expect(shots[0]!.prompt).toMatch(/^(Wide|Aerial): the old lighthouse keeper climbed the spiral stairs/)
    for (const shot of shots) {
      expect(shot.prompt).toMatch(/^[A-Z][a-z -]+: \S/)
      expect(shot.prompt).toContain("Style: moody watercolor, muted blues.")
      expect(shot.prompt).toContain("Continuity:")
      expect(shot.prompt).toContain("Quinn")
      expect(shot.prompt).toMatch(/harbour|silent|morning/)
      expect(shot.prompt).not.toMatch(/undefined|NaN|\[object/)
    }
  })

  /** The panel line of a shot: what the draft card prints above the picture. */
  const panel = (prompt: string) => prompt.split(". Style:")[0]!.split(/\. (?=Continuity:)/)[0]!.replace(/\.$/, "")
  const phraseOf = (prompt: string) => panel(prompt).replace(/^[^:]+: /, "")

  it("labels each panel as a storyboard artist would: a framing and a short run of the sentence, not a keyword list", () => {
    const texts = [
      sentence,
      "The lighthouse keeper woke before dawn, as she had every day for forty years.",
      "She climbed the spiral stairs with a lantern in one hand and a cup of tea in the other.",
      "Out on the water, a small boat was drifting towards the rocks.",
      "She rang the bell, and the boat turned just in time."
    ]
    for (const text of texts) {
      for (const count of [1, 2, 3, 4]) {
        for (const shot of planShots({ text, previous: "The lighthouse keeper woke before dawn.", style, count })) {
          const line = panel(shot.prompt)
          expect(line.length, line).toBeLessThanOrEqual(90)
          // Not "rang, bell, boat and time": no list of bare words joined by commas.
          expect(line, line).not.toMatch(/^[^:]+: \p{L}+, \p{L}+, \p{L}+ and \p{L}+/u)
          // Its words are a run of the sentence's own words, in order (a named pronoun aside).
          const words = phraseOf(shot.prompt).replace(/^the lighthouse keeper /i, "").toLowerCase().replace(/[.,]/g, "")
          const spoken = ` ${text.toLowerCase().replace(/[.,]/g, "")} `
          expect(spoken, line).toContain(` ${words} `)
        }
      }
    }
  })

  it("names whom a leading pronoun means, from this sentence or the one before", () => {
    const [first] = planShots({ text: "She climbed the spiral stairs.", previous: "The lighthouse keeper woke before dawn.", style, count: 1 })
    expect(panel(first!.prompt)).toMatch(/: the lighthouse keeper climbed the spiral stairs$/)
    expect(subjectOf("Captain Mara Quinn lost her ship in the winter of 1921.")).toBe("Captain Mara Quinn")
    expect(subjectOf("Out on the water, a small boat was drifting.")).toBeUndefined()
    expect(subjectOf("Snow fell on the pines.")).toBeUndefined()
    expect(subjectOf("She rang the bell.")).toBeUndefined()
  })

  it("moves through the sentence: each shot says the part being spoken, in order; extra shots close in on a thing", () => {
    const shots = planShots(base)
    const said = shots.map((s) => phraseOf(s.prompt))
    expect(new Set(said).size).toBe(said.length)
    expect(said[0]).toContain("lighthouse")
    expect(said[said.length - 1]).toMatch(/boats raced home/)
    const positions = said.map((p) => sentence.toLowerCase().indexOf(p.toLowerCase()))
    expect(positions.every((p) => p >= 0)).toBe(true)
    expect([...positions].sort((a, b) => a - b)).toEqual(positions)
    // Six shots for a sentence of fewer phrases: the extra ones show a thing its phrase names.
    const six = planShots({ text: "She rang the bell, and the boat turned just in time.", style, count: 6 }).map((s) => phraseOf(s.prompt))
    expect(six.length).toBe(6)
    expect(six.some((p) => /^(the bell|the boat)$/.test(p))).toBe(true)
  })

  it("cuts a sentence into phrases at punctuation and at clause joints", () => {
    const cut = phrases(sentence).map((p) => p.map((t) => t.text).join(" "))
    expect(cut.join(" ")).toBe(sentence)
    expect(cut.length).toBeGreaterThanOrEqual(3)
    expect(cut.every((p) => p.split(" ").length <= 10)).toBe(true)
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
    expect(planShots({ text: "Yes.", style, count: 2 })[0]!.prompt).toMatch(/^\w[\w -]*: yes\./)
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
