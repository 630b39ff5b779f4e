/** Helpers of the director's tests: `storyshot direct` in-process, the bible file, the fakes' image requests. */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import * as Bible from "../../src/director/Bible.ts"
import * as Direct from "../../src/director/Direct.ts"
import * as Review from "../../src/director/Review.ts"
import * as Workspace from "../../src/Workspace.ts"

export const direct = (dir: string, flags: Partial<Direct.DirectFlags> = {}, env: NodeJS.ProcessEnv = {}) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const ws = yield* Workspace.load({ cwd: dir, env: { PATH: process.env.PATH, ...env } })
      return yield* Direct.run(ws, { force: false, dryRun: false, ...flags })
    }) as Effect.Effect<Direct.DirectResult, unknown, never>
  )

export const readBible = (dir: string): Bible.Bible => JSON.parse(fs.readFileSync(Bible.filePath(dir), "utf8"))

export const writeBible = (dir: string, bible: unknown) => fs.writeFileSync(Bible.filePath(dir), JSON.stringify(bible, null, 2))

/** Changes one character's fields in the workspace's bible, as a person would in an editor. */
export const editCharacter = (dir: string, name: string, change: Partial<Bible.Character>) => {
  const bible = readBible(dir)
  writeBible(dir, { ...bible, cast: bible.cast.map((c) => (c.name === name ? { ...c, ...change } : c)) })
}

export const storeFile = (dir: string, rel: string) => path.join(dir, rel)

/** `storyshot refine` and `storyshot approve` in-process. */
export const refine = (dir: string, args: { shot: string; feedback?: string; prompt?: string }, env: NodeJS.ProcessEnv = {}) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const ws = yield* Workspace.load({ cwd: dir, env: { PATH: process.env.PATH, ...env } })
      return yield* Review.refine(ws, args)
    }) as unknown as Effect.Effect<Review.RefineResult, unknown, never>
  )

export const approve = (dir: string, args: { ids?: ReadonlyArray<string>; clear?: boolean } = {}, env: NodeJS.ProcessEnv = {}) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const ws = yield* Workspace.load({ cwd: dir, env: { PATH: process.env.PATH, ...env } })
      return yield* Review.approve(ws, { ids: args.ids ?? [], clear: args.clear ?? false })
    }) as unknown as Effect.Effect<Review.ApproveResult, unknown, never>
  )
