/**
 * A source's main text as paragraphs a narrator can read: from an HTML page with Mozilla's Readability on
 * linkedom (a light DOM: no browser, no scripts run), from Markdown, or from plain text.
 *
 * Surprises (measured, see /work/notes/research/write-music.md):
 * - Readability's `textContent` glues paragraphs together ("…the end.The next…"): the paragraphs are read
 *   from its `content` HTML instead, one block element at a time.
 * - Footnote markers ("[1]") and reference lists survive Readability: they are removed before it runs
 *   (MediaWiki, Pandoc and markdown-it conventions), and markers left in the text are stripped.
 * - Readability mutates the document it is given, so the title and canonical link are read first.
 * - linkedom's `document.baseURI` is null: relative links are not resolved (narration has no links anyway).
 * - Headings are not narrated (they label the text; the first becomes the source's title), nor captions,
 *   code blocks or forms.
 */
import { Effect } from "effect"
import { WriteError } from "./Errors.ts"

export interface Extracted {
  readonly title: string | undefined
  readonly byline: string | undefined
  /** The page's own address for it (`<link rel=canonical>`), when it gives one. */
  readonly canonical: string | undefined
  readonly paragraphs: ReadonlyArray<string>
}

export type Format = "html" | "markdown" | "text"

/** The format of a --from file: by its extension, else by a look at its first bytes. */
export const formatOf = (file: string, text: string): Format => {
  const ext = file.toLowerCase().replace(/^.*\./, ".")
  if ([".html", ".htm", ".xhtml", ".shtml"].includes(ext)) return "html"
  if ([".md", ".markdown", ".mdown", ".mkd"].includes(ext)) return "markdown"
  if (/^\s*(<!doctype html|<html[\s>]|<head[\s>]|<body[\s>])/i.test(text.slice(0, 1000))) return "html"
  return "text"
}

/** One paragraph's text as it is read aloud: spaces made single, footnote marks and edit links gone. */
export const clean = (text: string): string =>
  text
    .replace(/\u00ad/g, "") // soft hyphens
    .replace(/\[(?:\d{1,3}|[a-z]|note \d+|citation needed|edit|clarification needed|when\?|who\?)\]/gi, "")
    .replace(/[ \t\r\n\u00a0\u2000-\u200b\u202f\u205f\u3000]+/g, " ")
    .replace(/\s+([,.;:!?])/g, "$1")
    .trim()

const hasWords = (text: string) => /[\p{L}\p{N}]{2,}/u.test(text)

// Footnotes, reference lists and page furniture that Readability keeps (or may keep) inside an article.
const furniture = [
  "script", "style", "noscript", "template", "iframe", "svg", "canvas", "form", "button", "select", "input", "textarea",
  "nav", "aside", "footer", "figcaption", "pre",
  "sup.reference", "sup[id^='cite_ref']", "sup.footnote-ref", "sup.noteref", "a[href^='#cite_note']", "a[href^='#fn']",
  "a.footnote-ref", "a[role='doc-noteref']", "[role='doc-noteref']", "[role='doc-endnotes']", "[role='doc-footnote']",
  "ol.references", ".references", ".mw-references-wrap", ".reflist", "section.footnotes", "div.footnotes", ".footnotes",
  ".mw-editsection", ".noprint", "[aria-hidden='true']", "[hidden]",
  // Advertising and page furniture by the names sites give them (whole class names, not substrings: a
  // class "thread-list" is not an ad), and bylines (the byline is read from the page's metadata).
  ".ad", ".ads", ".advert", ".advertisement", ".adsbygoogle", ".ad-container", ".ad-slot", ".ad-unit", ".ad-wrapper",
  ".sponsored", ".promo", "[id^='ad-']", "[id^='ad_']", "[id^='google_ads']", "[data-ad]", "[aria-label='Advertisement']",
  ".byline", ".author", "[rel='author']", "[itemprop='author']", ".share", ".share-tools", ".social", ".last-updated",
  ".cookie-banner", "#cookie-consent", ".breadcrumbs", ".breadcrumb"
].join(", ")

/** A block that is a label, not prose: a few words and no sentence end ("Sponsored", "Share this page"),
 *  or a date line ("Last updated: March 3, 2025"). */
const isLabel = (text: string): boolean =>
  (text.split(/\s+/).length < 4 && !/[.!?…"”’)]$/.test(text)) ||
  (/^(last (updated|modified|reviewed)|updated|published|posted|page last)\b[^.!?]{0,60}$/i.test(text))

// Loaded on first use: `storyshot --help` and every build start without them.
const dom = Effect.promise(async () => {
  const [{ parseHTML }, { Readability }] = await Promise.all([import("linkedom"), import("@mozilla/readability")])
  return { parseHTML, Readability }
})

const blockSelector = "p, li, blockquote, dd"

/** The paragraphs of an article's HTML, in order: the innermost of p/li/blockquote/dd, so none counts twice. */
const blocksOf = (document: any): Array<string> => {
  const all: Array<any> = [...document.querySelectorAll(blockSelector)]
  const out: Array<string> = []
  for (const el of all) {
    if (el.querySelector(blockSelector) !== null) {
      // A list item or quotation holding paragraphs: its paragraphs are taken; its own loose text, if any, too.
      const loose = [...el.childNodes].filter((n: any) => n.nodeType === 3).map((n: any) => n.textContent ?? "").join(" ")
      const text = clean(loose)
      if (hasWords(text) && !isLabel(text)) out.push(text)
      continue
    }
    const text = clean(el.textContent ?? "")
    if (hasWords(text) && !isLabel(text)) out.push(text)
  }
  return out
}

const attr = (document: any, selector: string, name: string): string | undefined => {
  const value = document.querySelector(selector)?.getAttribute(name)
  return typeof value === "string" && value.trim() !== "" ? clean(value) : undefined
}

/** The main text of an HTML page. `where` names the source in the error ("page.html", a URL). */
export const fromHtml = Effect.fn("Write.fromHtml")(function* (html: string, where: string) {
  const { parseHTML, Readability } = yield* dom
  const { document } = parseHTML(html)
  const title =
    attr(document, "meta[property='og:title']", "content") ??
    (clean(document.querySelector("title")?.textContent ?? "") || undefined)
  const canonical = attr(document, "link[rel='canonical']", "href")
  for (const el of [...document.querySelectorAll(furniture)]) el.remove()
  let article: ReturnType<InstanceType<typeof Readability>["parse"]> = null
  try {
    article = new Readability(document as any, { charThreshold: 200, keepClasses: false, maxElemsToParse: 100_000 }).parse()
  } catch (e) {
    return yield* new WriteError({ reason: "no-text", message: `${where}: the page could not be read (${(e as Error).message ?? String(e)})` })
  }
  const paragraphs = article?.content ? blocksOf(parseHTML(`<!doctype html><html><body>${article.content}</body></html>`).document) : []
  if (paragraphs.length === 0)
    return yield* new WriteError({
      reason: "no-text",
      message: `${where}: no main text found (it may be built by scripts, or be mostly links): save the article's text and use --from FILE`
    })
  const extracted: Extracted = {
    title: (article?.title ? clean(article.title) : undefined) || title,
    byline: article?.byline ? clean(article.byline) || undefined : undefined,
    canonical,
    paragraphs
  }
  return extracted
})

/** The prose of a Markdown file: headings, code, tables, images, link targets, HTML and footnotes left out. */
export const fromMarkdown = (markdown: string): Extracted => {
  let text = markdown.replace(/\r\n?/g, "\n")
  let title: string | undefined
  const front = /^---\n([\s\S]*?)\n---\n/.exec(text)
  if (front) {
    title = /^title:\s*["']?(.+?)["']?\s*$/m.exec(front[1]!)?.[1]
    text = text.slice(front[0].length)
  }
  text = text
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "")
    .replace(/^\[\^[^\]]+\]:.*(?:\n[ \t]+.*)*$/gm, "") // footnote definitions
    .replace(/^\s{0,3}\[[^\]]+\]:\s*\S+.*$/gm, "") // link reference definitions
  const paragraphs: Array<string> = []
  let current: Array<string> = []
  const flush = () => {
    const p = clean(current.join(" "))
    if (hasWords(p)) paragraphs.push(p)
    current = []
  }
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    const heading = /^#{1,6}\s+(.*?)\s*#*$/.exec(line)
    if (line === "" || heading || /^(-{3,}|\*{3,}|_{3,}|={3,})$/.test(line) || /^\|.*\|$/.test(line) || /^ {4,}\S/.test(raw)) {
      flush()
      if (heading && title === undefined) title = inline(heading[1]!)
      continue
    }
    const item = /^(?:[-*+•]|\d{1,3}[.)])\s+(.*)$/.exec(line.replace(/^>\s?/, ""))
    if (item) {
      flush()
      current.push(inline(item[1]!))
      continue
    }
    current.push(inline(line.replace(/^(>\s?)+/, "")))
  }
  flush()
  return { title, byline: undefined, canonical: undefined, paragraphs }
}

/** Markdown's inline marks out of one line: the words stay, the syntax goes. */
const inline = (line: string): string =>
  line
    .replace(/!\[[^\]]*\]\([^)]*\)/g, "")
    .replace(/\[\^[^\]]+\]/g, "")
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, "$1")
    .replace(/<https?:\/\/[^>]+>/g, "")
    .replace(/<\/?[a-z][^>]*>/gi, "")
    .replace(/`([^`]*)`/g, "$1")
    .replace(/(\*\*|__)(.+?)\1/g, "$2")
    .replace(/(^|[^\w*])[*_](?=\S)(.+?)(?<=\S)[*_](?=[^\w*]|$)/g, "$1$2")
    .replace(/~~(.+?)~~/g, "$1")

/** Plain text: paragraphs on blank lines, lines inside one joined. */
export const fromText = (text: string): Extracted => ({
  title: undefined,
  byline: undefined,
  canonical: undefined,
  paragraphs: text
    .replace(/\r\n?/g, "\n")
    .split(/\n\s*\n/)
    .map((p) => clean(p.split("\n").filter((l) => !/^\s*\/\//.test(l)).join(" ")))
    .filter(hasWords)
})
