/**
 * Reporters turn build events into what a person sees, on stderr (stdout is kept for results and --json):
 *   tty   — a live display redrawn in place: done/total per stage, what is running, elapsed, cost so far and
 *           the estimate of what is left (from a dry walk before the build: `preview`).
 *   plain — one line per finished, failed or retried node (not a TTY, CI, or --json).
 *   quiet — nothing (--json alone prints its object at the end).
 */
import type { BuildEvent } from "../engine/Events.ts"
import * as Cost from "../engine/Cost.ts"
import { stages } from "../Film.ts"

export type Mode = "tty" | "plain" | "quiet"

export const chooseMode = (json: boolean, stream: NodeJS.WriteStream = process.stderr): Mode =>
  json ? "quiet" : stream.isTTY && !process.env.CI ? "tty" : "plain"

const stageOrder: ReadonlyArray<string> = stages

const seconds = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`)

const providerName = (provider: string) => (provider === "openai" ? "OpenAI" : provider === "openrouter" ? "OpenRouter" : provider)

/** "3 clips still being made by fal are kept; the next build collects them". */
export const keptLine = (count: number, what: string, provider: string) =>
  count === 1
    ? `1 ${what} still being made by ${providerName(provider)} is kept; the next build collects it`
    : `${count} ${what}s still being made by ${providerName(provider)} are kept; the next build collects them`

export interface Reporter {
  readonly onEvent: (event: BuildEvent) => void
  readonly close: () => void
  /** Prints a line above the live display. */
  readonly line: (text: string) => void
  /** What the build is expected to build, with estimates: the display counts down what is left of it. */
  readonly preview: (wouldBuild: ReadonlyArray<{ readonly id: string; readonly stage: string; readonly estimate: Cost.Cost }>) => void
  /** The estimate of what is left to build (undefined before a preview). */
  readonly left: () => Cost.Total | undefined
}

export const make = (
  mode: Mode,
  options: { readonly dryRun?: boolean; readonly estimateLeft?: () => Cost.Total | undefined; readonly write?: (s: string) => void } = {}
): Reporter => {
  const write = options.write ?? ((s: string) => void process.stderr.write(s))
  const started = Date.now()
  const stages = new Map<string, { total: number; done: number }>()
  const running = new Map<string, number>()
  let spent = Cost.zero
  /** Planned node → its estimate; a node leaves it when it is built, found cached, fails or is refused. */
  let plan: Map<string, Cost.Cost> | undefined
  const estimateLeft = () =>
    options.estimateLeft?.() ?? (plan ? Cost.sum(plan.values()) : undefined)
  let drawn = false
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
    const now = [...running.keys()].slice(0, 3).join(", ") + (running.size > 3 ? ` +${running.size - 3}` : "")
    const left = estimateLeft()
    return [
      `${parts.join("  ")}`,
      `${seconds(Date.now() - started)} elapsed · spent ${Cost.format(spent)}${left ? ` · left ≈ ${Cost.format(left)}` : ""}${now ? ` · running ${now}` : ""}`
    ]
  }

  const clear = () => {
    if (drawn) write("\x1b[2K\x1b[1A\x1b[2K\r")
    drawn = false
  }

  const draw = () => {
    if (mode !== "tty") return
    clear()
    const [a, b] = render()
    const width = process.stderr.columns ?? 100
    write(`${a!.slice(0, width - 1)}\n${b!.slice(0, width - 1)}`)
    drawn = true
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
        for (const n of event.nodes) stage(n.stage).total++
        break
      case "Started":
        running.set(event.id, Date.now())
        if (event.attempt > 1) line(`retry   ${event.id} (attempt ${event.attempt})`)
        break
      case "Cached":
        stage(event.stage).done++
        break
      case "Built":
        running.delete(event.id)
        stage(event.stage).done++
        if (mode === "plain" || event.cost.usd !== 0)
          line(
            `built   ${event.id} in ${seconds(event.endedAt - event.startedAt)}${event.cost.source === "free" ? "" : ` · ${Cost.format(event.cost)}`}`
          )
        break
      case "Retrying":
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
    close: () => {
      if (timer) clearInterval(timer)
      clear()
      for (const k of kept.values()) important(keptLine(k.count, k.what, k.provider))
      kept.clear()
    }
  }
}
