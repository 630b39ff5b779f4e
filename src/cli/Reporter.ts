/**
 * Reporters turn build events into what a person sees, on stderr (stdout is kept for results and --json):
 *   tty   — a live display redrawn in place: done/total per stage, what is running, elapsed, cost so far.
 *   plain — one line per finished, failed or retried node (not a TTY, CI, or --json).
 *   quiet — nothing (--json alone prints its object at the end).
 */
import type { BuildEvent } from "../engine/Events.ts"
import * as Cost from "../engine/Cost.ts"

export type Mode = "tty" | "plain" | "quiet"

export const chooseMode = (json: boolean, stream: NodeJS.WriteStream = process.stderr): Mode =>
  json ? "quiet" : stream.isTTY && !process.env.CI ? "tty" : "plain"

const stageOrder = ["transcript", "audio", "timing", "prompts", "image", "video", "mux", "final"]

const seconds = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`)

export interface Reporter {
  readonly onEvent: (event: BuildEvent) => void
  readonly close: () => void
  /** Prints a line above the live display. */
  readonly line: (text: string) => void
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
  let drawn = false
  let timer: ReturnType<typeof setInterval> | undefined

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
    const left = options.estimateLeft?.()
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
        spent = Cost.add(spent, event.cost)
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
        break
    }
    if (mode === "tty") draw()
  }

  return {
    onEvent,
    line,
    close: () => {
      if (timer) clearInterval(timer)
      clear()
    }
  }
}
