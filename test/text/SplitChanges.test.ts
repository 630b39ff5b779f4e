import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Cost from "../../src/engine/Cost.ts"
import { compare, describe as lines, owners, previousSplit, price } from "../../src/text/SplitChanges.ts"

describe("SplitChanges.compare", () => {
  it("finds nothing when every sentence keeps its key, whatever its case, spacing or place", () => {
    expect(compare(["One.", "Two.", "Three."], ["one.", "Two.", "  THREE. "])).toEqual([])
    expect(compare(["One.", "Two.", "Three."], ["Three.", "One.", "Two."])).toEqual([])
  })

  it("tells a new cut of the same words from an edit", () => {
    const before = ["I live in the U.S.", "Government jobs pay well.", "She left.", "He stayed.", "The end."]
    const after = ["I live in the U.S. Government jobs pay well.", "She left.", "He stayed on.", "The end."]
    expect(compare(before, after)).toEqual([
      { kind: "split", sentences: [1], text: [after[0]], before: before.slice(0, 2) },
      { kind: "edited", sentences: [3], text: ["He stayed on."], before: ["He stayed."] }
    ])
  })

  it("counts a cut quotation that got its marks back as a new cut, not an edit", () => {
    const before = ['It said: "Take care of them. I couldn\'t. Goodbye."']
    const after = ['It said: "Take care of them."', '"I couldn\'t."', '"Goodbye."']
    expect(compare(before, after)).toEqual([{ kind: "split", sentences: [1, 2, 3], text: after, before }])
  })

  it("calls a sentence that was not there before new", () => {
    expect(compare(["One.", "Two."], ["One.", "One and a half.", "Two."])).toEqual([
      { kind: "edited", sentences: [2], text: ["One and a half."], before: [] }
    ])
  })
})

describe("SplitChanges: pricing and printing", () => {
  it("prices each change by the nodes of its sentences, shots included, and prints them", () => {
    const edges = (id: string) => (id === "sentence:2:mux" ? ["sentence:2:audio", "shot:3:video"] : [])
    const owner = owners(3, edges)
    expect(owner("sentence:2:prompts")).toBe(2)
    expect(owner("shot:3:image")).toBe(2)
    expect(owner("final")).toBeUndefined()
    const changes = compare(["A b.", "C d.", "E."], ["A b.", "C d. E."])
    const priced = price(
      changes,
      [
        { id: "sentence:2:audio", estimate: Cost.fromTable(0.01) },
        { id: "shot:3:image", estimate: Cost.fromTable(0.04) },
        { id: "shot:3:video", estimate: Cost.unknown },
        { id: "final", estimate: Cost.free }
      ],
      owner
    )
    expect(priced[0]!.estimate).toEqual({ usd: 0.05, known: false })
    const printed = lines(priced).join("\n")
    expect(printed).toContain("Split changed since the last build (the same words, cut differently): 1 sentence to build")
    expect(printed).toContain("2  “C d. E.”")
    expect(printed).toContain("was 2 sentences: “C d.” + “E.”")
  })

  it("reads the last build's sentences from its manifest, and nothing from a store without one", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-split-"))
    expect(previousSplit(dir)).toBeUndefined()
    fs.writeFileSync(path.join(dir, "story.json"), JSON.stringify({ sentences: [{ n: 1, text: "One." }, { n: 2, text: "Two." }] }))
    expect(previousSplit(dir)).toEqual(["One.", "Two."])
    fs.writeFileSync(path.join(dir, "story.json"), "{ torn")
    expect(previousSplit(dir)).toBeUndefined()
  })
})
