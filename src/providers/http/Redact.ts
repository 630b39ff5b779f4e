/**
 * Secrets never leave the process: every exchange is redacted before it reaches the IoLog, including the key
 * inside `Authorization` (registered or not) and any configured secret a provider echoes back in a URL or a
 * body. Error messages built from a provider's words pass through `redact` too.
 */
import type { IoBody } from "../IoLog.ts"

const mask = "***"

/** Replaces every occurrence of every secret in `text` by `***`. Empty secrets are ignored. */
export const redact = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join(mask)
  return out
}

export const redactJson = (value: unknown, secrets: ReadonlyArray<string>): unknown => {
  if (typeof value === "string") return redact(value, secrets)
  if (Array.isArray(value)) return value.map((v) => redactJson(v, secrets))
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[redact(k, secrets)] = redactJson(v, secrets)
    return out
  }
  return value
}

const redactBytes = (bytes: Uint8Array, secrets: ReadonlyArray<string>): Uint8Array => {
  let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let changed = false
  for (const secret of secrets) {
    if (secret.length === 0 || buf.indexOf(secret) < 0) continue
    // latin1 maps bytes 1:1, so splitting on the key's UTF-8 bytes leaves every other byte untouched.
    buf = Buffer.from(buf.toString("latin1").split(Buffer.from(secret).toString("latin1")).join(mask), "latin1")
    changed = true
  }
  return changed ? new Uint8Array(buf) : bytes
}

const secretHeaders = new Set(["authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"])

export const redactHeaders = (headers: Record<string, string>, secrets: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    if (lower === "authorization" || lower === "proxy-authorization") {
      // Keep the scheme so a log reader can see which kind of key was sent ("Key ***", "Bearer ***").
      const scheme = /^(\S+)\s+\S/.exec(value)?.[1]
      out[name] = scheme === undefined ? mask : `${scheme} ${mask}`
    } else if (secretHeaders.has(lower)) {
      out[name] = mask
    } else {
      out[name] = redact(value, secrets)
    }
  }
  return out
}

/** The configured secrets plus the key inside an `Authorization` header (a secret even if nobody registered it). */
export const secretsOf = (headers: Record<string, string> | undefined, secrets: ReadonlyArray<string>): ReadonlyArray<string> => {
  const found = [...secrets]
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase()
    if (lower === "authorization" || lower === "proxy-authorization") {
      const token = /^\S+\s+(.+)$/.exec(value)?.[1]?.trim() ?? value.trim()
      if (token.length > 0) found.push(token)
    } else if (secretHeaders.has(lower) && value.trim().length > 0) {
      found.push(value.trim())
    }
  }
  // Longest first, so a secret that contains another is masked whole.
  return found.filter((s) => s.length > 0).sort((a, b) => b.length - a.length)
}

const isProbablyText = (bytes: Uint8Array): boolean => {
  const n = Math.min(bytes.length, 512)
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return false
  return true
}

/** A body as the log keeps it: parsed JSON, text, or bytes (all redacted). */
export const logBody = (bytes: Uint8Array | undefined, contentType: string | undefined, secrets: ReadonlyArray<string>): IoBody => {
  if (bytes === undefined || bytes.length === 0) return undefined
  const type = (contentType ?? "").toLowerCase()
  const textual = type.includes("json") || type.startsWith("text/") || type === ""
  if (textual) {
    const text = Buffer.from(bytes).toString("utf8")
    if (type.includes("json") || type === "") {
      try {
        return redactJson(JSON.parse(text), secrets)
      } catch {
        if (type === "" && !isProbablyText(bytes)) return { file: redactBytes(bytes, secrets), contentType: "application/octet-stream" }
      }
    }
    return redact(text, secrets)
  }
  return { file: redactBytes(bytes, secrets), contentType }
}
