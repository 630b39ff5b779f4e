/**
 * The record of every exchange with an outside service, kept in full (untruncated) so a person can see
 * exactly what was asked and what came back when a paid call goes wrong.
 *
 * Entries arrive here already redacted: `Http` replaces secrets before it calls `log`, so no backend
 * (memory, the file-backed `runs/<id>/io.jsonl`) ever holds a key.
 */
import { Context, Effect, Layer } from "effect"

/** A body as the log keeps it: a JSON value (parsed JSON or a string of text), or raw bytes. */
export type IoBody = unknown | IoFile

export interface IoFile {
  readonly file: Uint8Array
  readonly contentType: string
}

export const isFile = (body: IoBody): body is IoFile =>
  typeof body === "object" && body !== null && (body as IoFile).file instanceof Uint8Array

export interface IoEntry {
  readonly provider: string
  readonly method: string
  readonly url: string
  readonly requestHeaders: Record<string, string>
  /** `undefined` when the request had no body. */
  readonly requestBody: IoBody
  /** `undefined` when no answer arrived (network trouble, time-out). */
  readonly status: number | undefined
  readonly responseHeaders: Record<string, string>
  readonly responseBody: IoBody
  readonly startedAt: number
  readonly endedAt: number
  readonly error?: string | undefined
  /** How long keeping a paid answer in the store took, from its last byte (the window a crash can still lose). */
  readonly keptMs?: number | undefined
}

/** The store behind `IoLog.layerMemory`. */
export class IoLogMemory extends Context.Tag("storyshot/IoLogMemory")<IoLogMemory, {
  readonly entries: ReadonlyArray<IoEntry>
}>() {}

export class IoLog extends Context.Tag("storyshot/IoLog")<IoLog, {
  readonly log: (entry: IoEntry) => Effect.Effect<void>
}>() {
  /** Logs nothing. */
  static readonly layerNoop: Layer.Layer<IoLog> = Layer.succeed(this, { log: () => Effect.void })

  /** Keeps entries in memory; read them with `IoLog.entries` (tests). */
  static readonly layerMemory: Layer.Layer<IoLog | IoLogMemory> = Layer.effectContext(
    Effect.sync(() => {
      const entries: Array<IoEntry> = []
      return Context.make(IoLog, { log: (entry) => Effect.sync(() => void entries.push(entry)) }).pipe(
        Context.add(IoLogMemory, { entries })
      )
    })
  )

  /** The entries kept by `layerMemory`, oldest first. */
  static readonly entries: Effect.Effect<ReadonlyArray<IoEntry>, never, IoLogMemory> = Effect.map(
    IoLogMemory,
    (memory) => memory.entries.slice()
  )
}
