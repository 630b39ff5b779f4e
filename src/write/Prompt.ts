/**
 * What `write` asks the writer model, and how its answer becomes a transcript: plain sentences a narrator
 * reads aloud, paragraphs on blank lines.
 *
 * The sources are data inside the prompt, fenced and numbered; the model is told to keep to them. Their text
 * is capped (`maxSourceChars`), so a long page cannot make the call expensive: the cap is said in the prompt
 * and in the file's comments.
 *
 * Models add things a narrator must not read even when told not to: Markdown headings and bold, list
 * bullets, "Narrator:" labels, stage directions in brackets, a title line, a closing "Word count: 152".
 * `narration` takes them out; the words of the script are left as the model wrote them.
 */
import type { Length } from "./Length.ts"

export interface SourceText {
  /** How the source is cited: a URL or a file name. */
  readonly where: string
  readonly title: string | undefined
  readonly paragraphs: ReadonlyArray<string>
}

export interface Brief {
  readonly topic: string | undefined
  readonly length: Length
  readonly style: string | undefined
  readonly audience: string | undefined
  readonly sources: ReadonlyArray<SourceText>
}

/** About 12,000 tokens of sources at most. */
export const maxSourceChars = 48_000

export const promptVersion = 1

export interface Messages {
  readonly system: string
  readonly user: string
  /** The sources were cut to fit `maxSourceChars`. */
  readonly truncated: boolean
  /** The answer's token limit: room for the script and a margin, so a runaway answer costs little. */
  readonly maxTokens: number
}

const system = (length: Length) =>
  [
    "You write narration scripts for short narrated films. A narrator reads your script aloud, sentence by sentence, over pictures.",
    "Write only plain sentences that sound natural when spoken: no title, headings, lists, bullet points, Markdown, emojis, URLs, speaker names, stage directions or sound cues.",
    "Prefer short and medium sentences (about 8 to 25 words), concrete and vivid, one idea each. Separate paragraphs with a blank line.",
    `Write about ${length.words} words${length.seconds === undefined ? "" : ` (about ${length.label} of narration)`}, and end with a sentence that closes the story.`,
    "When sources are given, keep to them: do not invent facts, numbers, names or quotations that they do not contain.",
    "Answer with the script and nothing else."
  ].join("\n")

/** Source texts, each capped to its share of `maxSourceChars` (whole paragraphs, the first ones kept). */
const sourceBlocks = (sources: ReadonlyArray<SourceText>): { text: string; truncated: boolean } => {
  const share = Math.floor(maxSourceChars / Math.max(1, sources.length))
  let truncated = false
  const blocks = sources.map((s, i) => {
    const kept: Array<string> = []
    let used = 0
    for (const p of s.paragraphs) {
      if (used + p.length > share) {
        truncated = true
        if (kept.length === 0) kept.push(p.slice(0, share))
        break
      }
      kept.push(p)
      used += p.length + 2
    }
    const head = `[${i + 1}] ${s.title ? `${s.title} (${s.where})` : s.where}`
    return `${head}\n<<<\n${kept.join("\n\n")}\n>>>`
  })
  return { text: blocks.join("\n\n"), truncated }
}

export const messages = (brief: Brief): Messages => {
  const lines: Array<string> = []
  if (brief.topic !== undefined) lines.push(`Topic: ${brief.topic}`)
  else lines.push("Topic: what the sources below tell, as one story.")
  if (brief.audience !== undefined) lines.push(`Audience: ${brief.audience}`)
  if (brief.style !== undefined) lines.push(`Style: ${brief.style}`)
  lines.push(`Length: about ${brief.length.words} words.`)
  let truncated = false
  if (brief.sources.length > 0) {
    const s = sourceBlocks(brief.sources)
    truncated = s.truncated
    lines.push("", `Sources (${brief.sources.length}; their text is between <<< and >>>${truncated ? ", cut to fit" : ""}):`, "", s.text)
  }
  return {
    system: system(brief.length),
    user: lines.join("\n"),
    truncated,
    // English runs at about 1.3 tokens a word; twice the words leaves room for a model that writes long.
    maxTokens: Math.ceil(brief.length.words * 2) + 200
  }
}

/** Tokens in a text, roughly (4 characters a token), for estimates before the call. */
export const tokensOf = (text: string): number => Math.ceil(text.length / 4)

/** The answer's token count we expect for a script of `words` words. */
export const expectedTokens = (words: number): number => Math.ceil(words * 1.35) + 20

const dropLine = (line: string): boolean =>
  /^#{1,6}\s/.test(line) || // a heading
  /^(-{3,}|\*{3,}|_{3,}|={3,})$/.test(line) || // a rule
  /^\/\//.test(line) || // would be a comment in the transcript: what is kept must be what is narrated
  /^(\*\*|__)?(title|script|narration|word count|words|length|runtime)(\*\*|__)?\s*[:：]/i.test(line) ||
  /^\(?\s*(end|the end|fin)\s*\)?\.?$/i.test(line)

/** The model's answer as a transcript body: plain paragraphs, or "" when nothing narratable is left. */
export const narration = (answer: string): string => {
  const text = answer
    .replace(/\r\n?/g, "\n")
    .replace(/^\s*```[^\n]*\n?/, "")
    .replace(/\n?```\s*$/, "")
  const paragraphs: Array<string> = []
  let current: Array<string> = []
  const flush = () => {
    const p = current.join(" ").replace(/\s+/g, " ").trim()
    if (/[\p{L}\p{N}]/u.test(p)) paragraphs.push(p)
    current = []
  }
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    if (line === "" || dropLine(line)) {
      flush()
      continue
    }
    const cleaned = line
      .replace(/^(?:[-*+•]|\d{1,3}[.)])\s+/, "") // list markers
      .replace(/^>\s?/, "")
      .replace(/^(?:\*\*|__)?(?:narrator|voice[- ]?over|vo)(?:\*\*|__)?\s*:\s*/i, "")
      .replace(/\[[^\]\n]*\]/g, "") // [Music swells], [1]
      .replace(/\((?:pause|beat|music|sfx|sound|cut to|fade)[^)\n]*\)/gi, "")
      .replace(/(\*\*|__)(.+?)\1/g, "$2")
      .replace(/(^|[^\w*])\*(?=\S)(.+?)(?<=\S)\*(?=[^\w*]|$)/g, "$1$2")
      .replace(/`([^`]*)`/g, "$1")
      .replace(/https?:\/\/\S+/g, "")
    current.push(cleaned)
  }
  flush()
  return paragraphs.join("\n\n")
}
