/**
 * Where the remote cache is and how to reach it, from the workspace: `STORYSHOT_REMOTE_CACHE` (a URL, or
 * "off") over `remoteCache` in the config; the endpoint, region and credentials from the config or the
 * standard AWS variables (also read from `.env`, which the SDK alone would not see).
 *
 * Nothing here loads the AWS SDK: a build without a remote cache never pays its start-up.
 */
import { Either, Schema } from "effect"
import { remoteCacheUrlPattern } from "../Config.ts"
import type { Workspace } from "../Workspace.ts"

export class RemoteCacheConfigError extends Schema.TaggedError<RemoteCacheConfigError>()("RemoteCacheConfigError", {
  message: Schema.String
}) {}

export interface Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string | undefined
}

export interface RemoteSettings {
  /** As the person wrote it, without credentials: what messages name. */
  readonly url: string
  readonly bucket: string
  /** Key prefix inside the bucket, "" or ending in "/". */
  readonly prefix: string
  readonly endpoint: string | undefined
  readonly region: string
  /** From the environment; undefined: the SDK's own chain (~/.aws, SSO, instance roles). */
  readonly credentials: Credentials | undefined
  /** Budget of one small call (a record, an in-flight entry, a look-up); objects get more by size. */
  readonly timeoutMs: number
  /** Secrets that must never be sent: the providers' keys and the cache's own. */
  readonly secrets: ReadonlyArray<string>
}

type Env = { readonly [name: string]: string | undefined }

const off = new Set(["off", "none", "false", "0", "no"])

/** Default budget of a small call: enough for a far region, short enough that a dead remote costs little. */
export const defaultTimeoutMs = 5_000

/** Parses "s3://bucket/prefix" (the config's pattern also holds for the variable). */
export const parseUrl = (url: string): Either.Either<{ bucket: string; prefix: string }, string> => {
  if (!remoteCacheUrlPattern.test(url)) return Either.left(`an S3 URL such as "s3://bucket/prefix"`)
  const rest = url.slice("s3://".length)
  const slash = rest.indexOf("/")
  const bucket = slash < 0 ? rest : rest.slice(0, slash)
  const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/^\/+|\/+$/g, "")
  return Either.right({ bucket, prefix: prefix ? `${prefix}/` : "" })
}

const positive = (value: string | undefined) => {
  const n = Number(value)
  return value !== undefined && value.trim() !== "" && Number.isFinite(n) && n > 0 ? n : undefined
}

/**
 * The remote cache of this workspace, or undefined when there is none (or it is turned off). A URL that is
 * not one, or credentials given by half, is the user's to fix (exit 2).
 */
export const fromWorkspace = (
  ws: Pick<Workspace, "env" | "config">,
  providerSecrets: ReadonlyArray<string> = []
): Either.Either<RemoteSettings | undefined, RemoteCacheConfigError> => {
  const env: Env = ws.env
  const fromEnv = env.STORYSHOT_REMOTE_CACHE?.trim()
  if (fromEnv !== undefined && off.has(fromEnv.toLowerCase())) return Either.right(undefined)
  const configured = ws.config.remoteCache
  const url = fromEnv || configured?.url
  if (!url) return Either.right(undefined)
  const parsed = parseUrl(url)
  if (Either.isLeft(parsed))
    return Either.left(
      new RemoteCacheConfigError({
        message: `${fromEnv ? "STORYSHOT_REMOTE_CACHE" : "remoteCache.url"} is "${url}": give ${parsed.left} (or STORYSHOT_REMOTE_CACHE=off to build without it)`
      })
    )
  const endpoint = configured?.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL
  if (endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(endpoint))
    return Either.left(new RemoteCacheConfigError({ message: `the remote cache's endpoint is "${endpoint}": give an http(s) URL such as "http://127.0.0.1:9000"` }))
  const id = env.AWS_ACCESS_KEY_ID
  const secret = env.AWS_SECRET_ACCESS_KEY
  if ((id === undefined) !== (secret === undefined))
    return Either.left(
      new RemoteCacheConfigError({
        message: `${id === undefined ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"} is set without ${id === undefined ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"}: set both for the remote cache, or neither (the AWS SDK then uses ~/.aws)`
      })
    )
  const credentials = id !== undefined && secret !== undefined ? { accessKeyId: id, secretAccessKey: secret, sessionToken: env.AWS_SESSION_TOKEN } : undefined
  return Either.right({
    url: `s3://${parsed.right.bucket}${parsed.right.prefix ? `/${parsed.right.prefix.slice(0, -1)}` : ""}`,
    bucket: parsed.right.bucket,
    prefix: parsed.right.prefix,
    endpoint: endpoint?.replace(/\/+$/, ""),
    region: configured?.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    credentials,
    timeoutMs: positive(env.STORYSHOT_REMOTE_CACHE_TIMEOUT_MS) ?? defaultTimeoutMs,
    secrets: [...providerSecrets, secret, env.AWS_SESSION_TOKEN].filter((s): s is string => s !== undefined && s.length >= 4)
  })
}
