import { describe, expect, it } from "vitest"
import { shotCount, shotDurations, shotFrames } from "../../targets/shotRule.ts"
import { seeded } from "../random.ts"

const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)


describe("shot rule: a shot every 2 s, the last one takes the remainder", () => {
  it.each([
    [0.4, [0.4]],
    [1.99, [1.99]],
    [2.0, [2]],
    [3.99, [3.99]],
    [4.0, [2, 2]],
    [5.5, [2, 3.5]],
    [60, Array.from({ length: 30 }, () => 2)]
  ])("a %f s sentence is cut into %j", (d, expected) => {
    expect(shotCount(d)).toBe(expected.length)
    expect(shotDurations(d)).toEqual(expected)
  })

  it("forgives float noise just under a whole shot, but not a visible shortfall", () => {
    expect(shotCount(3.9999999)).toBe(1)
    expect(shotCount(4.0)).toBe(2)
    expect(shotCount(5.999999999)).toBe(3)
    expect(shotCount(0.1 + 0.2 + 3.7)).toBe(2) // 4.000000000000001 or 3.9999999999999996, both 2 shots
    expect(shotCount(0.7 * 3 + 1.9)).toBe(2)
  })

  it("honours another shot length", () => {
    expect(shotDurations(7, 3)).toEqual([3, 4])
    expect(shotDurations(2.5, 3)).toEqual([2.5])
  })

  it("rejects nonsense durations instead of planning a film from them", () => {
    expect(() => shotCount(Number.NaN)).toThrow(RangeError)
    expect(() => shotCount(-1)).toThrow(/duration/)
    expect(() => shotCount(4, 0)).toThrow(/shot length/)
    expect(() => shotFrames(4, 0)).toThrow(/frame rate/)
  })

  it("property: over 5,000 durations the count, the last shot and the sums hold", () => {
    const random = seeded(20240601)
    const wrong: Array<string> = []
    for (let n = 0; n < 5000; n++) {
      const d = Math.round(random() * 120 * 1e6) / 1e6 // ffprobe reports microseconds
      const durations = shotDurations(d)
      const last = durations[durations.length - 1]!
      const ok =
        shotCount(d) === Math.max(1, Math.floor(d / 2)) &&
        durations.length === shotCount(d) &&
        sum(durations) === d &&
        durations.slice(0, -1).every((x) => x === 2) &&
        (d < 2 ? last === d : last >= 2 && last < 4)
      if (!ok) wrong.push(`${d} -> ${JSON.stringify(durations)}`)
    }
    expect(wrong).toEqual([])
  })
})

describe("shot frames: whole frames without drift", () => {
  it.each([
    [0.4, 30, [12]],
    [4.0, 30, [60, 60]],
    [5.5, 24, [48, 84]],
    [5.5, 25, [50, 88]],
    [6.1, 29.97, [60, 60, 63]] // cuts at round(59.94)=60, round(119.88)=120, end round(182.817)=183
  ])("%f s at %f fps is %j frames", (d, fps, expected) => {
    expect(shotFrames(d, fps)).toEqual(expected)
  })

  it("gives a sentence shorter than a frame one frame, not an empty clip", () => {
    expect(shotFrames(0.01, 30)).toEqual([1])
  })

  it("property: frames sum to round(d * fps), each shot has a frame, and cuts sit on the 2 s grid", () => {
    const random = seeded(7)
    const wrong: Array<string> = []
    for (const fps of [24, 25, 29.97, 30, 50, 59.94, 60]) {
      for (let n = 0; n < 1000; n++) {
        const d = 0.05 + random() * 90
        const frames = shotFrames(d, fps)
        const cuts = frames.slice(0, -1).map((_, i) => sum(frames.slice(0, i + 1)))
        const ok =
          frames.length === shotCount(d) &&
          sum(frames) === Math.max(1, Math.round(d * fps)) &&
          frames.every((f) => f >= 1) &&
          cuts.every((at, i) => at === Math.round((i + 1) * 2 * fps))
        if (!ok) wrong.push(`${d} s at ${fps} fps -> ${JSON.stringify(frames)}`)
      }
    }
    expect(wrong).toEqual([])
  })
})
