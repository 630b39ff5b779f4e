/**
 * Each build is a run, kept in `.storyshot/runs/<run-id>/`:
 *   io.jsonl  — every request and response to an outside service, in full and untruncated (keys already
 *               redacted by Http); binary bodies are stored as objects in the store and linked by path.
 *   run.json  — the run's summary: targets, built/cached/failed, cost, wall-clock, and per node the requests.
 */
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { Effect, Layer } from "effect"
import { IoLog, isFile, type IoBody } from "../providers/IoLog.ts"
import * as Atomic from "../engine/Atomic.ts"
import type { Store } from "../engine/Store.ts"

export const newRunId = (now = new Date()) =>
  `${now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`

export const runDir = (storeDir: string, runId: string) => path.join(storeDir, "runs", runId)

const extOf = (contentType: string) => {
  const sub = contentType.split(";")[0]!.split("/")[1] ?? "bin"
  return ({ mpeg: "mp3", "x-wav": "wav", jpeg: "jpg", "octet-stream": "bin" } as Record<string, string>)[sub] ?? sub.replace(/[^a-z0-9]/gi, "")
}

/** An IoLog writing to the run's io.jsonl, with binary bodies stored as objects. */
export const layerFile = (store: Store["Type"], dir: string): Layer.Layer<IoLog> =>
  Layer.succeed(IoLog, {
    log: (entry) =>
      Effect.gen(function* () {
        const body = (b: IoBody) =>
          isFile(b)
            ? store.putBytes(b.file, extOf(b.contentType)).pipe(
                Effect.map(({ hash, size }) => ({
                  file: path.relative(dir, store.objectPath(hash, extOf(b.contentType))).split(path.sep).join("/"),
                  contentType: b.contentType,
                  bytes: size
                })),
                Effect.orElseSucceed(() => ({ file: "(could not be stored)", contentType: b.contentType }))
              )
            : Effect.succeed(b)
        const line = {
          ...entry,
          requestBody: yield* body(entry.requestBody),
          responseBody: yield* body(entry.responseBody)
        }
        // One whole line or none (a full disk must not glue half a line to the next); a log that cannot
        // be written does not fail the request it logs.
        yield* Atomic.appendLine(path.join(dir, "io.jsonl"), JSON.stringify(line)).pipe(Effect.ignore)
      })
  })
