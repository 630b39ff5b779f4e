/**
 * `storyshot refine shot:K "feedback"` and `storyshot approve [sentence:N|shot:K]...` (src/director/Review.ts).
 * Exit 2 for a shot or sentence that does not exist or a missing key; 1 when the writer's call failed.
 */
import { Effect, Option } from "effect"
import * as Cost from "../engine/Cost.ts"
import * as Review from "../director/Review.ts"
import type { approveOptions, Flags, refineOptions } from "./Commands.ts"
import { root } from "./Root.ts"
import * as Session from "./Session.ts"

const warn = (e: { readonly _tag: string; readonly message?: string }) => {
  if (e._tag === "Warning") process.stderr.write(`storyshot: ${e.message}\n`)
}

export const handler = (o: Flags<typeof refineOptions>) =>
  Effect.gen(function* () {
    const g = yield* root
    const ws = yield* Session.openWorkspace(g, Option.getOrUndefined(o.profile))
    if (Option.isNone(o.prompt)) yield* Session.checkKeys(ws)
    const r = yield* Review.refine(ws, { shot: o.shot, feedback: Option.getOrUndefined(o.feedback), prompt: Option.getOrUndefined(o.prompt) }, warn as never)
    if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`)
    else
      process.stdout.write(
        [
          `shot:${r.k} (sentence ${r.n}, shot ${r.j} of it) ${Option.isSome(o.prompt) ? "pinned" : `refined (${Cost.format(r.cost)})`}:`,
          `  was: ${r.before ?? "(not planned yet)"}`,
          `  now: ${r.after}`,
          "Kept in storyshot.shots.json; the next build pays again for this shot's image and clip only."
        ].join("\n") + "\n"
      )
  })

export const approveHandler = (o: Flags<typeof approveOptions>) =>
  Effect.gen(function* () {
    const g = yield* root
    const ws = yield* Session.openWorkspace(g, Option.getOrUndefined(o.profile))
    if (!o.clear) yield* Session.checkKeys(ws)
    const r = yield* Review.approve(ws, { ids: o.ids, clear: o.clear }, warn as never)
    if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`)
    else
      process.stdout.write(
        r.cleared
          ? `approval lifted from ${r.sentences.length} sentence(s), ${r.shots} shot(s): a later model or setting change re-plans them\n`
          : `approved ${r.shots} shot(s) of ${r.sentences.length} sentence(s)${Cost.format(r.cost) === "$0" ? "" : ` (planning cost ${Cost.format(r.cost)})`}: their plan is frozen in storyshot.shots.json; \`storyshot build\` makes the film\n`
      )
  })
