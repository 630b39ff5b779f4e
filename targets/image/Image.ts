/**
 * `shot:K:image`: one still per shot prompt. K numbers shots across the film, but nothing positional enters
 * the fingerprint (the shot's own prompt, the sentence's text, its index within the sentence): inserting a
 * sentence renumbers shots without invalidating any of them. What every image provider shares.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import type { Dep, Json, NodeSpec, RunContext } from "../../src/engine/Node.ts"
import { verifyMedia } from "../../src/media/Verify.ts"
import * as Paid from "../Paid.ts"
import type { Reference } from "../Rule.ts"

export const version = 1

/**
 * A shot's reference images (contract 6) as a node sees them: in the recipe, each one's name and, for a stored
 * file, its content hash (the file's path is not an ingredient, its bytes are); as dependencies, the ones a
 * node makes (their output hash enters the fingerprint). Their order is the shot's, and it is kept.
 */
export const referenceParts = (references: ReadonlyArray<Reference>) => ({
  recipe: references.map((r) => (r.hash !== undefined ? { name: r.name, hash: r.hash } : { name: r.name })),
  deps: references.flatMap((r) => (r.dep !== undefined ? [r.dep] : [])),
  context: references.map((r): { [k: string]: Json } => (r.dep !== undefined ? { name: r.name, id: r.dep.id, output: r.dep.output ?? null } : { name: r.name, file: r.file ?? null }))
})

const contentTypeOf = (file: string) => {
  const ext = path.extname(file).slice(1).toLowerCase()
  return ext === "jpg" || ext === "jpeg" ? "image/jpeg" : ext === "webp" ? "image/webp" : "image/png"
}

/** The reference images' bytes, in the shot's order, read from the store (or their dependency's output). */
export const referencesOf = (ctx: RunContext): ReadonlyArray<{ name: string; bytes: Uint8Array; contentType: string }> => {
  const list = (ctx.node.context?.references ?? []) as ReadonlyArray<{ name: string; file?: string | null; id?: string; output?: string | null }>
  return list.map((r) => {
    const file = r.id !== undefined ? ctx.file(r.id, r.output ?? "image") : r.file!
    return { name: r.name, bytes: new Uint8Array(fs.readFileSync(file)), contentType: contentTypeOf(file) }
  })
}

/** The node of a paid still: its prompt, its references, its recipe. */
export const paidNode = (shot: { readonly n: number; readonly j: number; readonly k: number }, recipe: NodeSpec["recipe"], references: ReadonlyArray<Reference> = [], promptDep: Dep): NodeSpec => {
  const parts = referenceParts(references)
  return {
    id: `shot:${shot.k}:image`,
    kind: "image",
    stage: "image",
    version,
    recipe,
    ...(references.length === 0 ? {} : { context: { references: parts.context } }),
    deps: [promptDep, ...parts.deps]
  }
}

/** Writes a still into the node's scratch folder, as its `image` output (and its `seed`, when one was used). */
export const stillOutput = (ctx: RunContext, bytes: Uint8Array, ext: string, seed: number | undefined) => {
  const file = path.join(ctx.scratch, `image.${ext}`)
  fs.writeFileSync(file, bytes)
  return { image: { file, ext }, ...(seed === undefined ? {} : { seed: { value: seed } }) }
}

/** A paid still decodes as an image; one that does not is dropped from the journal (with `kept`). */
export const verifyStill = (ctx: RunContext, produced: { readonly [name: string]: unknown }, kept: ReadonlyArray<string>, lost?: string) => {
  const image = produced.image as { file?: string } | undefined
  return image !== undefined && typeof image.file === "string"
    ? verifyMedia(image.file, { image: true }).pipe(Effect.asVoid, Paid.droppingOnFailure(ctx, kept, lost))
    : Effect.void
}
