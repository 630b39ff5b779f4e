/**
 * The director's inputs of a workspace: its story bible and its shot edits, read once per change of either
 * file (the graph is planned several times per command: checks, dry walks, the build). Every command that
 * plans the film reads them through `load` first, so a broken file stops it with one line (exit 2) before
 * anything is built; the planner then reads them with `loadSync`, which cannot fail after that.
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"
import * as Bible from "./Bible.ts"
import * as ShotEdits from "../ShotEdits.ts"

export interface Director {
  /** Undefined when the workspace has no `storyshot.bible.json` (nothing is cast: every shot shows nobody known). */
  readonly bible: Bible.Bible | undefined
  readonly edits: ShotEdits.EditsFile
}

export class DirectorInputError extends Schema.TaggedError<DirectorInputError>()("DirectorInputError", { message: Schema.String }) {}

const stamp = (file: string) => {
  try {
    const s = fs.statSync(file)
    return `${s.size}:${s.mtimeMs}:${s.ino}`
  } catch {
    return "none"
  }
}

const cache = new Map<string, { readonly key: string; readonly value: Director }>()

/** Reads (or returns the kept copy of) a workspace's bible and edits; throws DirectorInputError for a broken file. */
export const loadSync = (workspaceDir: string): Director => {
  const key = `${stamp(Bible.filePath(workspaceDir))}|${stamp(ShotEdits.filePath(workspaceDir))}`
  const kept = cache.get(workspaceDir)
  if (kept?.key === key) return kept.value
  try {
    const value: Director = { bible: Bible.readSync(workspaceDir), edits: ShotEdits.readSync(workspaceDir) }
    cache.set(workspaceDir, { key, value })
    return value
  } catch (e) {
    throw new DirectorInputError({ message: (e as { message?: string }).message ?? String(e) })
  }
}

export const load = (workspaceDir: string): Effect.Effect<Director, DirectorInputError> =>
  Effect.try({
    try: () => loadSync(workspaceDir),
    catch: (e) => (e instanceof DirectorInputError ? e : new DirectorInputError({ message: String(e) }))
  })

/** Forgets what was read (a command that just wrote one of the files). */
export const forget = (workspaceDir: string) => void cache.delete(workspaceDir)
