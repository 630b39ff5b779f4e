/**
 * A sentence too long for one narration is cut at the best break before the limit: ";", ":", ",", a spaced
 * dash, then a space; text without spaces (Japanese) between two characters; one giant token (a URL, a hash)
 * at the limit itself, never inside a surrogate pair. Lengths are UTF-16 code units, so a piece never has more
 * characters than the limit.
 */

const cjkPair = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u

// Highest priority first; each matches a break, and the first piece ends where the match ends (spaces trimmed).
const kinds: ReadonlyArray<RegExp> = [/[;；](?=\s)|；/gu, /[:：](?=\s)|：/gu, /[,，](?=\s)|[，、]/gu, /\s[—–]\s/gu]

/** The best place to cut `text` at or before `max` code units (an index into `text`). */
const bestBreak = (text: string, max: number): number => {
  const window = text.slice(0, max + 1)
  const floor = Math.floor(max / 3)
  for (const kind of kinds) {
    let best = -1
    for (const match of window.matchAll(kind)) {
      const end = match.index + match[0].trimEnd().length
      if (end >= floor && end <= max) best = end
    }
    if (best > 0) return best
  }
  const space = window.search(/\s\S*$/u)
  if (space > 0) return space
  for (let i = Math.min(max, text.length - 1); i > floor; i--) {
    if (cjkPair.test(text[i - 1]!) && cjkPair.test(text[i]!)) return i
  }
  const code = text.charCodeAt(max - 1)
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max
}

/**
 * The pieces of `text[start, end)` no longer than `max`, as `[start, end)` pairs into `text` with the spaces at
 * their edges left out.
 */
export const cut = (text: string, start: number, end: number, max: number): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  let from = start
  while (end - from > max) {
    const at = from + bestBreak(text.slice(from, end), max)
    let to = at
    while (to > from && text[to - 1] === " ") to--
    if (to > from) out.push([from, to])
    from = at
    while (from < end && text[from] === " ") from++
  }
  if (end > from) out.push([from, end])
  return out
}
