/**
 * A real S3-compatible server for the remote-cache tests: s3rver on 127.0.0.1, on a free port, in a temp
 * folder, with one bucket. It checks access key ids but not signatures (so a wrong secret is not caught).
 *
 * On disk an object is `<dir>/<bucket>/<key>._S3rver_object`: the tests damage blobs and grep the bucket
 * there, as a person with access to the storage could.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import S3rver from "s3rver"
import { randomBytes } from "node:crypto"

export const bucket = "storyshot-cache"
export const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER-secret-9d1f2a7c44e1" }

export interface S3 {
  readonly endpoint: string
  readonly port: number
  /** The folder s3rver keeps the bucket in. */
  readonly dir: string
  /** The on-disk file of one object (key relative to the bucket). */
  readonly file: (key: string) => string
  /** Every file in the bucket, as paths relative to it (objects only). */
  readonly objects: () => ReadonlyArray<string>
  /** The environment of a workspace that uses this bucket under `prefix`. */
  readonly env: (prefix?: string) => Record<string, string>
  /** Stops the server (a remote that goes away); `start` brings it back on the same port. */
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
  readonly close: () => Promise<void>
}

const walk = (dir: string, into: Array<string> = []): Array<string> => {
  if (!fs.existsSync(dir)) return into
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) walk(p, into)
    else into.push(p)
  }
  return into
}

export const startS3 = async (): Promise<S3> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-s3-"))
  let port = 0
  let server: S3rver | undefined
  const start = async () => {
    server = new S3rver({ port, address: "127.0.0.1", directory: dir, silent: true, configureBuckets: [{ name: bucket }] })
    port = (await server.run()).port
  }
  await start()
  const stop = async () => {
    await server?.close()
    server = undefined
  }
  const root = path.join(dir, bucket)
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dir,
    file: (key) => path.join(root, `${key}._S3rver_object`),
    objects: () =>
      walk(root)
        .filter((f) => f.endsWith("._S3rver_object"))
        .map((f) => path.relative(root, f).slice(0, -"._S3rver_object".length).split(path.sep).join("/")),
    env: (prefix = `p${randomBytes(3).toString("hex")}`) => ({
      STORYSHOT_REMOTE_CACHE: `s3://${bucket}/${prefix}`,
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: "us-east-1"
    }),
    stop,
    start,
    close: async () => {
      await stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
