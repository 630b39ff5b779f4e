import { Layer } from "effect"
import { Http } from "../../../src/providers/Http.ts"
import { IoLog, isFile, type IoEntry } from "../../../src/providers/IoLog.ts"

export const apiKey = "fal-test-key-7f3c9a:secret-part-d41d8cd9"

/** Http with the key registered as a secret, over an in-memory IoLog the test can read. */
export const testLayer = Http.layerWith({ secrets: [apiKey] }).pipe(Layer.provideMerge(IoLog.layerMemory))

/** Fast polling, so a walk through the queue takes milliseconds. */
export const pollMs = { initialMs: 5, maxMs: 20 }

/** An IoLog entry as one string, binary bodies included, to search for leaked secrets. */
export const entryText = (entry: IoEntry): string =>
  JSON.stringify(entry, (_key, value) =>
    isFile(value)
      ? { file: Buffer.from(value.file).toString("latin1"), contentType: value.contentType }
      : value instanceof Uint8Array
      ? Buffer.from(value).toString("latin1")
      : value)
