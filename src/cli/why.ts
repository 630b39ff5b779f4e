/**
 * `storyshot why ID`: why a target is stale (it would be rebuilt) or why it was last rebuilt, ingredient by
 * ingredient — "model: gpt-image-1 → gpt-image-1.5", "text: … → …", "input sentence:2:prompts#1 changed",
 * "a new take (--force)" — or that it is fresh.
 *
 * The data a node would have now comes from a dry walk of the graph (nothing is built or paid); the data it
 * had comes from the record its last build stored (state.json maps id → fingerprint → record.data). When an
 * input would itself be rebuilt, its new hash cannot be known before it is built: `why` follows that input
 * upstream to the change that started it.
 */
import { Effect, Option } from "effect"
import { BuildEvents } from "../engine/Events.ts"
import * as Fingerprint from "../engine/Fingerprint.ts"
import type { Json } from "../engine/Hash.ts"
import * as Scheduler from "../engine/Scheduler.ts"
import { Store, type NodeRecord } from "../engine/Store.ts"
import * as Targets from "../../targets/index.ts"
import type { Profile } from "../Config.ts"
import type { Workspace } from "../Workspace.ts"
import { root } from "./Root.ts"
import type { Flags, whyOptions } from "./Commands.ts"
import * as RunLog from "./RunLog.ts"
import * as Session from "./Session.ts"

export interface Change {
  readonly ingredient: string
  readonly before: Json | undefined
  readonly after: Json | undefined
  /** An input whose new output is not known yet: it would be rebuilt first (see `upstream`). */
  readonly pending?: boolean | undefined
}

export interface Explanation {
  readonly id: string
  readonly status: "fresh" | "stale" | "not-in-film"
  /** One line a person reads first. */
  readonly summary: string
  /** Stale: what differs from the last build's record. Fresh: what changed when it was last rebuilt. */
  readonly changes: ReadonlyArray<Change>
  /** The last rebuild was a new take asked for with --force. */
  readonly forced?: boolean | undefined
  readonly builtAt?: number | undefined
  /** Inputs that would be rebuilt, explained in turn (up to the change that started it). */
  readonly upstream: ReadonlyArray<Explanation>
}

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC")

/** Explains `id` in this workspace, walking the graph dry: builds and pays nothing. */
export const explain = (ws: Workspace, id: string) =>
  Effect.gen(function* () {
    const sentences = yield* Session.readSentences(ws)
    yield* Session.checkTargets(ws, [id], sentences)
    return yield* Effect.gen(function* () {
      const store = yield* Store
      const result = yield* Scheduler.build(
        { nodes: Targets.plan(ws, sentences), rules: Targets.rules },
        { targets: [id], dryRun: true, keepGoing: true }
      ).pipe(
        Effect.provide(BuildEvents.layerNoop),
        Effect.mapError((e) => new Session.UsageError({ message: e.message }))
      )
      const state = yield* store.readState
      const all = yield* store.records
      const stale = new Set(result.wouldBuild.map((w) => w.id))
      const memo = new Map<string, Explanation>()

      /** The ids of a node's data dependencies, in fingerprint order (declared, then expanded). */
      const depNames = (nodeId: string): ReadonlyArray<string> => {
        const spec = result.nodes.get(nodeId)
        if (!spec) return []
        const declared = spec.deps.map((d) => d.id)
        return [...declared, ...result.edges(nodeId).filter((d) => !declared.includes(d))]
      }

      const lastRecord = (nodeId: string): Effect.Effect<NodeRecord | undefined> => {
        const fp = state.nodes[nodeId]?.fingerprint
        return fp ? store.getRecord(fp).pipe(Effect.map(Option.getOrUndefined)) : Effect.succeed(undefined)
      }

      const go = (nodeId: string, depth: number): Effect.Effect<Explanation> =>
        Effect.gen(function* () {
          const seen = memo.get(nodeId)
          if (seen) return seen
          const spec = result.nodes.get(nodeId)
          if (!spec) {
            const e: Explanation = { id: nodeId, status: "not-in-film", summary: `${nodeId} is not part of this film`, changes: [], upstream: [] }
            memo.set(nodeId, e)
            return e
          }
          const now = result.data.get(nodeId)
          const names = depNames(nodeId)

          if (stale.has(nodeId)) {
            const before = yield* lastRecord(nodeId)
            const changes: Array<Change> = []
            const upstreamIds: Array<string> = []
            if (before && now) {
              for (const c of Fingerprint.diff(before.data, now, names)) {
                const pending = typeof c.after === "string" && c.after.startsWith("guess:")
                changes.push(pending ? { ...c, after: "(would be rebuilt)", pending } : c)
              }
              now.deps.forEach((d, i) => {
                if (d.hash.startsWith("guess:") && names[i] && !upstreamIds.includes(names[i]!)) upstreamIds.push(names[i]!)
              })
            } else {
              // No fingerprint now (an input cannot even be guessed) or no record: name the stale inputs.
              for (const n of names) if (stale.has(n) && !upstreamIds.includes(n)) upstreamIds.push(n)
            }
            const upstream =
              depth < 12 ? yield* Effect.forEach(upstreamIds, (u) => go(u, depth + 1)) : []
            const summary = !before
              ? `${nodeId} is stale: it has never been built${state.nodes[nodeId] ? " (its stored result is gone: cleaned, or damaged)" : ""}`
              : changes.length === 0 && upstreamIds.length === 0
                ? `${nodeId} is stale: nothing in its fingerprint changed, but no stored result matches it (cleaned, or damaged)`
                : `${nodeId} is stale: it would be rebuilt because ${describe(changes, upstreamIds)}`
            const e: Explanation = { id: nodeId, status: "stale", summary, changes, upstream }
            memo.set(nodeId, e)
            return e
          }

          // Fresh: its stored result matches. Say why it was last (re)built.
          const fingerprint = now ? Fingerprint.of(now) : state.nodes[nodeId]?.fingerprint
          const current = fingerprint ? Option.getOrUndefined(yield* store.getRecord(fingerprint)) : undefined
          if (!current) {
            const e: Explanation = { id: nodeId, status: "fresh", summary: `${nodeId} is fresh`, changes: [], upstream: [] }
            memo.set(nodeId, e)
            return e
          }
          const earlier = all
            .filter((r) => r.id === nodeId && r.fingerprint !== current.fingerprint && r.endedAt <= current.startedAt)
            .sort((a, b) => b.endedAt - a.endedAt)[0]
          const lastTake = current.takes?.[current.takes.length - 1]
          let e: Explanation
          if (lastTake && (!earlier || lastTake.createdAt >= earlier.endedAt)) {
            e = {
              id: nodeId,
              status: "fresh",
              summary: `${nodeId} is fresh; it was last rebuilt at ${when(current.endedAt)} as a new take (--force): nothing in its fingerprint changed (${current.takes!.length} earlier take${current.takes!.length === 1 ? "" : "s"} kept in the store)`,
              changes: [{ ingredient: "take (--force)", before: current.takes!.length, after: current.takes!.length + 1 }],
              forced: true,
              builtAt: current.endedAt,
              upstream: []
            }
          } else if (earlier) {
            const changes = Fingerprint.diff(earlier.data, current.data, names)
            e = {
              id: nodeId,
              status: "fresh",
              summary: `${nodeId} is fresh; it was last rebuilt at ${when(current.endedAt)} because ${describe(changes, [])}`,
              changes,
              builtAt: current.endedAt,
              upstream: []
            }
          } else {
            e = {
              id: nodeId,
              status: "fresh",
              summary: `${nodeId} is fresh; it was first built at ${when(current.endedAt)} and has not changed since`,
              changes: [],
              builtAt: current.endedAt,
              upstream: []
            }
          }
          memo.set(nodeId, e)
          return e
        })

      return yield* go(id, 0)
    }).pipe(Effect.provide(Session.layers(ws, RunLog.runDir(ws.storeDir, "why"), () => {})))
  })

const describe = (changes: ReadonlyArray<Change>, upstream: ReadonlyArray<string>) => {
  const names = changes.map((c) => c.ingredient.replace(/^input /, ""))
  const parts = changes.filter((c) => !c.ingredient.startsWith("input ")).map((c) => `its ${c.ingredient} changed`)
  const inputs = changes.filter((c) => c.ingredient.startsWith("input ") && !c.pending).map((c) => c.ingredient.slice(6))
  if (inputs.length) parts.push(`input${inputs.length === 1 ? "" : "s"} ${inputs.join(", ")} changed`)
  if (upstream.length) parts.push(`input${upstream.length === 1 ? "" : "s"} ${upstream.join(", ")} would be rebuilt first`)
  return parts.length ? parts.join("; ") : names.join(", ") || "its fingerprint changed"
}

const show = (v: Json | undefined): string => {
  if (v === undefined) return "(none)"
  const text = typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v)
  return text.length > 80 ? `${text.slice(0, 77)}…` : text
}

/** The explanation as indented lines; a node reached twice upstream is explained once. */
export const toText = (e: Explanation, indent = "", seen: Set<string> = new Set()): string => {
  if (seen.has(e.id)) return `${indent}${e.id}: see above`
  seen.add(e.id)
  const lines = [`${indent}${e.summary}`]
  for (const c of e.changes) lines.push(`${indent}  ${c.ingredient}: ${show(c.before)} → ${typeof c.after === "string" && c.pending ? c.after : show(c.after)}`)
  for (const u of e.upstream) lines.push(toText(u, `${indent}  `, seen))
  return lines.join("\n")
}

/** `storyshot why ID` (its options are in Commands.ts). */
export const handler = (flags: Flags<typeof whyOptions>) =>
    Effect.gen(function* () {
      const g = yield* root
      const ws = yield* Session.openWorkspace(g, Option.getOrUndefined(flags.profile))
      const e = yield* explain(ws, flags.id)
      process.stdout.write((flags.json ? JSON.stringify(e, null, 2) : toText(e)) + "\n")
    })
