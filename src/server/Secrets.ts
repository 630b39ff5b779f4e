/**
 * Keys never leave the server (seed 004's rule): nothing the API sends is built from the environment, and
 * as a second line every text that came from a build (event, error, message) passes through `redact`, which
 * masks any value of a secret-looking variable (`*_KEY`, `*_TOKEN`, `*SECRET*`, `*PASSWORD*`) of the project's
 * environment or the server's.
 */
const secretName = /KEY|TOKEN|SECRET|PASSWORD/i

export const secretsOf = (...envs: ReadonlyArray<{ readonly [name: string]: string | undefined }>): ReadonlyArray<string> => {
  const values = new Set<string>()
  for (const env of envs)
    for (const [name, value] of Object.entries(env)) if (secretName.test(name) && value !== undefined && value.length >= 8) values.add(value)
  // Longest first, so a key that contains another is masked whole.
  return [...values].sort((a, b) => b.length - a.length)
}

export const redact = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join("***")
  return out
}

/** A JSON value with every secret masked (a copy only when one was found). */
export const redactJson = <A>(value: A, secrets: ReadonlyArray<string>): A => {
  if (secrets.length === 0) return value
  const text = JSON.stringify(value)
  const escaped = secrets.map((s) => JSON.stringify(s).slice(1, -1))
  if (text === undefined || !escaped.some((s) => text.includes(s))) return value
  return JSON.parse(redact(text, escaped)) as A
}
