/**
 * `storyshot why` on the draft profile: an edited sentence, a changed upstream output, a forced rebuild, and
 * a fresh node. (A changed model is in accounting.test.ts, against the cloud fakes.)
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as Why from "../../src/cli/why.ts"
import * as Workspace from "../../src/Workspace.ts"
import { makeWorkspace, runBuild, smallConfig } from "../e2e/harness.ts"

const explain = (dir: string, id: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const ws = yield* Workspace.load({ cwd: dir, env: { PATH: process.env.PATH } })
      return yield* Why.explain(ws, id)
    }) as Effect.Effect<Why.Explanation, unknown, never>
  )

describe("why", () => {
  it("names the changed ingredient: edited sentence, changed upstream output, forced rebuild", async () => {
    const dir = makeWorkspace("The cat sat down.\n")
    await runBuild(dir)

    const fresh = await explain(dir, "sentence:1:audio")
    expect(fresh.status).toBe("fresh")
    expect(fresh.summary).toContain("first built")

    // An edited sentence: the narration is stale because its text changed, old → new.
    fs.writeFileSync(path.join(dir, "transcript.txt"), "The dog sat down.\n")
    const edited = await explain(dir, "sentence:1:audio")
    expect(edited.status).toBe("stale")
    expect(edited.changes).toContainEqual({ ingredient: "text", before: "the cat sat down.", after: "the dog sat down." })
    // Downstream, `why` follows the inputs that would be rebuilt to that change.
    const mux = Why.toText(await explain(dir, "sentence:1:mux"))
    expect(mux).toMatch(/sentence:1:mux is stale/)
    expect(mux).toContain(`text: "the cat sat down." → "the dog sat down."`)
    fs.writeFileSync(path.join(dir, "transcript.txt"), "The cat sat down.\n")
    expect((await explain(dir, "sentence:1:audio")).status).toBe("fresh")

    // A changed upstream output: a new style rewrites the shot prompts; the image was rebuilt because its
    // prompt (an input) changed, though nothing in its own recipe did.
    fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), smallConfig().replace("test style", "ink wash"))
    const stale = await explain(dir, "sentence:1:prompts")
    expect(stale.changes).toContainEqual({ ingredient: "style", before: "test style", after: "ink wash" })
    await runBuild(dir)
    const image = await explain(dir, "shot:1:image")
    expect(image.status).toBe("fresh")
    // (The image reads its shot through the sentence's plan, the writer's shot with the person's edits: issue 16.)
    expect(image.changes.map((c) => c.ingredient)).toEqual(["input sentence:1:plan#still.1"])
    expect(image.summary).toContain("rebuilt")
    expect(image.summary).toContain("input sentence:1:plan#still.1 changed")

    // A forced rebuild: nothing in the fingerprint changed; it was a new take.
    await runBuild(dir, { force: true, target: ["shot:1:image"] })
    const forced = await explain(dir, "shot:1:image")
    expect(forced.status).toBe("fresh")
    expect(forced.forced).toBe(true)
    expect(forced.changes[0]!.ingredient).toBe("take (--force)")
    expect(forced.summary).toContain("--force")
  }, 60_000)
})
