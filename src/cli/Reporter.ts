/**
 * Reporters turn build events into what a person sees, on stderr (stdout is kept for results and --json):
 *   tty   — a live display redrawn in place: done/total per stage, what is running, elapsed, cost so far and
 *           the estimate of what is left (from a dry walk before the build: `preview`).
 *   plain — one line per finished, failed or retried node (not a TTY, or CI).
 *   quiet — nothing (--quiet; warnings are still printed by the command).
 * --json keeps stdout for its one object and has progress on stderr all the same: a 26-minute build must not
 * look hung.
 *
 * A node's time is the time it worked, from its pool slot to its stored result, less retry back-offs. The
 * time it waited — for its inputs, then for a slot in its pool, then between attempts — is said apart: on a
 * 400-sentence film the 400th narration waits a minute for a slot and works two seconds.
 *
 * The pipeline: the scheduler finishes the film sentence after sentence (critical path, then the film's
 * order), so the display says which sentences are finished ("sentences 12/433: 1–12") and when the first one
 * was; each finished sentence can be watched in out/sentences/ while the rest is built.
 */
import type { BuildEvent } from "../engine/Events.ts"
import * as Cost from "../engine/Cost.ts"
import { stages } from "../Film.ts"
import { displayName } from "../providers/Names.ts"

export type Mode = "tty" | "plain" | "quiet"

export const chooseMode = (quiet: boolean, stream: NodeJS.WriteStream = process.stderr): Mode =>
  quiet ? "quiet" : stream.isTTY && !process.env.CI ? "tty" : "plain"

const stageOrder: ReadonlyArray<string> = stages

const seconds = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`)

const providerName = displayName

/** "3 clips still being made by fal are kept; the next build collects them". */
export const keptLine = (count: number, what: string, provider: string) =>
  count === 1
    ? `1 ${what} still being made by ${providerName(provider)} is kept; the next build collects it`
    : `${count} ${what}s still being made by ${providerName(provider)} are kept; the next build collects them`

export interface Times {
  readonly workMs: number
  readonly inputsMs: number
  readonly poolMs: number
  readonly pool?: string | undefined
  readonly backoffMs: number
}

/** " (waited 66s: 60s for inputs, 6.0s in the local pool)"; nothing when the waits are negligible. */
export const waited = (t: Times): string => {
  const parts: Array<[number, string]> = [
    [t.inputsMs, "for inputs"],
    [t.poolMs, `in the ${t.pool ?? "?"} pool`],
    [t.backoffMs, "before retries"]
  ].filter(([ms]) => (ms as number) >= 100) as Array<[number, string]>
  if (parts.length === 0) return ""
  if (parts.length === 1) return ` (waited ${seconds(parts[0]![0])} ${parts[0]![1]})`
  const total = parts.reduce((a, [ms]) => a + ms, 0)
  return ` (waited ${seconds(total)}: ${parts.map(([ms, what]) => `${seconds(ms)} ${what}`).join(", ")})`
}

/** The sentence a mux finishes ("sentence:12:mux" → 12): a finished sentence is one whose mux is stored. */
const sentenceOf = (id: string): number | undefined => {
  const m = /^sentence:(\d+):mux$/.exec(id)
  return m ? Number(m[1]) : undefined
}

/** "1–12, 15, 20–22": sorted numbers as ranges, the first `max` of them. */
export const ranges = (ns: Iterable<number>, max = 6): string => {
  const sorted = [...ns].sort((a, b) => a - b)
  const out: Array<string> = []
  for (let i = 0; i < sorted.length; ) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}–${sorted[j]}`)
    i = j + 1
  }
  return out.length > max ? `${out.slice(0, max).join(", ")}, …` : out.join(", ")
}

export interface Pipeline {
  /** Sentences the build knows of, and those finished (built or already stored). */
  readonly total: number
  readonly finished: ReadonlyArray<number>
  /** Milliseconds from the start of the build to the first sentence it finished (undefined: none yet). */
  readonly firstMs: number | undefined
}

export interface Reporter {
  readonly onEvent: (event: BuildEvent) => void
  readonly close: () => void
  /** Prints a line above the live display. */
  readonly line: (text: string) => void
  /** What the build is expected to build, with estimates: the display counts down what is left of it. */
  readonly preview: (wouldBuild: ReadonlyArray<{ readonly id: string; readonly stage: string; readonly estimate: Cost.Cost }>) => void
  /** The estimate of what is left to build (undefined before a preview). */
  readonly left: () => Cost.Total | undefined
  /** Which sentences are finished so far, and when the first was. */
  readonly pipeline: () => Pipeline
}

export const make = (
  mode: Mode,
  options: {
    readonly dryRun?: boolean
    readonly estimateLeft?: () => Cost.Total | undefined
    readonly write?: (s: string) => void
    /** The clock (tests). */
    readonly now?: () => number
  } = {}
): Reporter => {
  const write = options.write ?? ((s: string) => void process.stderr.write(s))
  const now = options.now ?? Date.now
  const started = now()
  /** When each node became known (it then waits for its inputs), got its first pool slot, and its back-offs. */
  const discoveredAt = new Map<string, number>()
  const slotAt = new Map<string, { at: number; pool: string }>()
  const backoffMs = new Map<string, number>()
  const stages = new Map<string, { total: number; done: number }>()
  const running = new Map<string, number>()
  let spent = Cost.zero
  const sentences = new Set<number>()
  const finished = new Set<number>()
  let firstMs: number | undefined
  /** A sentence's mux is stored: it is finished (the first one built is the pipeline's first result). */
  const finish = (id: string, built: boolean) => {
    const n = sentenceOf(id)
    if (n === undefined || finished.has(n)) return
    finished.add(n)
    if (built && firstMs === undefined) {
      firstMs = now() - started
      if (mode === "plain") line(`first   sentence ${n} finished after ${seconds(firstMs)} (out/sentences/${String(n).padStart(3, "0")}.mp4)`)
    }
  }
  /** Planned node → its estimate; a node leaves it when it is built, found cached, fails or is refused. */
  let plan: Map<string, Cost.Cost> | undefined
  const estimateLeft = () =>
    options.estimateLeft?.() ?? (plan ? Cost.sum(plan.values()) : undefined)
  let timer: ReturnType<typeof setInterval> | undefined
  /** Paid requests a provider keeps working on after a Ctrl-C, by provider and kind: said once, at the end. */
  const kept = new Map<string, { provider: string; what: string; count: number }>()

  const stage = (name: string) => {
    let s = stages.get(name)
    if (!s) {
      s = { total: 0, done: 0 }
      stages.set(name, s)
    }
    return s
  }

  const render = () => {
    const parts = [...stages.entries()]
      .sort((a, b) => stageOrder.indexOf(a[0]) - stageOrder.indexOf(b[0]))
      .map(([name, s]) => `${name} ${s.done}/${s.total}`)
    const busy = [...running.keys()].slice(0, 3).join(", ") + (running.size > 3 ? ` +${running.size - 3}` : "")
    const left = estimateLeft()
    const film =
      sentences.size === 0
        ? []
        : [
            `sentences ${finished.size}/${sentences.size} finished${finished.size ? `: ${ranges(finished)}` : ""}${firstMs !== undefined ? ` · first after ${seconds(firstMs)}` : ""}`
          ]
    return [
      `${parts.join("  ")}`,
      ...film,
      `${seconds(now() - started)} elapsed · spent ${Cost.format(spent)}${left ? ` · left ≈ ${Cost.format(left)}` : ""}${busy ? ` · running ${busy}` : ""}`
    ]
  }

  /** How many lines the display has on screen (it grows a line once the film's sentences are known). */
  let drawn = 0
  const clear = () => {
    if (drawn > 0) write("\x1b[2K" + "\x1b[1A\x1b[2K".repeat(drawn - 1) + "\r")
    drawn = 0
  }

  const draw = () => {
    if (mode !== "tty") return
    clear()
    const lines = render()
    const width = process.stderr.columns ?? 100
    write(lines.map((l) => l.slice(0, width - 1)).join("\n"))
    drawn = lines.length
  }

  /** Lines a person must see even with --json (on stderr, like warnings). */
  const important = (text: string) => (mode === "quiet" ? write(text + "\n") : line(text))

  const line = (text: string) => {
    if (mode === "quiet") return
    if (mode === "tty") {
      clear()
      write(text + "\n")
      draw()
    } else write(text + "\n")
  }

  if (mode === "tty") timer = setInterval(draw, 250)

  const onEvent = (event: BuildEvent) => {
    if ("id" in event && event._tag !== "Started" && event._tag !== "Request" && event._tag !== "Retrying") plan?.delete(event.id)
    switch (event._tag) {
      case "Discovered":
        for (const n of event.nodes) {
          stage(n.stage).total++
          if (!discoveredAt.has(n.id)) discoveredAt.set(n.id, now())
          const s = sentenceOf(n.id)
          if (s !== undefined) sentences.add(s)
        }
        break
      case "Started":
        running.set(event.id, now())
        if (!slotAt.has(event.id)) slotAt.set(event.id, { at: now(), pool: event.pool })
        if (event.attempt > 1) line(`retry   ${event.id} (attempt ${event.attempt})`)
        break
      case "Cached":
        stage(event.stage).done++
        finish(event.id, false)
        break
      case "Built":
        running.delete(event.id)
        stage(event.stage).done++
        finish(event.id, true)
        if (mode === "plain" || event.cost.usd !== 0) {
          const t = times(event.id, event.startedAt, event.endedAt)
          line(`built   ${event.id} in ${seconds(t.workMs)}${waited(t)}${event.cost.source === "free" ? "" : ` · ${Cost.format(event.cost)}`}`)
        }
        break
      case "Retrying":
        backoffMs.set(event.id, (backoffMs.get(event.id) ?? 0) + event.delayMs)
        line(`wait    ${event.id}: ${event.error} (retrying in ${seconds(event.delayMs)})`)
        break
      case "Failed":
        running.delete(event.id)
        line(`FAILED  ${event.id}: ${event.error}`)
        break
      case "Skipped":
        if (mode === "plain") line(`skipped ${event.id} (${event.because})`)
        break
      case "WouldBuild":
        stage(event.stage).done++
        break
      case "Warning":
        line(`warning: ${event.message}`)
        break
      case "Request":
        spent = Cost.add(spent, event.request.cost)
        break
      case "InFlight":
        if (event.state === "waiting")
          important(`wait    ${event.id}: ${providerName(event.provider)} is making this ${event.what} and it is paid for: waiting for it before stopping (Ctrl-C again quits at once and loses it)`)
        else {
          const key = `${event.provider}\u0000${event.what}`
          const k = kept.get(key) ?? { provider: event.provider, what: event.what, count: 0 }
          kept.set(key, { ...k, count: k.count + 1 })
        }
        break
      case "OverBudget":
        line(`cap     ${event.id} not started: ${Cost.format(event.estimate)} more would pass the cost cap (spent $${event.spentUsd.toFixed(2)}, running $${event.runningUsd.toFixed(2)})`)
        break
    }
    if (mode === "tty") draw()
  }

  /** A built node's work and waits, from the events seen (`readyAt`: its inputs were built, it asked for a slot). */
  const times = (id: string, readyAt: number, endedAt: number): Times => {
    const slot = slotAt.get(id)
    const firstSlot = Math.min(Math.max(slot?.at ?? readyAt, readyAt), endedAt)
    const backoff = Math.min(backoffMs.get(id) ?? 0, endedAt - firstSlot)
    const known = discoveredAt.get(id)
    return {
      workMs: endedAt - firstSlot - backoff,
      inputsMs: known === undefined ? 0 : Math.max(0, readyAt - known),
      poolMs: firstSlot - readyAt,
      pool: slot?.pool,
      backoffMs: backoff
    }
  }

  const preview = (wouldBuild: ReadonlyArray<{ readonly id: string; readonly estimate: Cost.Cost }>) => {
    plan = new Map(wouldBuild.map((w) => [w.id, w.estimate]))
    const paid = wouldBuild.filter((w) => w.estimate.source !== "free")
    if (mode === "plain" && wouldBuild.length > 0)
      line(`plan    ${wouldBuild.length} to build${paid.length ? ` (${paid.length} paid)` : ""}, estimated ${Cost.format(Cost.sum(wouldBuild.map((w) => w.estimate)))}`)
    if (mode === "tty") draw()
  }

  return {
    onEvent,
    line,
    preview,
    left: estimateLeft,
    pipeline: () => ({ total: sentences.size, finished: [...finished].sort((a, b) => a - b), firstMs }),
    close: () => {
      if (timer) clearInterval(timer)
      clear()
      for (const k of kept.values()) important(keptLine(k.count, k.what, k.provider))
      kept.clear()
    }
  }
}
