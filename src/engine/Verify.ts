/**
 * A read-only check of a store: every record parses and sits under its own fingerprint, every object a
 * record (or an older take) points at exists with the recorded size and hashes to its name, every object
 * file hashes to its name (a partial object would not), and the graph state parses. Nothing is changed,
 * not even a damaged record set aside (the next build does that, with a warning).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { hashFile, hashJson } from "./Hash.ts"
import { processAlive, tempOwner, type NodeRecord } from "./Store.ts"

export interface Report {
  readonly records: number
  readonly objects: number
  readonly bytes: number
  /** Things that are wrong: a build would rebuild (and maybe pay for) what they concern. */
  readonly problems: ReadonlyArray<string>
  /** Things worth knowing that are not wrong (requests to re-attach, leftovers of a crash). */
  readonly notes: ReadonlyArray<string>
}

const listFiles = (dir: string): Array<string> => {
  if (!fs.existsSync(dir)) return []
  const out: Array<string> = []
  for (const shard of fs.readdirSync(dir)) {
    const p = path.join(dir, shard)
    if (fs.statSync(p).isDirectory()) for (const f of fs.readdirSync(p)) out.push(path.join(p, f))
    else out.push(p)
  }
  return out
}

/** What is left in `tmp/`, and what happens to it: by whether the process that made it still runs. */
const tempNotes = (dir: string): ReadonlyArray<string> => {
  let names: Array<string> = []
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  const dead = new Set<number>()
  const alive = new Set<number>()
  let ofDead = 0
  let ofAlive = 0
  let unowned = 0
  for (const name of names) {
    const pid = tempOwner(name)
    if (pid === undefined) unowned++
    else if (processAlive(pid)) {
      ofAlive++
      alive.add(pid)
    } else {
      ofDead++
      dead.add(pid)
    }
  }
  const pids = (s: Set<number>) => [...s].slice(0, 3).join(", ") + (s.size > 3 ? ", ..." : "")
  const notes: Array<string> = []
  if (ofDead)
    notes.push(`${ofDead} temp file(s) in tmp/ left by a build that was stopped or crashed (process ${pids(dead)}, no longer running): the next build removes them`)
  if (ofAlive) notes.push(`${ofAlive} temp file(s) in tmp/ belong to a running storyshot (process ${pids(alive)}): it removes them when it ends`)
  if (unowned) notes.push(`${unowned} temp file(s) in tmp/ from an older storyshot: the next build removes those older than a day`)
  return notes
}

export const verify = (root: string): Effect.Effect<Report> =>
  Effect.gen(function* () {
    const problems: Array<string> = []
    const notes: Array<string> = []
    const rel = (p: string) => path.relative(root, p)
    const objectsDir = path.join(root, "objects")
    const objectPath = (hash: string, ext: string) => path.join(objectsDir, hash.slice(0, 2), ext ? `${hash}.${ext}` : hash)

    // Objects: each file's content hashes to its name.
    const objectHashes = new Map<string, number>()
    let bytes = 0
    for (const file of listFiles(objectsDir)) {
      const name = path.basename(file)
      const expected = name.split(".")[0]!
      const got = yield* Effect.either(hashFile(file))
      if (got._tag === "Left") {
        problems.push(`object ${rel(file)} cannot be read: ${got.left.message}`)
        continue
      }
      bytes += got.right.size
      if (got.right.hash !== expected) problems.push(`object ${rel(file)} is damaged: its content hashes to ${got.right.hash.slice(0, 12)}`)
      else objectHashes.set(file, got.right.size)
    }

    // Records: parse, name, outputs present and right.
    const recordFiles = listFiles(path.join(root, "records"))
    let records = 0
    for (const file of recordFiles) {
      if (file.endsWith(".damaged")) {
        notes.push(`${rel(file)} was set aside as damaged by an earlier build (its node was rebuilt); it can be deleted`)
        continue
      }
      if (!file.endsWith(".json")) continue
      let r: NodeRecord
      try {
        r = JSON.parse(fs.readFileSync(file, "utf8")) as NodeRecord
        if (typeof r.fingerprint !== "string" || typeof r.outputs !== "object" || r.outputs === null || typeof r.hash !== "string")
          throw new Error("fields missing")
      } catch (e) {
        problems.push(`record ${rel(file)} does not parse (${(e as Error).message})`)
        continue
      }
      records++
      if (path.basename(file) !== `${r.fingerprint}.json`) problems.push(`record ${rel(file)} holds fingerprint ${r.fingerprint.slice(0, 12)}, not its file name's`)
      const takes = [{ outputs: r.outputs, hash: r.hash, label: "" }, ...(r.takes ?? []).map((t, i) => ({ ...t, label: ` (take ${i + 1})` }))]
      for (const take of takes) {
        const combined = hashJson(Object.fromEntries(Object.entries(take.outputs).map(([k, o]) => [k, o.hash])))
        if (combined !== take.hash) problems.push(`record ${r.id}${take.label}: its hash does not match its outputs`)
        for (const [name, o] of Object.entries(take.outputs)) {
          if (o.value !== undefined || o.ext === undefined) {
            if (o.value !== undefined && hashJson(o.value) !== o.hash) problems.push(`record ${r.id}${take.label}: value "${name}" does not match its hash`)
            continue
          }
          const p = objectPath(o.hash, o.ext)
          if (!fs.existsSync(p)) problems.push(`record ${r.id}${take.label}: "${name}" points at a missing object ${rel(p)}`)
          else if (!objectHashes.has(p)) problems.push(`record ${r.id}${take.label}: "${name}" points at a damaged object ${rel(p)}`)
          else if (o.size !== undefined && objectHashes.get(p) !== o.size)
            problems.push(`record ${r.id}${take.label}: "${name}" is ${objectHashes.get(p)} bytes, the record says ${o.size}`)
        }
      }
    }

    // The graph state: state.json must parse; a torn last journal line is what a crash leaves (harmless).
    const statePath = path.join(root, "state.json")
    if (fs.existsSync(statePath)) {
      try {
        JSON.parse(fs.readFileSync(statePath, "utf8"))
      } catch {
        problems.push("state.json does not parse (the next build rebuilds the graph from the records)")
      }
    }
    const journalPath = path.join(root, "journal.jsonl")
    if (fs.existsSync(journalPath)) {
      const lines = fs.readFileSync(journalPath, "utf8").split("\n").filter((l) => l.trim())
      const torn = lines.filter((l) => {
        try {
          JSON.parse(l)
          return false
        } catch {
          return true
        }
      }).length
      notes.push(`journal.jsonl holds ${lines.length} node(s) from an unfinished build${torn ? ` (${torn} torn line(s), ignored)` : ""}`)
    }
    const inflight = listFiles(path.join(root, "inflight")).filter((f) => f.endsWith(".json"))
    const recorded = inflight.filter((f) => fs.existsSync(path.join(root, "records", path.basename(f).slice(0, 2), path.basename(f))))
    if (inflight.length > recorded.length)
      notes.push(`${inflight.length - recorded.length} paid request(s) in flight: the next build re-attaches to them instead of paying again`)
    if (recorded.length)
      notes.push(`${recorded.length} in-flight entr${recorded.length === 1 ? "y" : "ies"} whose result is already recorded (a build stopped between the two): the next build clears ${recorded.length === 1 ? "it" : "them"}`)
    notes.push(...tempNotes(path.join(root, "tmp")))
    return { records, objects: objectHashes.size, bytes, problems, notes }
  })
