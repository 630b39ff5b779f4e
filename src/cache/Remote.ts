/**
 * The remote cache's storage: a bucket on S3-compatible object storage, through `@aws-sdk/client-s3`.
 * Keys are relative to the configured prefix. Every call has its own time budget (an abort signal) on top
 * of the connection and idle time-outs, so a slow or dead remote costs a build seconds, not minutes.
 *
 * Surprises this adapter deals with:
 * - The SDK's default "flexible checksums" send uploads as `aws-chunked` with a CRC trailer; s3rver (and
 *   some other S3-compatible servers) store the chunk framing as part of the object, silently. Checksums are
 *   asked for only when an operation requires them (`WHEN_REQUIRED`); our own SHA-256 check on every read
 *   is what the cache relies on anyway.
 * - SDK releases after early 2027 need Node 22; this one (pinned) warns about it on stderr at the first
 *   client, which would spoil `--json` runs: the warning is switched off (its documented variable).
 * - A missing key is `NoSuchKey` for GET but `NotFound` (no body, so no code) for HEAD.
 * - The SDK is loaded at the first call, not before: it takes ~120 ms to import (more on a busy machine).
 */
import type { S3Client } from "@aws-sdk/client-s3"
import { Context, Effect, Layer, Schema } from "effect"
import type { RemoteSettings } from "./Settings.ts"

export class RemoteCacheError extends Schema.TaggedError<RemoteCacheError>()("RemoteCacheError", {
  op: Schema.String,
  key: Schema.String,
  /** Unreachable: no connection. TimedOut: no answer within the budget. Denied: credentials or rights.
   *  NoBucket: the bucket does not exist. Failed: anything else the server said. */
  reason: Schema.Literal("Unreachable", "TimedOut", "Denied", "NoBucket", "Failed"),
  status: Schema.optional(Schema.Number),
  message: Schema.String
}) {}

export interface Listed {
  readonly key: string
  readonly size: number
}

export interface Remote {
  /** "s3://bucket/prefix": what messages name (never with credentials). */
  readonly url: string
  /** Bytes of a key, or undefined when there is none. */
  readonly get: (key: string, budgetMs?: number) => Effect.Effect<Uint8Array | undefined, RemoteCacheError>
  readonly put: (key: string, body: Uint8Array, contentType: string, budgetMs?: number) => Effect.Effect<void, RemoteCacheError>
  readonly has: (key: string) => Effect.Effect<boolean, RemoteCacheError>
  /** Removing a key that is not there is fine. */
  readonly remove: (key: string) => Effect.Effect<void, RemoteCacheError>
  /** Every key under `prefix` (relative to the cache's own prefix), with its size. */
  readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<Listed>, RemoteCacheError>
}

export class RemoteCache extends Context.Tag("storyshot/RemoteCache")<RemoteCache, Remote>() {
  static readonly layerS3 = (settings: RemoteSettings) => Layer.scoped(this, makeS3(settings))
}

/** How long an object of this many bytes may take: the small-call budget plus 1 s per 512 KB (a slow link). */
export const budgetFor = (settings: Pick<RemoteSettings, "timeoutMs">, bytes: number | undefined) =>
  settings.timeoutMs + Math.ceil((bytes ?? 0) / 512_000) * 1000

const unreachableCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ECONNABORTED"])

interface SdkError {
  readonly name?: string
  readonly code?: string
  readonly message?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

const toError = (url: string, op: string, key: string, budgetMs: number, e: unknown): RemoteCacheError => {
  const err = (e ?? {}) as SdkError
  const status = err.$metadata?.httpStatusCode
  const where = `${url}: ${op} ${key}`
  const make = (reason: RemoteCacheError["reason"], detail: string) =>
    new RemoteCacheError({ op, key, reason, ...(status !== undefined ? { status } : {}), message: `${where}: ${detail}` })
  if (err.name === "AbortError" || err.name === "TimeoutError" || err.code === "ETIMEDOUT")
    return make("TimedOut", `no answer within ${(budgetMs / 1000).toFixed(1)} s`)
  if ((err.code && unreachableCodes.has(err.code)) || (status === undefined && /ECONNREFUSED|ECONNRESET|socket hang up|getaddrinfo/.test(err.message ?? "")))
    return make("Unreachable", `cannot connect (${err.code ?? err.message ?? "no connection"})`)
  if (err.name === "NoSuchBucket") return make("NoBucket", `the bucket does not exist (create it, or fix the URL)`)
  if (status === 401 || status === 403 || err.name === "InvalidAccessKeyId" || err.name === "SignatureDoesNotMatch" || err.name === "AccessDenied")
    return make("Denied", `access denied (${err.name ?? status}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's rights`)
  return make("Failed", `${err.name ?? "error"}${status !== undefined ? ` (HTTP ${status})` : ""}: ${(err.message ?? String(e)).split("\n")[0]}`)
}

const isMissing = (e: unknown) => {
  const err = (e ?? {}) as SdkError
  return err.name === "NoSuchKey" || err.name === "NotFound" || (err.$metadata?.httpStatusCode === 404 && err.name !== "NoSuchBucket")
}

const makeS3 = (settings: RemoteSettings) =>
  Effect.gen(function* () {
    // The SDK is loaded, and the client made, at the first call: a build whose every result is here
    // (a no-op) never pays for them.
    let made: S3Client | undefined
    const connect = yield* Effect.cached(
      Effect.promise(async () => {
        // Before the first client exists (see the note at the top).
        process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"
        const sdk = await import("@aws-sdk/client-s3")
        made = new sdk.S3Client({
          region: settings.region,
          ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
          ...(settings.credentials !== undefined ? { credentials: settings.credentials } : {}),
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
          // A connection that does not open in 2 s, or a socket silent for the call's budget, is a dead remote.
          // (Without throwOnRequestTimeout the idle time-out only prints a warning on stderr and waits on.)
          requestHandler: { connectionTimeout: Math.min(2_000, settings.timeoutMs), requestTimeout: settings.timeoutMs, throwOnRequestTimeout: true },
          // One more try for a kept-alive socket the server closed; the call's budget bounds both.
          maxAttempts: 2
        })
        return { sdk, client: made }
      })
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => made?.destroy()))
    const full = (key: string) => `${settings.prefix}${key}`

    /** One SDK call under its budget (and aborted when the fiber is interrupted). */
    const call = <A>(
      op: string,
      key: string,
      budgetMs: number,
      run: (s3: Effect.Effect.Success<typeof connect>, signal: AbortSignal) => Promise<A>,
      missing?: () => A
    ) =>
      Effect.flatMap(connect, (s3) =>
        Effect.tryPromise({
          try: (signal) => run(s3, AbortSignal.any([signal, AbortSignal.timeout(budgetMs)])),
          catch: (e) => e
        })
      ).pipe(
        Effect.catchAll((e) => (missing !== undefined && isMissing(e) ? Effect.succeed(missing()) : Effect.fail(toError(settings.url, op, key, budgetMs, e))))
      )

    const get = Effect.fn("RemoteCache.get")(function* (key: string, budgetMs: number = settings.timeoutMs) {
      return yield* call<Uint8Array | undefined>(
        "GET",
        key,
        budgetMs,
        async ({ sdk, client }, abortSignal) => {
          const out = await client.send(new sdk.GetObjectCommand({ Bucket: settings.bucket, Key: full(key) }), { abortSignal })
          return out.Body ? await out.Body.transformToByteArray() : new Uint8Array()
        },
        () => undefined
      )
    })

    const put = Effect.fn("RemoteCache.put")(function* (key: string, body: Uint8Array, contentType: string, budgetMs: number = settings.timeoutMs) {
      yield* call("PUT", key, budgetMs, ({ sdk, client }, abortSignal) =>
        client.send(
          new sdk.PutObjectCommand({ Bucket: settings.bucket, Key: full(key), Body: body, ContentType: contentType, ContentLength: body.length }),
          { abortSignal }
        )
      )
    })

    const has = Effect.fn("RemoteCache.has")(function* (key: string) {
      return yield* call(
        "HEAD",
        key,
        settings.timeoutMs,
        async ({ sdk, client }, abortSignal) => {
          await client.send(new sdk.HeadObjectCommand({ Bucket: settings.bucket, Key: full(key) }), { abortSignal })
          return true
        },
        () => false
      )
    })

    const remove = Effect.fn("RemoteCache.remove")(function* (key: string) {
      yield* call(
        "DELETE",
        key,
        settings.timeoutMs,
        async ({ sdk, client }, abortSignal) => {
          await client.send(new sdk.DeleteObjectCommand({ Bucket: settings.bucket, Key: full(key) }), { abortSignal })
        },
        () => undefined
      )
    })

    const list = Effect.fn("RemoteCache.list")(function* (prefix: string) {
      const out: Array<Listed> = []
      let token: string | undefined
      do {
        const page = yield* call("LIST", prefix, settings.timeoutMs * 2, ({ sdk, client }, abortSignal) =>
          client.send(
            new sdk.ListObjectsV2Command({ Bucket: settings.bucket, Prefix: full(prefix), ...(token !== undefined ? { ContinuationToken: token } : {}) }),
            { abortSignal }
          )
        )
        for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push({ key: o.Key.slice(settings.prefix.length), size: o.Size ?? 0 })
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token !== undefined)
      return out
    })

    return RemoteCache.of({ url: settings.url, get, put, has, remove, list })
  })
