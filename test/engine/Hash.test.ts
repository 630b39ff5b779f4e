/**
 * Fingerprints must never change with the code that writes them: a changed text for the same data would make
 * every stored result look stale and rebuild (re-pay) the film. The fast path of `stableStringify` (the
 * engine's JSON.stringify when the keys are already in order) must write exactly what the key-sorting writer
 * always wrote, whatever the data.
 */
import { describe, expect, it } from "vitest"
import { stableStringify } from "../../src/engine/Hash.ts"
import { seeded } from "../random.ts"

/** The writer fingerprints were made with until now, kept here as the reference. */
const reference = (value: unknown): string => {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`cannot fingerprint ${value}`)
    return JSON.stringify(value) ?? "null"
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : reference(v))).join(",")}]`
  const keys = Object.keys(value).sort()
  const parts: Array<string> = []
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k]
    if (v !== undefined) parts.push(JSON.stringify(k) + ":" + reference(v))
  }
  return `{${parts.join(",")}}`
}

const keyPool = ["a", "b", "B", "z", "0", "1", "2", "10", "01", "-1", "é", "\u0000", "key with space", "__proto__x", "length", "k\"q"]

const randomValue = (rand: () => number, depth: number): unknown => {
  const r = rand()
  if (depth > 4 || r < 0.35) {
    const pick = Math.floor(rand() * 9)
    return [null, true, false, 0, -0, 1.5e21, Math.floor(rand() * 1000) - 500, "text \"quoted\" \n \ud800 ünï", undefined][pick]
  }
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 5) }, () => randomValue(rand, depth + 1))
  const o: Record<string, unknown> = {}
  const n = Math.floor(rand() * 6)
  const keys = [...keyPool].sort(() => rand() - 0.5).slice(0, n)
  // Half the objects are written in sorted order (the fast path), half in any order.
  if (rand() < 0.5) keys.sort()
  for (const k of keys) o[k] = randomValue(rand, depth + 1)
  return o
}

describe("stableStringify", () => {
  it("writes exactly what the key-sorting writer wrote, for 20,000 random values", () => {
    const rand = seeded(14)
    for (let i = 0; i < 20_000; i++) {
      const v = randomValue(rand, 0)
      expect(stableStringify(v)).toBe(reference(v))
    }
  })

  it("orders integer-like keys as text, not as numbers, as before", () => {
    expect(stableStringify({ 2: "b", 10: "a", x: 1 })).toBe('{"10":"a","2":"b","x":1}')
  })

  it("still refuses numbers that are not finite, at any depth", () => {
    expect(() => stableStringify({ a: [1, { b: Number.NaN }] })).toThrow(/cannot fingerprint/)
    expect(() => stableStringify({ a: Infinity })).toThrow(/cannot fingerprint/)
  })

  it("treats what is not plain JSON as before (functions as null, a Date as an empty object)", () => {
    const odd = { f: () => 1, d: new Date(0), n: [() => 2] }
    expect(stableStringify(odd)).toBe(reference(odd))
    expect(stableStringify(undefined)).toBe("null")
  })
})
