/**
 * `storyshot worker`: runs builds from the queue (src/queue/Worker.ts). Its options are in Commands.ts.
 * BullMQ, ioredis and prom-client are loaded only by this command.
 */
import { createServer } from "node:http"
import { Effect, HashMap, Option } from "effect"
import type { Flags, workerOptions } from "./Commands.ts"
import * as Session from "./Session.ts"

/** A Redis that cannot be reached is the person's to fix (the URL, or starting Redis): exit 2 in one line, as `serve --queue`. */
const unreachable = (e: { readonly message: string }) => new Session.UsageError({ message: e.message })

export const handler = (flags: Flags<typeof workerOptions>) =>
  Effect.gen(function* () {
    const Redis = yield* Effect.promise(() => import("../queue/Redis.ts"))
    const raw = Option.getOrUndefined(flags.queue) ?? process.env.STORYSHOT_QUEUE
    if (raw === undefined || raw.trim() === "")
      return yield* new Session.UsageError({ message: "storyshot worker needs a queue: --queue redis://HOST:PORT (or STORYSHOT_QUEUE), the one `storyshot serve --queue` uses" })
    const settings = Redis.parseUrl(raw)
    if (typeof settings === "string") return yield* new Session.UsageError({ message: `--queue: ${settings}` })
    if (!(flags.concurrency >= 1 && flags.concurrency <= 64))
      return yield* new Session.UsageError({ message: `--concurrency ${flags.concurrency}: give a number of builds from 1 to 64` })
    const limits: Record<string, number> = {}
    for (const [name, value] of HashMap.toEntries(Option.getOrElse(flags.limit, () => HashMap.empty<string, string>()))) {
      const n = Number(value)
      if (!/^[a-z][a-z0-9-]*$/.test(name) || !Number.isInteger(n) || n < 1)
        return yield* new Session.UsageError({ message: `--limit ${name}=${value}: give a provider pool and a whole number of at least 1 (e.g. --limit openai=2)` })
      limits[name] = n
    }
    const metricsPort = Option.getOrUndefined(flags.metricsPort)
    if (metricsPort !== undefined && !(metricsPort >= 0 && metricsPort <= 65535))
      return yield* new Session.UsageError({ message: `--metrics-port ${metricsPort}: give a port from 1 to 65535 (or 0 for any free one)` })

    const [Worker, Jobs, Limiter, Metrics] = yield* Effect.promise(() =>
      Promise.all([import("../queue/Worker.ts"), import("../queue/Jobs.ts"), import("../queue/Limiter.ts"), import("../server/Metrics.ts")])
    )
    const log = (line: string) => void process.stderr.write(`${line}\n`)
    return yield* Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* Redis.connect(settings).pipe(Effect.mapError(unreachable))
        const metrics =
          metricsPort === undefined
            ? undefined
            : yield* Effect.promise(async () => {
                const { Queue } = await import("bullmq")
                const queue = new Queue(settings.name, { connection: redis.duplicate() })
                return Metrics.make({
                  queueDepth: () => queue.getJobCounts("waiting", "active", "delayed"),
                  permits: async () => {
                    const names = (await redis.keys("storyshot:limit:*")).map((k) => k.slice("storyshot:limit:".length))
                    const out: Record<string, number> = {}
                    for (const n of names) out[n] = await Effect.runPromise(Limiter.held(redis, n))
                    return out
                  }
                })
              })
        if (metrics !== undefined) {
          const server = createServer((req, res) => {
            if ((req.url ?? "").split("?")[0] !== "/metrics") {
              res.writeHead(404, { "content-type": "text/plain" }).end("only /metrics here\n")
              return
            }
            metrics.scrape().then(
              ({ body, contentType }) => res.writeHead(200, { "content-type": contentType }).end(body),
              () => res.writeHead(500).end()
            )
          })
          yield* Effect.acquireRelease(
            Effect.async<void, Session.UsageError>((resume) => {
              server.once("error", (e) => resume(Effect.fail(new Session.UsageError({ message: `--metrics-port ${metricsPort}: ${e.message}` }))))
              server.listen(metricsPort, "127.0.0.1", () => resume(Effect.void))
            }),
            () => Effect.sync(() => server.close())
          )
          const address = server.address()
          log(`storyshot worker: metrics at http://127.0.0.1:${typeof address === "object" && address ? address.port : metricsPort}/metrics`)
        }
        return yield* Worker.run({ settings, concurrency: flags.concurrency, limits, timings: Jobs.timingsFrom(process.env), metrics, log }).pipe(
          Effect.mapError(unreachable)
        )
      })
    )
  })
