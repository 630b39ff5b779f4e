/**
 * The projects a server shows: every workspace folder directly under `--root DIR`, or the one workspace it was
 * started in. A project's id is its folder's name, and only names of a safe form are ids (letters, digits,
 * `.`, `_`, `-`, not starting with a dot): an id never carries a separator, so no id leads out of the root.
 *
 * Creating a project writes an ordinary workspace that `storyshot build` opens as well: `transcript.txt`,
 * `storyshot.config.mjs` (the profile and settings, validated as the config is) and the project's display
 * name in `.storyshot/serve/project.json`. It is made in a temp folder and renamed into place, so a project
 * is there whole or not at all.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { Context, Effect, Either, Layer } from "effect"
import * as Config from "../Config.ts"
import { parseTranscript } from "../text/Sentences.ts"
import * as Workspace from "../Workspace.ts"
import { Conflict, NotFound, Unprocessable } from "./Errors.ts"

export interface Project {
  readonly id: string
  /** The workspace folder (absolute; never sent to a client). */
  readonly dir: string
}

export interface CreateInput {
  readonly name: string
  readonly transcript: string
  readonly profile?: Config.Profile | undefined
  readonly settings?: { readonly [key: string]: unknown } | undefined
}

const idForm = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/

export const isId = (id: string) => idForm.test(id) && !id.includes("..")

/** A folder name from a display name: "The Lighthouse!" → "the-lighthouse". */
export const slug = (name: string) =>
  name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60) || "project"

const metaFile = (dir: string) => path.join(dir, ".storyshot", "serve", "project.json")

/** The display name given at creation, else the folder's name. */
export const nameOf = (project: Project): string => {
  try {
    const meta = JSON.parse(fs.readFileSync(metaFile(project.dir), "utf8")) as { name?: unknown }
    if (typeof meta.name === "string" && meta.name.trim() !== "") return meta.name
  } catch {}
  return path.basename(project.dir)
}

const isWorkspace = (dir: string) =>
  [...Workspace.configFileNames, ".storyshot", "transcript.txt"].some((n) => fs.existsSync(path.join(dir, n)))

const mtime = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0

export interface Options {
  /** Serve every workspace under this folder. */
  readonly root?: string | undefined
  /** Or this one workspace (the current one). */
  readonly workspace?: string | undefined
}

export class Projects extends Context.Tag("storyshot/server/Projects")<
  Projects,
  {
    /** "root": projects are the folders under a root and can be created; "single": the one workspace. */
    readonly mode: "root" | "single"
    readonly list: Effect.Effect<ReadonlyArray<Project>>
    readonly find: (id: string) => Effect.Effect<Project, NotFound>
    /** The project's workspace (config, .env, paths), re-read when its config or .env changes. */
    readonly workspace: (project: Project) => Effect.Effect<Workspace.Workspace, Unprocessable>
    readonly create: (input: CreateInput) => Effect.Effect<Project, Conflict | Unprocessable>
  }
>() {
  static readonly layer = (options: Options) => Layer.sync(this, () => make(options))
}

const make = (options: Options): Projects["Type"] => {
  const root = options.root === undefined ? undefined : path.resolve(options.root)
  const single = root === undefined ? path.resolve(options.workspace ?? process.cwd()) : undefined
  const singleId = single === undefined ? "" : slug(path.basename(single))
  const cache = new Map<string, { readonly key: string; readonly ws: Workspace.Workspace }>()

  const list = Effect.sync((): ReadonlyArray<Project> => {
    if (single !== undefined) return [{ id: singleId, dir: single }]
    let entries: Array<fs.Dirent> = []
    try {
      entries = fs.readdirSync(root!, { withFileTypes: true })
    } catch {
      return []
    }
    return entries
      .filter((e) => e.isDirectory() && isId(e.name) && isWorkspace(path.join(root!, e.name)))
      .map((e) => ({ id: e.name, dir: path.join(root!, e.name) }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  })

  const find = (id: string) =>
    Effect.suspend(() => {
      // A name that is no project id (a path, a script) is not echoed back.
      const missing = () => Effect.fail(new NotFound({ message: `${isId(id) ? `no project "${id}"` : "no such project"}: GET /api/projects lists them` }))
      if (single !== undefined) return id === singleId ? Effect.succeed<Project>({ id, dir: single }) : missing()
      if (!isId(id)) return missing()
      const dir = path.join(root!, id)
      // A real folder directly in the root: a symlink could lead anywhere.
      const stat = fs.lstatSync(dir, { throwIfNoEntry: false })
      if (!stat || !stat.isDirectory() || !isWorkspace(dir)) return missing()
      return Effect.succeed<Project>({ id, dir })
    })

  const workspace = (project: Project) =>
    Effect.suspend(() => {
      const key = [...Workspace.configFileNames, ".env"].map((n) => mtime(path.join(project.dir, n))).join(":")
      const hit = cache.get(project.dir)
      if (hit && hit.key === key) return Effect.succeed(hit.ws)
      return Workspace.load({ cwd: project.dir }).pipe(
        Effect.tap((ws) => Effect.sync(() => cache.set(project.dir, { key, ws }))),
        Effect.mapError((e) => new Unprocessable({ message: `project ${project.id}: ${e.message}` }))
      )
    })

  const create = (input: CreateInput) =>
    Effect.gen(function* () {
      if (root === undefined)
        return yield* new Conflict({
          message: "this server shows one workspace: start `storyshot serve --root DIR` to create projects in DIR"
        })
      const name = input.name.trim()
      if (name === "") return yield* new Unprocessable({ message: "name: give the project a name" })
      const settings = input.settings ?? {}
      if ("transcript" in settings)
        return yield* new Unprocessable({ message: "settings.transcript: the transcript is sent as text (`transcript`), not as a path" })
      const configInput = { ...settings, ...(input.profile ? { profile: input.profile } : {}) }
      const decoded = Config.decode(configInput)
      if (Either.isLeft(decoded)) return yield* new Unprocessable({ message: `settings: ${decoded.left}` })
      const bytes = new TextEncoder().encode(input.transcript)
      const sentences = yield* parseTranscript(bytes, "transcript").pipe(
        Effect.mapError((e) => new Unprocessable({ message: `transcript: ${e.message}` }))
      )
      if (sentences.length === 0) return yield* new Unprocessable({ message: "transcript: it has no sentence to narrate" })
      return yield* Effect.try({
        try: () => {
          fs.mkdirSync(root, { recursive: true })
          const tmp = path.join(root, `.new-${process.pid}-${randomBytes(4).toString("hex")}`)
          fs.mkdirSync(path.join(tmp, ".storyshot", "serve"), { recursive: true })
          fs.writeFileSync(path.join(tmp, "transcript.txt"), bytes)
          fs.writeFileSync(
            path.join(tmp, "storyshot.config.mjs"),
            `// Written by \`storyshot serve\` when this project was created; edit it freely (\`storyshot init\` writes one with every field).\nexport default ${JSON.stringify(decoded.right, null, 2)}\n`
          )
          fs.writeFileSync(metaFile(tmp), JSON.stringify({ name, createdAt: new Date().toISOString() }, null, 2))
          const base = slug(name)
          for (let i = 1; i < 1000; i++) {
            const id = i === 1 ? base : `${base}-${i}`
            const dir = path.join(root, id)
            if (fs.existsSync(dir)) continue
            try {
              fs.renameSync(tmp, dir)
            } catch (e) {
              const code = (e as NodeJS.ErrnoException).code
              if (code === "EEXIST" || code === "ENOTEMPTY") continue
              throw e
            }
            return { id, dir }
          }
          fs.rmSync(tmp, { recursive: true, force: true })
          throw new Error(`too many projects named ${base}`)
        },
        catch: (e) => new Unprocessable({ message: `could not create the project in ${path.basename(root)}: ${(e as Error).message}` })
      })
    })

  return { mode: root === undefined ? "single" : "root", list, find, workspace, create }
}
