import { Layer } from "effect"
import * as Queue from "../../../src/providers/fal/Queue.ts"
import { Http } from "../../../src/providers/http/Client.ts"
import { IoLog, isFile, type IoEntry } from "../../../src/providers/IoLog.ts"
import { defaultPolicy } from "../../../src/providers/Reads.ts"

export const apiKey = "fal-test-key-7f3c9a:secret-part-d41d8cd9"

/** Http with the key registered as a secret, over an in-memory IoLog the test can read. */
export const testLayer = Http.layerWith({ secrets: [apiKey] }).pipe(Layer.provideMerge(IoLog.layerMemory))

/** Fast polling and reads, so a walk through the queue takes milliseconds. */
export const settingsFor = (baseUrl: string, over: Partial<Queue.FalSettings> = {}): Queue.FalSettings => ({
  ...Queue.defaultSettings(apiKey, baseUrl),
  poll: { initialMs: 5, maxMs: 20 },
  reads: { ...defaultPolicy, firstDelayMs: 5, maxDelayMs: 50, budgetMs: 3_000 },
  ...over
})

/** An IoLog entry as one string, binary bodies included, to search for leaked secrets. */
export const entryText = (entry: IoEntry): string =>
  JSON.stringify(entry, (_key, value) =>
    isFile(value)
      ? { file: Buffer.from(value.file).toString("latin1"), contentType: value.contentType }
      : value instanceof Uint8Array
      ? Buffer.from(value).toString("latin1")
      : value)
