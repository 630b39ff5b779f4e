/**
 * The film's graph: every stage rule, and the nodes known before anything is built. Shots are added by the
 * muxes' expansions once the narration is measured. For the four provider stages, the config picks one
 * implementation each (`registry.ts`), once, here.
 */
import type { NodeSpec, Rule } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import * as Inputs from "../src/director/Inputs.ts"
import * as ShotEdits from "../src/ShotEdits.ts"
import * as Bible from "../src/director/Bible.ts"
import * as Cast from "./cast.ts"
import * as Plan from "./plan.ts"
import * as Refine from "./prompts/refine.ts"
import { fromEnv } from "../src/providers/ProviderConfig.ts"
import type { Workspace } from "../src/Workspace.ts"
import * as Final from "./final.ts"
import * as Leadin from "./leadin.ts"
import * as Mux from "./mux.ts"
import { pick } from "./registry.ts"
import { stageRule, type PlanContext } from "./Rule.ts"
import * as Storyboard from "./storyboard.ts"
import * as Subtitles from "./subtitles.ts"
import * as Timing from "./timing.ts"
import * as Transcript from "./transcript.ts"

export const rules: { readonly [kind: string]: Rule<unknown, any> } = Object.fromEntries(
  [
    Transcript.rule,
    stageRule(kinds.audio, "audio"),
    Timing.shotsRule,
    Timing.timingRule,
    stageRule(kinds.prompts, "prompts"),
    stageRule(kinds.image, "image"),
    stageRule(kinds.sheet, "image"),
    Plan.rule,
    Cast.characterRule,
    Cast.placeRule,
    Refine.rule,
    stageRule(kinds.video, "video"),
    Mux.rule,
    Leadin.rule,
    Final.rule,
    Subtitles.rule,
    Storyboard.rule
  ].map((r) => [r.kind, r as Rule<unknown, any>])
)

/** What `storyshot build --until prompts` makes: every sentence's plan and the storyboard page of it (cents). */
export const planTargets = (sentences: ReadonlyArray<string>): ReadonlyArray<string> => [...sentences.map((_, i) => ids.plan(i + 1)), ids.storyboard]

/** What `storyshot build` makes when no --target is named: the film, its subtitles and its storyboard page. */
export const defaultTargets: ReadonlyArray<string> = ["final", "subtitles", "storyboard"]

export const planContext = (ws: Workspace): PlanContext => ({
  config: ws.config,
  providers: fromEnv(ws.env),
  storeDir: ws.storeDir,
  director: Inputs.loadSync(ws.dir)
})

/** `edits`: shot edits to plan with instead of the saved file's (a dry run of an edit not saved yet). */
export const plan = (
  ws: Workspace,
  sentences: ReadonlyArray<string>,
  edits?: ShotEdits.EditsFile,
  /** `planOnly`: the storyboard page of the plan alone (`build --until prompts`): it needs no image or clip. */
  options: { readonly planOnly?: boolean } = {}
): ReadonlyArray<NodeSpec> => {
  const saved = planContext(ws)
  const context = edits === undefined ? saved : { ...saved, director: { ...saved.director, edits } }
  const { config } = ws
  const audio = pick("audio", config)
  const prompts = pick("prompts", config)
  const image = pick("image", config)
  const nodes: Array<NodeSpec> = [Transcript.node(sentences)]
  // The director's inputs (issue 16): the bible's entries as nodes, one sheet per character (when the image
  // implementation makes sheets), and each sentence's plan with the person's pinned edits matched to it.
  const bible = context.director.bible
  for (const c of bible?.cast ?? []) {
    nodes.push(Cast.characterNode(c))
    if (image.sheet) nodes.push(image.sheet({ id: Bible.idOf(c.name) }, context))
  }
  for (const p of bible?.places ?? []) nodes.push(Cast.placeNode(p))
  const matched = ShotEdits.match(context.director.edits, sentences)
  const refine: Plan.RefineSpec = { node: (args) => Refine.node(context, prompts, sentences, args) }
  sentences.forEach((sentence, i) => {
    const n = i + 1
    nodes.push(
      audio.node({ n, sentence }, context),
      Timing.shotsNode(n, config.shotSeconds),
      Timing.timingNode(n, config.shotSeconds, config.fps),
      prompts.node({ n, sentences }, context),
      Plan.node(n, sentence, context.director, matched, refine),
      Mux.node(n, sentences, context)
    )
  })
  nodes.push(
    Subtitles.node(sentences, config.fps),
    Final.node(sentences.length, config.subtitles.burn, Final.musicBed(ws.dir, config.music), Final.joinFrom(ws.env)),
    Storyboard.node(
      sentences,
      config,
      ws,
      image.sheet ? (bible?.cast ?? []).map((c) => ids.sheet(Bible.idOf(c.name))) : [],
      (n, count) => Plan.readsWriter(Plan.pinsOf(matched, n), count),
      options.planOnly === true
    )
  )
  return nodes
}
