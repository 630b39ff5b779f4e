/**
 * What a new split changes for a paying user: which sentences of this transcript are not among the ones the
 * last build paid for, and why — the same words cut differently (a new splitter, or the writer's `|` and `~`)
 * or words that were edited. `build --dry-run` prints it with what those sentences would cost.
 *
 * A sentence's paid work is keyed by its normalized text, not by its place, so a sentence that splits the same
 * way keeps everything it paid for wherever it moves; only sentences whose key is new are paid again. Such
 * sentences come in runs between sentences that kept their key; each run is compared with what stood between
 * the same neighbours last time: if the words are the same (case, spacing and quotation marks aside, since a cut
 * quotation gets its marks back), the split changed; otherwise the text did.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Cost from "../engine/Cost.ts"
import { normalize } from "./Sentences.ts"

export interface Change {
  /** "split": the same words cut differently; "edited": new or changed words. */
  readonly kind: "split" | "edited"
  /** The numbers (from 1) of this build's sentences in the change. */
  readonly sentences: ReadonlyArray<number>
  readonly text: ReadonlyArray<string>
  /** What stood in their place in the last build. */
  readonly before: ReadonlyArray<string>
}

export interface PricedChange extends Change {
  /** What building these sentences would cost (nothing already in the store is counted). */
  readonly estimate: Cost.Total
}

/** The sentences of the last build, from its manifest (`.storyshot/story.json`); undefined before any build. */
export const previousSplit = (storeDir: string): ReadonlyArray<string> | undefined => {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(storeDir, "story.json"), "utf8")) as {
      sentences?: ReadonlyArray<{ text?: unknown }>
    }
    if (!Array.isArray(manifest.sentences)) return undefined
    const texts = manifest.sentences.map((s) => s.text)
    return texts.every((t): t is string => typeof t === "string") ? texts : undefined
  } catch {
    return undefined
  }
}

const words = (texts: ReadonlyArray<string>) =>
  normalize(texts.join(" ")).replace(/[\s"'“”„‘’«»‹›「」『』()[\]（）]/gu, "")

/** The changes from the last build's sentences `before` to this build's `after`. */
export const compare = (before: ReadonlyArray<string>, after: ReadonlyArray<string>): Array<Change> => {
  const oldKeys = before.map(normalize)
  const newKeys = after.map(normalize)
  const kept = new Set(oldKeys)
  const stays = new Set(newKeys)
  const positions = new Map<string, Array<number>>()
  oldKeys.forEach((key, i) => positions.set(key, [...(positions.get(key) ?? []), i]))
  /** Where `key` stands in the old list at or after `from` (or -1). */
  const find = (key: string, from: number) => positions.get(key)?.find((i) => i >= from) ?? -1

  const changes: Array<Change> = []
  let oldAt = 0
  let i = 0
  while (i < after.length) {
    if (kept.has(newKeys[i]!)) {
      const found = find(newKeys[i]!, oldAt)
      if (found >= 0) oldAt = found + 1
      i++
      continue
    }
    let j = i
    while (j < after.length && !kept.has(newKeys[j]!)) j++
    // What stood between the same neighbours: up to where the next kept sentence stood.
    let next = -1
    for (let k = j; k < after.length && next < 0; k++) next = find(newKeys[k]!, oldAt)
    const end = next < 0 ? before.length : next
    const was = before.slice(oldAt, end).filter((_, k) => !stays.has(oldKeys[oldAt + k]!))
    const text = after.slice(i, j)
    changes.push({
      kind: was.length > 0 && words(was) === words(text) ? "split" : "edited",
      sentences: Array.from({ length: j - i }, (_, k) => i + k + 1),
      text,
      before: was
    })
    oldAt = end
    i = j
  }
  return changes
}

/**
 * Which sentence each node belongs to, from a build's graph: `sentence:N:*` by its id, a shot by the sentence
 * whose mux reads it.
 */
export const owners = (sentences: number, edges: (id: string) => ReadonlyArray<string>): ((id: string) => number | undefined) => {
  const shots = new Map<string, number>()
  for (let n = 1; n <= sentences; n++)
    for (const dep of edges(`sentence:${n}:mux`)) {
      const k = /^shot:(\d+):/u.exec(dep)?.[1]
      if (k !== undefined) shots.set(k, n)
    }
  return (id) => {
    const n = /^sentence:(\d+):/u.exec(id)?.[1]
    if (n !== undefined) return Number(n)
    const k = /^shot:(\d+):/u.exec(id)?.[1]
    return k === undefined ? undefined : shots.get(k)
  }
}

/** Each change with the estimate of the nodes of its sentences that would be built. */
export const price = (
  changes: ReadonlyArray<Change>,
  wouldBuild: ReadonlyArray<{ readonly id: string; readonly estimate: Cost.Cost }>,
  owner: (id: string) => number | undefined
): Array<PricedChange> => {
  const bySentence = new Map<number, Array<Cost.Cost>>()
  for (const node of wouldBuild) {
    const n = owner(node.id)
    if (n !== undefined) bySentence.set(n, [...(bySentence.get(n) ?? []), node.estimate])
  }
  return changes.map((change) => ({
    ...change,
    estimate: Cost.sum(change.sentences.flatMap((n) => bySentence.get(n) ?? []))
  }))
}

const quote = (text: string, max = 70) => `“${text.length > max ? `${text.slice(0, max - 1)}…` : text}”`
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** The lines `build --dry-run` prints: the sentences whose split changed (then the edited ones), with costs. */
export const describe = (changes: ReadonlyArray<PricedChange>): Array<string> => {
  const lines: Array<string> = []
  for (const kind of ["split", "edited"] as const) {
    const of = changes.filter((c) => c.kind === kind)
    if (of.length === 0) continue
    const count = of.reduce((a, c) => a + c.sentences.length, 0)
    const total = Cost.sum(of.map((c) => c.estimate))
    lines.push(
      kind === "split"
        ? `Split changed since the last build (the same words, cut differently): ${plural(count, "sentence")} to build, estimated ${Cost.format(total)}`
        : `New or edited since the last build: ${plural(count, "sentence")} to build, estimated ${Cost.format(total)}`
    )
    for (const change of of) {
      change.sentences.forEach((n, k) => {
        const cost = k === 0 ? `  ${Cost.format(change.estimate)}` : ""
        lines.push(`  ${String(n).padStart(4)}  ${quote(change.text[k]!)}${cost}`)
      })
      if (change.before.length > 0)
        lines.push(`        was ${plural(change.before.length, "sentence")}: ${change.before.map((t) => quote(t, 40)).join(" + ")}`)
    }
  }
  return lines
}
