/**
 * The film's graph: every stage rule, and the nodes known before anything is built. Shots are added by the
 * muxes' expansions once the narration is measured.
 */
import type { NodeSpec, Rule } from "../src/engine/Node.ts"
import type { Workspace } from "../src/Workspace.ts"
import * as Audio from "./audio.ts"
import * as Cloud from "./Cloud.ts"
import * as Final from "./final.ts"
import * as Image from "./image.ts"
import * as Models from "./Models.ts"
import * as Mux from "./mux.ts"
import * as Prompts from "./prompts.ts"
import * as Storyboard from "./storyboard.ts"
import * as Subtitles from "./subtitles.ts"
import * as Timing from "./timing.ts"
import * as Transcript from "./transcript.ts"
import * as Video from "./video.ts"

export const rules: { readonly [kind: string]: Rule<unknown, any> } = Object.fromEntries(
  [
    Transcript.rule,
    Audio.rule,
    Timing.shotsRule,
    Timing.timingRule,
    Prompts.rule,
    Image.rule,
    Video.rule,
    Mux.rule,
    Final.rule,
    Subtitles.rule,
    Storyboard.rule
  ].map((r) => [r.kind, r])
)

/** What `storyshot build` makes when no --target is named: the film, its subtitles and its storyboard page. */
export const defaultTargets: ReadonlyArray<string> = ["final", "subtitles", "storyboard"]

export const plan = (ws: Workspace, sentences: ReadonlyArray<string>): ReadonlyArray<NodeSpec> => {
  const { config, env } = ws
  const nodes: Array<NodeSpec> = [Transcript.node(sentences)]
  const price = config.providers.prompts === "openrouter" ? Models.priceOf(ws.storeDir, Cloud.openrouter(env).model) : undefined
  sentences.forEach((sentence, i) => {
    const n = i + 1
    nodes.push(
      Audio.node(n, sentence, config, env),
      Timing.shotsNode(n, config.shotSeconds),
      Timing.timingNode(n, config.shotSeconds, config.fps),
      Prompts.node(n, sentences, config, env, price),
      Mux.node(n, sentences, config, env)
    )
  })
  nodes.push(
    Subtitles.node(sentences, config.fps),
    Final.node(sentences.length, config.subtitles.burn, Final.musicBed(ws.dir, config.music)),
    Storyboard.node(sentences, config, ws)
  )
  return nodes
}
