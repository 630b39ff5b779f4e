/**
 * Pinned shot edits, refinements and approvals: `storyshot.shots.json` in the workspace, a file the user owns
 * (an input, like the transcript), never rewritten by a build. `storyshot refine` and `storyshot approve` write
 * it, and so does the studio (`storyshot serve`: a pinned prompt, an approval) through the same functions; a
 * person may edit it by hand. Every build reads it, from the command line or the server alike: the plan
 * (`sentence:N:plan`, targets/plan.ts) applies it, so a pin changes that shot's still and nothing is re-planned.
 *
 *   { "version": 1, "shots": [
 *     { "sentence": "the keeper climbed the stairs.", "shot": 2,
 *       "prompt": "a lantern on a spiral stair, seen from below, dusk light",   ← a pinned field (hand or refine)
 *       "feedback": ["closer, dusk light"],                                     ← what refinements asked, in order
 *       "refine": "warmer",                                                     ← asked, not refined yet
 *       "approved": true, "frozen": { "prompt": "...", "shotType": "...", "camera": "push-in", "motion": "...",
 *                                    "transition": "cut", "cast": ["Mara"], "place": "the lighthouse" } } ] }
 *
 * A shot is named by its sentence's normalized text and its place in that sentence (the `shot`-th), never by its
 * film-wide number K: inserting a sentence renumbers shots, and a pin stays on the shot it was made for. A
 * spelling fix in the sentence keeps its pins too: an entry whose sentence is in no line of the transcript is
 * matched to the one sentence that differs from it by a few letters (and none other does), as a person reads it.
 *
 * What each field does (`sentence:N:plan` applies them; see targets/plan.ts):
 * - pinned fields (`prompt`, `shotType`, `camera`, `motion`, `transition`, `cast`, `place`) replace the writer's:
 *   only that shot's image and clip (and its sentence's mux) follow; nothing is re-planned.
 * - `refine` asks the prompt writer to rewrite the shot with that feedback: one paid call, made by the next
 *   build of the plan (`storyshot refine` runs it at once and writes the answer back as pinned fields).
 * - `approved` alone (an older studio's mark, or a hand edit) freezes nothing and is not shown as approved;
 *   `storyshot approve` and the studio's approve (the same call) write `frozen` with it.
 * - `approved` with `frozen`: the shot as approved. A frozen shot no longer reads the writer's output, so a later
 *   model or setting change does not re-plan it (a sentence whose shots are all frozen is not planned at all)
 *   until `storyshot approve --clear`. Pinned fields still apply over it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Either, ParseResult, Schema } from "effect"
import * as Atomic from "./engine/Atomic.ts"
import { cameraMoves, transitions } from "./Shot.ts"
import { normalize } from "./text/Sentences.ts"

export const fileName = "storyshot.shots.json"

/** Longest pinned prompt accepted (image models take a few thousand characters at most). */
export const maxPromptLength = 4000

const Prompt = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(maxPromptLength))

/** The fields a pin may set, as the plan uses them (cast and place by name, as the bible spells them). */
export const ShotFields = {
  prompt: Schema.optional(Prompt),
  shotType: Schema.optional(Schema.String.pipe(Schema.maxLength(80))),
  camera: Schema.optional(Schema.Literal(...cameraMoves)),
  motion: Schema.optional(Schema.String.pipe(Schema.maxLength(maxPromptLength))),
  transition: Schema.optional(Schema.Literal(...transitions)),
  cast: Schema.optional(Schema.Array(Schema.String)),
  place: Schema.optional(Schema.NullOr(Schema.String))
}

export const Frozen = Schema.Struct({
  prompt: Prompt,
  shotType: Schema.String,
  camera: Schema.Literal(...cameraMoves),
  motion: Schema.String,
  transition: Schema.Literal(...transitions),
  cast: Schema.Array(Schema.String),
  place: Schema.NullOr(Schema.String)
})
export type Frozen = typeof Frozen.Type

export const ShotEdit = Schema.Struct({
  /** The sentence's normalized text (lower case, spaces collapsed): what the shot belongs to. */
  sentence: Schema.String,
  /** Its place in the sentence, from 1. */
  shot: Schema.Int.pipe(Schema.positive()),
  ...ShotFields,
  /** Feedback for the prompt writer, not applied yet. */
  refine: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000))),
  /** The feedback of earlier refinements, oldest first (for the person; the pinned fields hold the result). */
  feedback: Schema.optional(Schema.Array(Schema.String)),
  approved: Schema.optional(Schema.Boolean),
  frozen: Schema.optional(Frozen)
})
export type ShotEdit = typeof ShotEdit.Type

export const EditsFile = Schema.Struct({
  version: Schema.Literal(1),
  shots: Schema.Array(ShotEdit)
})
export type EditsFile = typeof EditsFile.Type

export const empty: EditsFile = { version: 1, shots: [] }

export type Pinned = { -readonly [K in keyof typeof ShotFields]?: Schema.Schema.Type<(typeof ShotFields)[K]> }
export const pinnedKeys = Object.keys(ShotFields) as ReadonlyArray<keyof Pinned>

/** The pinned fields of an entry. */
export const pinnedOf = (e: ShotEdit): Pinned => {
  const out: Record<string, unknown> = {}
  for (const k of pinnedKeys) if (e[k] !== undefined) out[k] = e[k]
  return out as Pinned
}

export class ShotEditsError extends Schema.TaggedError<ShotEditsError>()("ShotEditsError", { message: Schema.String }) {}

export const filePath = (workspaceDir: string) => path.join(workspaceDir, fileName)

/** Checks the file's JSON; Left is one line naming the place of the problem. */
export const decode = (json: unknown, where: string): Either.Either<EditsFile, string> =>
  Either.mapLeft(Schema.decodeUnknownEither(EditsFile, { onExcessProperty: "error" })(json), (error) => {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
    const at = issue && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : ""
    const message = issue?._tag === "Unexpected" ? "unknown field (check its spelling; the format is in the README)" : (issue?.message ?? "not a shot edits file")
    return `${where}${at}: ${message.replace(/\s+/g, " ")}`
  })

/** The workspace's edits (none when the file does not exist); throws ShotEditsError for a broken file. */
export const readSync = (workspaceDir: string): EditsFile => {
  const file = filePath(workspaceDir)
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return empty
    throw new ShotEditsError({ message: `cannot read ${file}: ${(e as Error).message}` })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new ShotEditsError({ message: `${file} is not JSON (${(e as Error).message}): fix it, or delete it to drop the pinned shot edits` })
  }
  return Either.getOrThrowWith(decode(json, file), (message) => new ShotEditsError({ message }))
}

export const read = (workspaceDir: string): Effect.Effect<EditsFile, ShotEditsError> =>
  Effect.try({ try: () => readSync(workspaceDir), catch: (e) => (e instanceof ShotEditsError ? e : new ShotEditsError({ message: String(e) })) })

/** Writes the edits whole or not at all (entries sorted, so the file diffs well). */
export const write = (workspaceDir: string, edits: EditsFile) => {
  const sorted = [...edits.shots].sort((a, b) => (a.sentence < b.sentence ? -1 : a.sentence > b.sentence ? 1 : a.shot - b.shot))
  return Atomic.writeAtomic(
    filePath(workspaceDir),
    JSON.stringify({ version: 1, shots: sorted }, null, 2) + "\n",
    Atomic.tempName(path.join(workspaceDir, ".storyshot"))
  ).pipe(Effect.mapError((e) => new ShotEditsError({ message: e.message })))
}

/** The entry of the `shot`-th shot of a sentence (its text as written or normalized), if any. */
export const find = (edits: EditsFile, sentence: string, shot: number): ShotEdit | undefined => {
  const key = normalize(sentence)
  return edits.shots.find((e) => e.sentence === key && e.shot === shot)
}

export interface Patch extends Pinned {}

/**
 * Sets fields of a shot's entry: a value sets it, `null` clears it (for `place`, `null` is a value: use
 * `clear`), absent leaves it. An entry left with nothing in it is dropped.
 */
export const update = (
  edits: EditsFile,
  sentence: string,
  shot: number,
  patch: {
    readonly pin?: Pinned
    /** The studio's shorthand (src/server): a prompt to pin, or null to unpin it. */
    readonly prompt?: string | null
    readonly clear?: ReadonlyArray<keyof ShotEdit>
    readonly refine?: string | null
    readonly feedback?: ReadonlyArray<string> | null
    readonly approved?: boolean | null
    readonly frozen?: Frozen | null
  }
): EditsFile => {
  const key = normalize(sentence)
  const old = edits.shots.find((e) => e.sentence === key && e.shot === shot)
  const next: Record<string, unknown> = { ...(old ?? {}), sentence: key, shot }
  for (const k of patch.clear ?? []) delete next[k]
  if (patch.prompt === null) delete next.prompt
  else if (patch.prompt !== undefined) next.prompt = patch.prompt
  for (const [k, v] of Object.entries(patch.pin ?? {})) if (v !== undefined) next[k] = v
  for (const k of ["refine", "feedback", "approved", "frozen"] as const) {
    const v = patch[k]
    if (v === null || v === false) delete next[k]
    else if (v !== undefined) next[k] = v
  }
  const entry = next as ShotEdit
  const rest = edits.shots.filter((e) => e !== old)
  const meaningful = Object.keys(entry).some((k) => k !== "sentence" && k !== "shot")
  return { version: 1, shots: meaningful ? [...rest, entry] : rest }
}

// ---------------------------------------------------------------------------------------------------------
// Which sentence an entry belongs to

const levenshtein = (a: string, b: string, max: number): number => {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    let best = i
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      best = Math.min(best, row[j]!)
    }
    if (best > max) return max + 1
    prev = row
  }
  return prev[b.length]!
}

/** A spelling fix: a few letters apart (two, or one in twenty for a long sentence), the same number of words. */
export const nearlyTheSame = (a: string, b: string): boolean => {
  if (a === b) return false
  const max = Math.max(2, Math.floor(Math.min(a.length, b.length) / 20))
  return a.split(" ").length === b.split(" ").length && levenshtein(a, b, max) <= max
}

export interface Matched {
  /** Sentence number (from 1) → shot index → its entry. */
  readonly bySentence: ReadonlyMap<number, ReadonlyMap<number, ShotEdit>>
  /** Entries kept on a sentence whose spelling changed: what to tell the person. */
  readonly respelled: ReadonlyArray<{ readonly n: number; readonly was: string }>
  /** Entries whose sentence is not in the transcript (kept in the file, unused). */
  readonly unused: ReadonlyArray<ShotEdit>
}

/** Puts each entry on its sentence of the transcript: by normalized text, else by a spelling fix (unambiguous). */
export const match = (edits: EditsFile, sentences: ReadonlyArray<string>): Matched => {
  const keys = sentences.map(normalize)
  const byKey = new Map<string, Array<number>>()
  keys.forEach((k, i) => byKey.set(k, [...(byKey.get(k) ?? []), i + 1]))
  const bySentence = new Map<number, Map<number, ShotEdit>>()
  const put = (n: number, e: ShotEdit) => {
    let m = bySentence.get(n)
    if (m === undefined) bySentence.set(n, (m = new Map()))
    if (!m.has(e.shot)) m.set(e.shot, e)
  }
  const orphans = new Map<string, Array<ShotEdit>>()
  for (const e of edits.shots) {
    const ns = byKey.get(e.sentence)
    if (ns !== undefined) for (const n of ns) put(n, e)
    else orphans.set(e.sentence, [...(orphans.get(e.sentence) ?? []), e])
  }
  const known = new Set(edits.shots.map((e) => e.sentence))
  const respelled: Array<{ n: number; was: string }> = []
  const unused: Array<ShotEdit> = []
  for (const [was, entries] of orphans) {
    // Only a sentence no entry names exactly, and only when one sentence (and one old text) fits.
    const candidates = keys.flatMap((k, i) => (!known.has(k) && nearlyTheSame(was, k) ? [i + 1] : []))
    const rivals = [...orphans.keys()].filter((o) => o !== was && candidates.length === 1 && nearlyTheSame(o, keys[candidates[0]! - 1]!))
    if (candidates.length === 1 && rivals.length === 0) {
      for (const e of entries) put(candidates[0]!, e)
      respelled.push({ n: candidates[0]!, was })
    } else unused.push(...entries)
  }
  return { bySentence, respelled, unused }
}
