/**
 * The draft profile's first story bible: deterministic, offline, from the names in the text.
 *
 * A name is a run of capitalised words (up to three) that is not just a sentence's first word: "Mara", "Old Tom",
 * "Port Ellen". A word that opens a sentence counts only when the text also capitalises it elsewhere ("Snow fell"
 * is not a name unless "Snow" is capitalised mid-sentence too). A name after "in", "at", "to", "from", ... or
 * ending in a place word ("Harbour", "Street", "Island") is a place; the others are characters. A character's
 * role is the phrase the text puts beside the name ("Mara, the old keeper, ..." → "the old keeper"); looks and
 * wardrobe are left for the person to write (the draft sheets and cards show names and colours only).
 */
import type { Bible, Character, Place } from "./Bible.ts"
import { colourOf, placeColourOf } from "./Bible.ts"

const notNames = new Set(
  ("I A An The And But Or So Yet For Nor Of In On At To From By With Into Onto Over Under After Before Then There Here " +
    "This That These Those It Its He She They We You His Her Their Our My Your What Which Who When Where Why How All " +
    "Some Every Each No Not One Two Three Mr Mrs Ms Dr Sir Lady Lord Oh Yes Now Once Far Soon Later Still Just Only " +
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August " +
    "September October November December God")
    .split(" ")
)

const placeBefore = new Set(["in", "at", "to", "from", "into", "near", "across", "towards", "toward", "through", "over", "under", "beyond", "inside", "outside", "past", "around", "above", "below", "along"])
const placeWords = /(?:^|\s)(Harbour|Harbor|Street|Road|Lane|Bay|Island|Isle|Hill|Hills|Castle|Tower|River|Lake|Forest|Wood|Woods|Mountain|Mountains|Valley|Village|Town|City|Station|Bridge|Point|Cove|Sea|Ocean|Park|Square|Hall|House|Church|Abbey|Market|Lighthouse|Coast)$/

interface Seen {
  name: string
  count: number
  first: number
  place: number
  role: string | undefined
}

const wordsOf = (sentence: string) => [...sentence.matchAll(/[\p{L}\p{N}'’-]+|[,;:.!?"“”()]/gu)].map((m) => m[0])

const capitalised = (w: string) => /^\p{Lu}/u.test(w) && !/^\p{Lu}+$/u.test(w.length > 1 ? w : "ab")

/** The draft bible of a transcript's sentences; `style` is the config's style note. */
export const fromText = (sentences: ReadonlyArray<string>, style: string): Bible => {
  const midCaps = new Set<string>()
  const lower = new Set<string>()
  const starts = new Map<string, number>()
  for (const s of sentences)
    wordsOf(s).forEach((w, i) => {
      if (!capitalised(w)) lower.add(w.toLowerCase())
      else if (i > 0) midCaps.add(w)
      else starts.set(w, (starts.get(w) ?? 0) + 1)
    })
  // A sentence's first word is a name when the text capitalises it mid-sentence too, or when it never writes
  // it in lower case and either opens two sentences ("Mara climbed...", "Mara lit...") or leads into a name
  // ("Old Tom waited").
  const opensName = (ws: ReadonlyArray<string>): boolean => {
    const w = ws[0]!
    if (midCaps.has(w)) return true
    if (lower.has(w.toLowerCase())) return false
    const next = ws[1]
    return (starts.get(w) ?? 0) >= 2 || (next !== undefined && capitalised(next) && !notNames.has(next))
  }
  const found = new Map<string, Seen>()
  let order = 0
  for (const s of sentences) {
    const ws = wordsOf(s)
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i]!
      if (!capitalised(w) || notNames.has(w) || (i === 0 && !opensName(ws))) continue
      const run = [w]
      while (run.length < 3 && i + run.length < ws.length && capitalised(ws[i + run.length]!) && !notNames.has(ws[i + run.length]!)) run.push(ws[i + run.length]!)
      const name = run.join(" ").replace(/['’]s$/u, "")
      const before = (ws[i - 1] ?? "").toLowerCase()
      // "Mara, the old keeper," → the role.
      let role: string | undefined
      const after = ws.slice(i + run.length)
      if (after[0] === "," && /^(the|a|an|his|her|their|our)$/i.test(after[1] ?? "")) {
        const end = after.findIndex((t, k) => k > 1 && /^[,;:.!?]$/.test(t))
        if (end > 2 && end <= 8) role = after.slice(1, end).join(" ")
      }
      const seen = found.get(name) ?? { name, count: 0, first: order++, place: 0, role: undefined }
      seen.count++
      if (placeBefore.has(before) || placeWords.test(name)) seen.place++
      seen.role ??= role
      found.set(name, seen)
      i += run.length - 1
    }
  }
  // "Tom" inside "Old Tom" is the same person: the longer name wins, the shorter becomes an alias.
  const all = [...found.values()].sort((a, b) => a.first - b.first)
  const aliasesOf = new Map<string, Array<string>>()
  const kept = all.filter((e) => {
    const longer = all.find((o) => o !== e && o.name.split(" ").length > e.name.split(" ").length && o.name.split(" ").includes(e.name))
    if (longer) aliasesOf.set(longer.name, [...(aliasesOf.get(longer.name) ?? []), e.name])
    return longer === undefined
  })
  const cast: Array<Character> = []
  const places: Array<Place> = []
  for (const e of kept) {
    const aliases = aliasesOf.get(e.name) ?? []
    if (e.place * 2 >= e.count && e.place > 0) places.push({ name: e.name, look: "", aliases, colour: placeColourOf(e.name) })
    else cast.push({ name: e.name, role: e.role ?? "", look: "", wardrobe: "", aliases, colour: colourOf(e.name) })
  }
  return { version: 1, style: { medium: style, palette: "", lens: "", era: "" }, cast, places }
}
