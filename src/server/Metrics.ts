/**
 * Prometheus metrics of `storyshot serve` and `storyshot worker` (prom-client, text format at `/metrics`),
 * counted from the builds' own events (the same ones the reporters draw), so a number here is what the
 * build said, not a second bookkeeping:
 *
 *   storyshot_builds_total{outcome}                 builds that ended: done | failed | interrupted
 *   storyshot_nodes_total{stage,status}             nodes built, cached, failed
 *   storyshot_requests_total{provider}              paid requests sent
 *   storyshot_spend_usd_total{provider,source}      what they cost (reported by the provider or from a price table)
 *   storyshot_spend_unknown_total{provider}         requests whose cost is unknown (never added as $0)
 *   storyshot_saved_usd_total                       what cache hits saved
 *   storyshot_provider_request_seconds{provider}    request latency (submit to answer)
 *   storyshot_node_seconds{stage}                   how long built nodes took
 *   storyshot_queue_depth{state}                    queued builds: waiting | active | delayed (serve --queue, worker)
 *   storyshot_provider_permits_held{provider}       permits of the shared provider limits held now, all workers
 *
 * prom-client is loaded only by these two commands.
 */
import type * as Prom from "prom-client"
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, FiberSet, Layer, Stream } from "effect"
import type { BuildEvent } from "../engine/Events.ts"
import { JobRunner } from "./Jobs.ts"

export interface Metrics {
  readonly onEvent: (event: BuildEvent) => void
  readonly onBuildEnd: (outcome: "done" | "failed" | "interrupted") => void
  /** The text Prometheus scrapes, and its content type. */
  readonly scrape: () => Promise<{ readonly body: string; readonly contentType: string }>
}

export interface Gauges {
  /** Jobs by state, read at each scrape. */
  readonly queueDepth?: (() => Promise<Readonly<Record<string, number>>>) | undefined
  /** Provider permits held now, read at each scrape. */
  readonly permits?: (() => Promise<Readonly<Record<string, number>>>) | undefined
}

export const make = async (gauges: Gauges = {}): Promise<Metrics> => {
  const prom: typeof Prom = await import("prom-client")
  const registers = [new prom.Registry()]
  const register = registers[0]!
  prom.collectDefaultMetrics({ register, prefix: "storyshot_process_" })
  const builds = new prom.Counter({ name: "storyshot_builds_total", help: "Builds that ended, by outcome", labelNames: ["outcome"], registers })
  const nodes = new prom.Counter({ name: "storyshot_nodes_total", help: "Nodes by stage and status (built, cached, failed)", labelNames: ["stage", "status"], registers })
  const requests = new prom.Counter({ name: "storyshot_requests_total", help: "Paid requests sent, by provider", labelNames: ["provider"], registers })
  const spend = new prom.Counter({ name: "storyshot_spend_usd_total", help: "USD paid, by provider and where the price came from", labelNames: ["provider", "source"], registers })
  const unknown = new prom.Counter({ name: "storyshot_spend_unknown_total", help: "Paid requests whose cost is unknown (not counted as $0)", labelNames: ["provider"], registers })
  const saved = new prom.Counter({ name: "storyshot_saved_usd_total", help: "USD that cache hits saved", registers })
  const latency = new prom.Histogram({
    name: "storyshot_provider_request_seconds",
    help: "Provider request latency, by provider",
    labelNames: ["provider"],
    buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600],
    registers
  })
  const nodeSeconds = new prom.Histogram({
    name: "storyshot_node_seconds",
    help: "How long built nodes took, by stage",
    labelNames: ["stage"],
    buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
    registers
  })
  if (gauges.queueDepth) {
    const read = gauges.queueDepth
    new prom.Gauge({
      name: "storyshot_queue_depth",
      help: "Queued builds by state",
      labelNames: ["state"],
      registers,
      async collect() {
        const counts = await read().catch(() => ({}) as Record<string, number>)
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n)
      }
    })
  }
  if (gauges.permits) {
    const read = gauges.permits
    new prom.Gauge({
      name: "storyshot_provider_permits_held",
      help: "Permits of the shared provider limits held now, by every worker",
      labelNames: ["provider"],
      registers,
      async collect() {
        const counts = await read().catch(() => ({}) as Record<string, number>)
        for (const [provider, n] of Object.entries(counts)) this.set({ provider }, n)
      }
    })
  }
  return {
    onEvent: (e) => {
      switch (e._tag) {
        case "Built":
          nodes.inc({ stage: e.stage, status: "built" })
          nodeSeconds.observe({ stage: e.stage }, Math.max(0, e.endedAt - e.startedAt) / 1000)
          return
        case "Cached":
          nodes.inc({ stage: e.stage, status: "cached" })
          if (e.saved.usd !== null && e.saved.usd !== undefined) saved.inc(e.saved.usd)
          return
        case "Failed":
          nodes.inc({ stage: e.stage, status: "failed" })
          return
        case "Request": {
          const r = e.request
          requests.inc({ provider: r.provider })
          if (r.cost.usd === null || r.cost.usd === undefined) unknown.inc({ provider: r.provider })
          else spend.inc({ provider: r.provider, source: r.cost.source }, r.cost.usd)
          latency.observe({ provider: r.provider }, Math.max(0, r.endedAt - r.startedAt) / 1000)
          return
        }
      }
    },
    onBuildEnd: (outcome) => builds.inc({ outcome }),
    scrape: async () => ({ body: await register.metrics(), contentType: register.contentType })
  }
}

/** `GET /metrics` on the server's router. */
export const route = (metrics: Metrics) =>
  HttpApiBuilder.Router.use((router) =>
    router.get(
      "/metrics",
      Effect.promise(() => metrics.scrape()).pipe(
        Effect.map(({ body, contentType }) => HttpServerResponse.text(body, { contentType, headers: { "cache-control": "no-store" } }))
      )
    )
  )

/**
 * The job runner, counted: the first build submitted for a project starts one reader of that project's event
 * stream (the same stream the page reads), which feeds the metrics for as long as the server runs. Works the
 * same for builds run here and builds that workers run (their events come back through the queue).
 */
export const counted = (metrics: Metrics) =>
  Layer.effect(
    JobRunner,
    Effect.gen(function* () {
      const runner = yield* JobRunner
      const readers = yield* FiberSet.make()
      const watched = new Set<string>()
      const ended = new Set<string>()
      const watch = (project: Parameters<typeof runner.submit>[0]) =>
        Effect.suspend(() => {
          if (watched.has(project.dir)) return Effect.void
          watched.add(project.dir)
          return FiberSet.run(
            readers,
            Stream.runForEach(runner.events(project, undefined), ({ event }) =>
              Effect.sync(() => {
                if (event._tag === "Build") metrics.onEvent(event.event)
                else if (event._tag === "Job" && !ended.has(event.job.id)) {
                  const s = event.job.state
                  if (s === "queued" || s === "running") return
                  ended.add(event.job.id)
                  metrics.onBuildEnd(s === "done" ? "done" : s === "failed" ? "failed" : "interrupted")
                }
              })
            )
          )
        })
      return JobRunner.of({ ...runner, submit: (project, order) => Effect.zipRight(watch(project), runner.submit(project, order)) })
    })
  )
