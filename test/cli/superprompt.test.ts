import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Fiber } from "effect"
import * as Superprompt from "../../src/cli/superprompt.ts"
import { cli, repoRoot } from "../e2e/harness.ts"

const put = (dir: string, rel: string, content: string | Uint8Array) => {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
  fs.writeFileSync(path.join(dir, rel), content)
}

/** A workspace with its own src/ and targets/ (like this repository), each file holding a unique marker. */
const makeProject = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-sp-"))
  put(dir, "src/b.ts", "export const b = 'MARK-b'\n")
  put(dir, "src/B.ts", "export const B = 'MARK-B'\n")
  put(dir, "src/a.ts", "export const a = 'MARK-a'\n")
  put(dir, "src/a/z.ts", "export const z = 'MARK-z'\n")
  // A file that holds a fence of its own must not end the block early.
  put(dir, "src/notes.md", "MARK-md\n\n```ts\nconst x = 1\n```\n\n## not a file header\n")
  put(dir, "src/.hidden.ts", "MARK-hidden\n")
  put(dir, "src/logo.png", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]))
  put(dir, "targets/x.ts", "export const x = 'MARK-x'\n")
  put(dir, "storyshot.config.mjs", "export default { style: 'MARK-config' }\n")
  put(dir, "project_superprompt.md", "Why does the fox never stop? MARK-notes\n")
  put(dir, "transcript.txt", "MARK-transcript.\n")
  put(dir, ".env", "FAL_KEY=MARK-secret\n")
  return dir
}

const expectedOrder = ["src/B.ts", "src/a.ts", "src/a/z.ts", "src/b.ts", "src/notes.md", "targets/x.ts", "storyshot.config.mjs"]

const headers = (text: string) => text.split("\n").filter((l) => /^## /.test(l)).map((l) => l.slice(3))
/** Only lines of the form `## path` naming a file (a file may hold a `## ` line of its own inside its block). */
const fileHeaders = (text: string, names: ReadonlyArray<string>) => headers(text).filter((h) => names.includes(h))
const count = (text: string, s: string) => text.split(s).length - 1

const writeOnce = (dir: string, over: { out?: string; notes?: string } = {}) =>
  Effect.runPromise(Effect.flatMap(Superprompt.plan({ dir, ...over }), Superprompt.write))

const read = (dir: string, file = Superprompt.defaultOut) => fs.readFileSync(path.join(dir, file), "utf8")

const waitFor = async (what: string, ok: () => boolean, timeoutMs = 15_000) => {
  const until = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Every regular file under `root/dir`, as posix paths relative to `root`, skipping dot-files like the command. */
const listFiles = (root: string, dir: string): Array<string> =>
  fs
    .readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join("/"))
    .filter((p) => !p.split("/").some((part) => part.startsWith(".")))

describe("storyshot superprompt", () => {
  it("joins the notes, then every source file once under its header, in path order; nothing else", async () => {
    const dir = makeProject()
    const r = await writeOnce(dir)
    expect(r.changed).toBe(true)
    expect(r.files).toBe(expectedOrder.length)
    const text = read(dir)
    expect(text.startsWith("Why does the fox never stop? MARK-notes\n")).toBe(true)
    expect(fileHeaders(text, expectedOrder)).toEqual(expectedOrder)
    for (const mark of ["MARK-b", "MARK-B", "MARK-a", "MARK-z", "MARK-md", "MARK-x", "MARK-config", "MARK-notes"])
      expect(count(text, mark), mark).toBe(1)
    // Never the transcript, the secrets, dot-files, or the bytes of a binary file (it is named instead).
    for (const mark of ["MARK-transcript", "MARK-secret", "MARK-hidden", "PNG"]) expect(text).not.toContain(mark)
    expect(text).toContain("Binary files left out: src/logo.png.")
    // The markdown file's own fence sits inside a longer one, so its block runs to its end.
    const block = text.slice(text.indexOf("## src/notes.md"), text.indexOf("## targets/x.ts"))
    expect(block).toMatch(/^## src\/notes\.md\n\n````markdown\nMARK-md\n[\s\S]*## not a file header\n````\n\n$/)

    // Stable: the same sources give the same bytes, and the file is left alone.
    const again = await writeOnce(dir)
    expect(again.changed).toBe(false)
    expect(read(dir)).toBe(text)
  })

  it("in a film workspace without src/ it joins the running storyshot's src/ and targets/, each file once", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-sp-"))
    put(dir, "storyshot.config.mjs", "export default { style: 'MARK-config' }\n")
    const expected = [...listFiles(repoRoot, "src").sort(), ...listFiles(repoRoot, "targets").sort(), "storyshot.config.mjs"]
    const r = await writeOnce(dir)
    const text = read(dir)
    const found = fileHeaders(text, expected)
    expect(found).toEqual(expected)
    expect(new Set(found).size).toBe(found.length)
    expect(r.files).toBe(expected.length)
    expect(found).toContain("src/cli/superprompt.ts")
    expect(text).toContain("of the storyshot that builds this workspace")
    // No absolute path of this machine: the file is meant to be pasted elsewhere.
    expect(text).not.toContain(repoRoot)
  })

  it("--watch rewrites the file after a source, a new file, a deletion, the notes or the config change", async () => {
    const dir = makeProject()
    const plan = await Effect.runPromise(Superprompt.plan({ dir }))
    const log: Array<string> = []
    const fiber = Effect.runFork(Superprompt.watchLoop(plan, { debounceMs: 50, log: (t) => void log.push(t) }))
    const text = () => (fs.existsSync(path.join(dir, Superprompt.defaultOut)) ? read(dir) : "")
    try {
      await waitFor("the first write", () => text().includes("MARK-x"))
      await waitFor("the watcher", () => log.some((l) => l.startsWith("watching")))

      put(dir, "src/a.ts", "export const a = 'MARK-a2'\n")
      await waitFor("the edit", () => text().includes("MARK-a2"))
      expect(count(text(), "MARK-a")).toBe(1)

      put(dir, "src/c/new.ts", "export const n = 'MARK-new'\n")
      await waitFor("the new file", () => text().includes("MARK-new"))
      expect(fileHeaders(text(), [...expectedOrder, "src/c/new.ts"])).toEqual([
        "src/B.ts",
        "src/a.ts",
        "src/a/z.ts",
        "src/b.ts",
        "src/c/new.ts",
        "src/notes.md",
        "targets/x.ts",
        "storyshot.config.mjs"
      ])

      fs.rmSync(path.join(dir, "targets", "x.ts"))
      await waitFor("the deletion", () => !text().includes("## targets/x.ts"))

      put(dir, "project_superprompt.md", "A new question. MARK-notes2\n")
      await waitFor("the notes", () => text().startsWith("A new question. MARK-notes2\n"))

      put(dir, "storyshot.config.mjs", "export default { style: 'MARK-config2' }\n")
      await waitFor("the config", () => text().includes("MARK-config2"))
      // Its own output is never a change to react to: no rewrite loop.
      const writes = log.filter((l) => l.startsWith("wrote")).length
      await new Promise((r) => setTimeout(r, 400))
      expect(log.filter((l) => l.startsWith("wrote")).length).toBe(writes)
    } finally {
      await Effect.runPromise(Fiber.interrupt(fiber))
    }
  })

  it("the command writes --out and refuses a --notes file that does not exist", () => {
    const dir = makeProject()
    const ok = cli(["superprompt", "--out", "all.md"], { cwd: dir })
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^wrote all\.md: 7 files/)
    expect(fileHeaders(read(dir, "all.md"), expectedOrder)).toEqual(expectedOrder)
    const missing = cli(["superprompt", "--notes", "nope.md"], { cwd: dir })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/notes file .*nope\.md does not exist/)
  })
})
