/**
 * `storyshot graph`: the target graph as far as it is known, without building or paying anything.
 * Nodes whose result is stored are `fresh`; others are `stale`. Shots are known once their sentence's
 * narration is; where it is not built yet, the shots of the last recorded expansion are shown and marked.
 */
import { Effect, Option } from "effect"
import * as Scheduler from "../engine/Scheduler.ts"
import { recordedKey } from "../Build.ts"
import * as Targets from "../../targets/index.ts"
import { root } from "./Root.ts"
import type { Flags, graphOptions } from "./Commands.ts"
import * as Session from "./Session.ts"
import * as RunLog from "./RunLog.ts"
import type { Profile } from "../Config.ts"

export type Status = "fresh" | "stale" | "unexpanded"

export interface GraphNode {
  readonly id: string
  readonly stage: string
  readonly status: Status
  readonly deps: ReadonlyArray<string>
}

export const collect = (g: Session.GlobalOptions, profile: Profile | undefined) =>
  Effect.gen(function* () {
    const ws = yield* Session.openWorkspace(g, profile)
    const sentences = yield* Session.readSentences(ws)
    const edits = Targets.planContext(ws).director.edits
    const result = yield* Scheduler.build(
      { nodes: Targets.plan(ws, sentences), rules: Targets.rules },
      // The same key as a build's: the graph the last build recorded is shown as it is, when nothing changed.
      { targets: [...Targets.defaultTargets], dryRun: true, keepGoing: true, recorded: recordedKey(ws, sentences, edits) }
    ).pipe(
      Effect.mapError((e) => new Session.UsageError({ message: e.message })),
      Effect.provide(Session.layers(ws, RunLog.runDir(ws.storeDir, "graph"), () => {}))
    )
    const stale = new Set(result.wouldBuild.map((w) => w.id))
    const nodes: Array<GraphNode> = []
    const seen = new Set<string>()
    for (const [id, spec] of result.nodes) {
      // Only what the film needs (the `transcript` node is a target of its own, outside the film's closure).
      if (!result.results.has(id) && !stale.has(id)) continue
      seen.add(id)
      const guessed = result.results.get(id)?.hash.startsWith("guess:") ?? false
      nodes.push({
        id,
        stage: spec.stage,
        status: result.results.has(id) && !guessed && !stale.has(id) ? "fresh" : "stale",
        deps: result.edges(id)
      })
    }
    // Expansions that could not be made now: show the last recorded one.
    for (const [parent, children] of Object.entries(result.state.expansions)) {
      if (!seen.has(parent)) continue
      for (const child of children) {
        if (seen.has(child.id)) continue
        seen.add(child.id)
        nodes.push({ id: child.id, stage: child.stage, status: "unexpanded", deps: [] })
      }
    }
    return nodes
  })

// DOT's quoted strings: \" is a quote, and in a label \n is a (centred) line break. A real newline is written
// as that escape; escaping it twice would show a literal "\n" in the picture.
const quote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, "\\n")}"`

export const toDot = (nodes: ReadonlyArray<GraphNode>) => {
  const lines = ["digraph storyshot {", "  rankdir=LR;", "  node [shape=box, fontname=\"DejaVu Sans\"];"]
  for (const n of nodes)
    lines.push(
      `  ${quote(n.id)} [label=${quote(`${n.id}\n${n.status}`)}${n.status === "fresh" ? "" : n.status === "stale" ? ", color=orange" : ", style=dashed"}];`
    )
  for (const n of nodes) for (const d of n.deps) lines.push(`  ${quote(d)} -> ${quote(n.id)};`)
  lines.push("}")
  return lines.join("\n")
}

const mermaidId = (id: string) => id.replace(/[^A-Za-z0-9_]/g, "_")

export const toMermaid = (nodes: ReadonlyArray<GraphNode>) => {
  const lines = ["flowchart LR"]
  for (const n of nodes) lines.push(`  ${mermaidId(n.id)}["${n.id} (${n.status})"]`)
  for (const n of nodes) for (const d of n.deps) lines.push(`  ${mermaidId(d)} --> ${mermaidId(n.id)}`)
  return lines.join("\n")
}

export const toText = (nodes: ReadonlyArray<GraphNode>) => {
  const lines: Array<string> = []
  const counts = { fresh: 0, stale: 0, unexpanded: 0 }
  for (const n of nodes) {
    counts[n.status]++
    const mark = n.status === "fresh" ? "✓" : n.status === "stale" ? "•" : "?"
    lines.push(`${mark} ${n.id.padEnd(22)} ${n.stage.padEnd(10)} ${n.status}${n.deps.length ? `  ← ${n.deps.join(", ")}` : ""}`)
  }
  lines.push(
    "",
    `${nodes.length} nodes: ${counts.fresh} fresh, ${counts.stale} stale${counts.unexpanded ? `, ${counts.unexpanded} not expanded yet (shown from the last build; their sentence's narration must be rebuilt first)` : ""}`
  )
  return lines.join("\n")
}

/** `storyshot graph` (its options are in Commands.ts). */
export const handler = (flags: Flags<typeof graphOptions>) =>
    Effect.gen(function* () {
      const g = yield* root
      const nodes = yield* collect(g, Option.getOrUndefined(flags.profile))
      const out =
        flags.format === "dot"
          ? toDot(nodes)
          : flags.format === "mermaid"
            ? toMermaid(nodes)
            : flags.format === "json"
              ? JSON.stringify({ nodes }, null, 2)
              : toText(nodes)
      process.stdout.write(out + "\n")
    })
