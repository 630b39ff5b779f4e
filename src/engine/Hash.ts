import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { Effect } from "effect"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/**
 * JSON with object keys sorted at every level, so that equal data always hashes equal.
 * `undefined` members are dropped (as JSON.stringify does); non-finite numbers are refused, because
 * they would all print as `null` and two different recipes would collide.
 */
export const stableStringify = (value: unknown): string => {
  // On the no-op path this runs once per node: plain loops, no intermediate arrays beyond the key list.
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`cannot fingerprint ${value}`)
    return JSON.stringify(value) ?? "null"
  }
  if (Array.isArray(value)) {
    let out = "["
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ","
      out += value[i] === undefined ? "null" : stableStringify(value[i])
    }
    return out + "]"
  }
  const keys = Object.keys(value).sort()
  let out = "{"
  let first = true
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k]
    if (v === undefined) continue
    if (!first) out += ","
    first = false
    out += JSON.stringify(k) + ":" + stableStringify(v)
  }
  return out + "}"
}

export const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex")

export const hashJson = (value: unknown): string => sha256(stableStringify(value))

export const hashFile = (path: string): Effect.Effect<{ readonly hash: string; readonly size: number }, Error> =>
  Effect.async((resume) => {
    const hash = createHash("sha256")
    let size = 0
    const stream = createReadStream(path)
    stream.on("data", (chunk) => {
      size += chunk.length
      hash.update(chunk)
    })
    stream.on("error", (e) => resume(Effect.fail(e)))
    stream.on("end", () => resume(Effect.succeed({ hash: hash.digest("hex"), size })))
    return Effect.sync(() => stream.destroy())
  })
