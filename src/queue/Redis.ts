/**
 * The Redis behind the job queue (BullMQ), the leases on paid nodes (Lease.ts) and the providers' limits
 * shared by every worker (Limiter.ts). One URL: `--queue redis://host:port[/db]` or `STORYSHOT_QUEUE`.
 *
 * Surprises this module deals with:
 * - ioredis reconnects forever and, by default, keeps commands waiting meanwhile; BullMQ's blocking
 *   connections require `maxRetriesPerRequest: null`. Our own short commands (leases, permits) use a
 *   connection that gives up after a few tries instead, so a dead Redis is an error, not a hang.
 * - An ioredis client with no 'error' listener prints every failed reconnect as an unhandled error.
 * - ioredis and BullMQ are loaded only by `serve --queue` and `worker` (the other commands never pay for them).
 */
import type { Redis as IORedis } from "ioredis"
import { Context, Effect, Layer, Schema } from "effect"

export class QueueError extends Schema.TaggedError<QueueError>()("QueueError", {
  url: Schema.String,
  message: Schema.String
}) {}

/** A queue URL as given, checked: redis:// or rediss://, a host; what messages name has no password. */
export interface QueueSettings {
  readonly url: string
  /** The URL without its password (for messages and logs). */
  readonly shown: string
  /** BullMQ's queue name (several deployments may share one Redis). */
  readonly name: string
}

export const parseUrl = (raw: string, name = "storyshot-builds"): QueueSettings | string => {
  let u: URL
  try {
    u = new URL(raw.trim())
  } catch {
    return `"${raw}" is not a URL: give redis://HOST:PORT (e.g. redis://127.0.0.1:6379)`
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") return `${u.protocol}// is not a Redis URL: give redis://HOST:PORT (or rediss:// for TLS)`
  if (u.hostname === "") return `"${raw}" names no host: give redis://HOST:PORT`
  const shown = new URL(u.href)
  if (shown.password !== "") shown.password = "***"
  return { url: u.href, shown: shown.href, name }
}

/** A connection for short commands: fails after a few tries rather than waiting for Redis forever. */
export const connect = (settings: QueueSettings, options: { readonly blocking?: boolean } = {}) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const { Redis } = await import("ioredis")
        const client: IORedis = new Redis(settings.url, {
          maxRetriesPerRequest: options.blocking ? null : 3,
          enableOfflineQueue: true,
          connectTimeout: 3000,
          retryStrategy: (times) => Math.min(times * 200, 2000)
        })
        client.on("error", () => {})
        await client.ping()
        return client
      },
      catch: (e) => new QueueError({ url: settings.shown, message: `cannot reach Redis at ${settings.shown} (${(e as Error).message ?? e}): start redis-server, or fix --queue` })
    }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new QueueError({ url: settings.shown, message: `Redis at ${settings.shown} did not answer within 5 s: start redis-server, or fix --queue` }) })),
    (client) => Effect.promise(() => client.quit().then(() => undefined, () => client.disconnect()))
  )

/** The short-command connection of this process, as a service. */
export class RedisClient extends Context.Tag("storyshot/queue/RedisClient")<RedisClient, { readonly client: IORedis; readonly settings: QueueSettings }>() {
  static readonly layer = (settings: QueueSettings) => Layer.scoped(this, Effect.map(connect(settings), (client) => ({ client, settings })))
}

/** Keys of ours in Redis (BullMQ keeps its own under `bull:<queue>:`). */
export const keys = {
  lease: (fingerprint: string) => `storyshot:lease:${fingerprint}`,
  limit: (pool: string) => `storyshot:limit:${pool}`,
  events: "storyshot:events",
  /** The server asks the worker running a build to stop it (the message is the run id). */
  cancel: "storyshot:cancel"
}
