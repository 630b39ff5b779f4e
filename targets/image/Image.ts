/**
 * `shot:K:image`: one still per shot, and `character:ID:sheet`: one reference image per character. What every
 * image provider shares.
 *
 * K numbers shots across the film, but nothing positional enters the fingerprint (the shot's own plan, its
 * index within the sentence): inserting a sentence renumbers shots without invalidating any of them.
 *
 * The cast (issue 16, contract 6). Which characters and place a shot shows is known only once its sentence is
 * planned, so a shot's image node expands after `sentence:N:plan` (`withCast`) and adds, for what its plan
 * says it shows and nothing else: each character's bible entry (`character:ID#entry`), the place's entry, and,
 * for an implementation whose `references` is "edit", each character's sheet (`character:ID:sheet#image`, whose
 * output hash then enters the fingerprint). The style is in the implementation's recipe. So editing one
 * character's look re-pays that sheet and the images (and clips) of the shots that show the character, and no
 * other; an implementation that ignores references does not even buy the sheets.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import type { Json, NodeSpec, RunContext } from "../../src/engine/Node.ts"
import { ids, kinds } from "../../src/Film.ts"
import { invalid } from "../../src/media/Errors.ts"
import { verifyMedia } from "../../src/media/Verify.ts"
import * as Png from "./Png.ts"
import * as Cast from "../cast.ts"
import * as Paid from "../Paid.ts"
import { stillDep, type Still } from "../plan.ts"

export const version = 2

/** A character sheet a shot shows, as an image implementation sends it (contract 6). */
export interface Reference {
  readonly name: string
  /** The sheet's file in the store. */
  readonly file: string
  /** Its content hash (what the fingerprint holds; a provider's upload URL never enters it). */
  readonly hash: string
}

export interface CastOptions {
  /** Depend on the sheets (the implementation sends them as references). */
  readonly references: boolean
  /** Depend on the characters' and the place's colours (the draft card draws them). */
  readonly colours?: boolean | undefined
}

/**
 * The shot's image node with its cast: after its sentence's plan, it depends on the entries (and sheets) of
 * the characters and the place its plan shows.
 */
export const withCast = (spec: NodeSpec, n: number, options: CastOptions): NodeSpec => ({
  ...spec,
  after: [...(spec.after ?? []), ids.plan(n)],
  expand: (built) => {
    const still = stillFrom(built.value(ids.plan(n), stillDep(n, jOf(spec)).output!))
    const deps = [
      ...still.cast.flatMap((id) => [Cast.entryDep(id), ...(options.colours ? [Cast.colourDep(id)] : []), ...(options.references ? [Cast.sheetDep(id)] : [])]),
      ...(still.place === null ? [] : [Cast.placeEntryDep(still.place), ...(options.colours ? [Cast.placeColourDep(still.place)] : [])])
    ]
    return { nodes: [], deps }
  }
})

/**
 * A shot's image node: the implementation's recipe, after the shot's still in its sentence's plan (and any
 * `extra` inputs), with the cast and place the plan gives it.
 */
export const shotNode = (
  shot: { readonly n: number; readonly j: number; readonly k: number },
  recipe: NodeSpec["recipe"],
  options: CastOptions,
  extra: NodeSpec["deps"] = []
): NodeSpec =>
  withCast({ id: ids.image(shot.k), kind: kinds.image, stage: "image", version, recipe, deps: [stillDep(shot.n, shot.j), ...extra] }, shot.n, options)

/** The shot's index j, from its still dependency (`sentence:N:plan#still.j`). */
const jOf = (spec: NodeSpec): number => {
  const dep = spec.deps.find((d) => d.output?.startsWith("still."))
  if (!dep) throw new Error(`${spec.id}: no still dependency on its plan`)
  return Number(dep.output!.slice("still.".length))
}

const stillFrom = (v: Json): Still => {
  const o = (v ?? {}) as Record<string, Json>
  return {
    prompt: typeof o.prompt === "string" ? o.prompt : "",
    shotType: typeof o.shotType === "string" ? o.shotType : "",
    cast: Array.isArray(o.cast) ? o.cast.filter((c): c is string => typeof c === "string") : [],
    place: typeof o.place === "string" ? o.place : null
  }
}

export interface Shown {
  /** The plan's still (prompt, framing, cast ids, place id), or undefined for a sheet. */
  readonly still: Still | undefined
  readonly cast: ReadonlyArray<Cast.CharacterEntry & { readonly id: string; readonly colour: string | undefined }>
  readonly place: (Cast.PlaceEntry & { readonly id: string; readonly colour: string | undefined }) | undefined
  /** The sheets, in the cast's order (stable: the plan keeps the bible's order). */
  readonly references: ReadonlyArray<Reference>
}

/** What a shot (or sheet) node shows, from its dependencies. */
export const shown = (ctx: RunContext): Shown => {
  const stillDepOf = ctx.deps.find((d) => d.output?.startsWith("still."))
  const still = stillDepOf ? stillFrom(ctx.value(stillDepOf.id, stillDepOf.output!)) : undefined
  const castIds = still?.cast ?? ctx.deps.filter((d) => d.id.startsWith("character:") && d.output === "entry").map((d) => d.id.slice("character:".length))
  const has = (id: string, output: string) => ctx.deps.some((d) => d.id === id && d.output === output)
  const cast = castIds.filter((id) => has(ids.character(id), "entry")).map((id) => ({
    id,
    ...(ctx.value(ids.character(id), "entry") as unknown as Cast.CharacterEntry),
    colour: has(ids.character(id), "colour") ? String(ctx.value(ids.character(id), "colour")) : undefined
  }))
  const placeId = still?.place ?? null
  const place =
    placeId !== null && has(ids.place(placeId), "entry")
      ? {
        id: placeId,
        ...(ctx.value(ids.place(placeId), "entry") as unknown as Cast.PlaceEntry),
        colour: has(ids.place(placeId), "colour") ? String(ctx.value(ids.place(placeId), "colour")) : undefined
      }
      : undefined
  const references = cast
    .filter((c) => has(ids.sheet(c.id), "image"))
    .map((c) => ({ name: c.name, file: ctx.file(ids.sheet(c.id), "image"), hash: ctx.dep(ids.sheet(c.id)).outputs.image!.hash }))
  return { still, cast, place, references }
}

/** The sheets a shot shows (contract 6's `references` input). */
export const references = (ctx: RunContext): ReadonlyArray<Reference> => shown(ctx).references

/**
 * The prompt an image model gets for a shot: the plan's prompt, then each character it shows as the bible
 * describes them (naming the reference image of each, when there are references), the place, the style.
 */
export const shotPrompt = (s: Shown, style: string): string => {
  const withRefs = s.references.length > 0
  const lines = [s.still?.prompt.trim() ?? ""]
  if (s.cast.length > 0)
    lines.push(
      `${withRefs ? "Characters (the reference images show them, in this order)" : "Characters"}: ${s.cast
        .map((c, i) => `${withRefs && s.references.some((r) => r.name === c.name) ? `image ${s.references.findIndex((r) => r.name === c.name) + 1}, ` : ""}${Cast.describe(c)}`)
        .join(". ")}.`
    )
  if (s.place) lines.push(`Place: ${Cast.describePlace(s.place)}.`)
  if (style.trim()) lines.push(`Style: ${style.trim()}.`)
  return lines.filter((l) => l.length > 0).join("\n")
}

/** The prompt of a character sheet: one figure, whole, plainly lit, to be referenced by every shot. */
export const sheetPrompt = (entry: Cast.CharacterEntry, style: string): string =>
  [
    `Character reference sheet of ${Cast.describe(entry)}.`,
    "One full-body figure, front view, neutral pose, plain light-grey background, even light, no text.",
    style.trim() ? `Style: ${style.trim()}.` : ""
  ]
    .filter((l) => l.length > 0)
    .join(" ")

/** A sheet node's entry (its first dependency). */
export const sheetEntry = (ctx: RunContext): Cast.CharacterEntry => ctx.value(ctx.node.deps[0]!.id, "entry") as unknown as Cast.CharacterEntry

export const isSheet = (ctx: RunContext): boolean => ctx.node.kind === kinds.sheet

/** A character's sheet node: the implementation's recipe and extra inputs, after the character's entry. */
export const sheetNode = (id: string, recipe: NodeSpec["recipe"], extra: NodeSpec["deps"] = []): NodeSpec => ({
  id: ids.sheet(id),
  kind: kinds.sheet,
  stage: "image",
  version,
  recipe,
  deps: [Cast.entryDep(id), ...extra]
})

const contentTypeOf = (file: string) => {
  const ext = path.extname(file).slice(1).toLowerCase()
  return ext === "jpg" || ext === "jpeg" ? "image/jpeg" : ext === "webp" ? "image/webp" : "image/png"
}

/** The sheets' bytes, in the shot's order, for an implementation that uploads them (fal's edit models). */
export const referenceBytes = (references: ReadonlyArray<Reference>): ReadonlyArray<{ name: string; bytes: Uint8Array; contentType: string }> =>
  references.map((r) => ({ name: r.name, bytes: new Uint8Array(fs.readFileSync(r.file)), contentType: contentTypeOf(r.file) }))

/** Writes a still into the node's scratch folder, as its `image` output (and its `seed`, when one was used). */
export const stillOutput = (ctx: RunContext, bytes: Uint8Array, ext: string, seed: number | undefined) => {
  const file = path.join(ctx.scratch, `image.${ext}`)
  fs.writeFileSync(file, bytes)
  return { image: { file, ext }, ...(seed === undefined ? {} : { seed: { value: seed } }) }
}

/**
 * A paid still decodes as an image; one that does not is dropped from the journal (with `kept`). A PNG is
 * decoded here, in the process (`Png.ts`: no ffmpeg to start, no ffmpeg slot waited for); any other format
 * by ffmpeg, in an ffmpeg slot. The rules name `verifyPool: "local"` for it (contract 4: out of the
 * provider's pool).
 */
export const verifyStill = (ctx: RunContext, produced: { readonly [name: string]: unknown }, kept: ReadonlyArray<string>, lost?: string) => {
  const image = produced.image as { file?: string } | undefined
  if (image === undefined || typeof image.file !== "string") return Effect.void
  const file = image.file
  return Effect.suspend(() => {
    const bytes = fs.readFileSync(file)
    if (!Png.isPng(bytes)) return ctx.withPool("ffmpeg", verifyMedia(file, { image: true })).pipe(Effect.asVoid)
    const check = Png.checkPng(bytes)
    return check.ok ? Effect.void : Effect.fail(invalid(path.resolve(file), check.reason))
  }).pipe(Paid.droppingOnFailure(ctx, kept, lost))
}
