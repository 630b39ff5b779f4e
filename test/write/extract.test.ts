/**
 * `storyshot write --from FILE`, offline and without a key: a saved web page (navigation, advertisements,
 * footnotes, a sidebar, a cookie banner, a footer) becomes a transcript that holds the article's sentences
 * and nothing else, checked against a hand-labelled list (test/fixtures/write/gettysburg.expected.json).
 * Markdown and plain text files, and the `//` comments that cite the sources, which are never narrated.
 */
import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { parseTranscript, normalize, split } from "../../src/text/Sentences.ts"
import * as Extract from "../../src/write/Extract.ts"
import { repoRoot } from "../e2e/harness.ts"
import { storyshot as cli } from "./run.ts"

const fixture = path.join(repoRoot, "test", "fixtures", "write", "gettysburg.html")
const labels = JSON.parse(fs.readFileSync(path.join(repoRoot, "test", "fixtures", "write", "gettysburg.expected.json"), "utf8")) as {
  sentences: Array<string>
  absent: Array<string>
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-write-"))
const noKey = { OPENROUTER_KEY: "", OPENROUTER_BASE_URL: "http://127.0.0.1:9/api/v1" }

const narrated = (file: string) =>
  Effect.runPromise(parseTranscript(fs.readFileSync(file), file)) as Promise<ReadonlyArray<string>>

/** Precision: narrated sentences that are (pieces of) article sentences. Recall: article sentences narrated in full. */
const score = (said: ReadonlyArray<string>, expected: ReadonlyArray<string>) => {
  const truth = expected.map(normalize)
  const spoken = normalize(said.join(" "))
  const correct = said.filter((s) => truth.some((t) => t.includes(normalize(s))))
  const found = truth.filter((t) => spoken.includes(t))
  return { precision: correct.length / said.length, recall: found.length / truth.length, correct: correct.length, said: said.length, found: found.length, expected: truth.length }
}

describe("write --from a saved page (offline, no key)", () => {
  it("the transcript holds the article's sentences and none of the navigation, ads or footnotes", async () => {
    const dir = tmp()
    const r = await cli(["write", "--from", fixture], { cwd: dir, env: noKey })
    expect(r.stderr).toMatch(/no OPENROUTER_KEY: writing the sources' own text \(free\)/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Read 1 source: gettysburg\.html \(\d+ words\)$/m)
    expect(r.stdout).toMatch(/^Wrote transcript\.txt: \d+ words, \d+ sentences .* spent \$0$/m)
    const file = path.join(dir, "transcript.txt")
    const said = await narrated(file)
    const s = score(said, labels.sentences)
    console.log(
      `write --from gettysburg.html: ${s.said} sentences narrated, ${s.correct} from the article (precision ${s.precision.toFixed(3)}); ` +
        `${s.found} of ${s.expected} article sentences narrated in full (recall ${s.recall.toFixed(3)})`
    )
    expect(s.precision).toBe(1)
    expect(s.recall).toBe(1)
    const leaked = labels.absent.filter((needle) => said.some((sentence) => sentence.toLowerCase().includes(needle.toLowerCase())))
    expect(leaked).toEqual([])
    // Nothing of the chrome is in the file either, apart from the citation's number, title and byline.
    const text = fs.readFileSync(file, "utf8")
    expect(labels.absent.filter((needle) => !/^\[\d\]$|^By the/.test(needle) && text.includes(needle))).toEqual([])
    // The source is cited at the end, as comments the narrator never reads.
    const comments = text.trimEnd().split("\n").filter((l) => l.startsWith("//"))
    expect(comments[0]).toMatch(/^\/\/ Sources/)
    expect(comments[1]).toBe(
      "// [1] The Gettysburg Address, by Park History Staff — gettysburg.html (https://heritage.example.gov/gett/learn/historyculture/gettysburg-address.htm)"
    )
    expect(text.trimEnd().split("\n").at(-1)).toMatch(/^\/\/ Written by storyshot write on \d{4}-\d\d-\d\d: the sources' own text, no model, \$0\.$/)
    expect(said.some((sentence) => /sources|storyshot|heritage\.example/i.test(sentence))).toBe(false)
    // Nothing was asked of any model, and nothing went out: the io log holds no request.
    expect(fs.existsSync(path.join(dir, ".storyshot", "runs"))).toBe(true)
    const runs = fs.readdirSync(path.join(dir, ".storyshot", "runs"))
    const run = JSON.parse(fs.readFileSync(path.join(dir, ".storyshot", "runs", runs[0]!, "run.json"), "utf8"))
    expect(run.requests).toEqual([])
    expect(run.cost).toEqual({ usd: 0, known: true })
  })

  it("--length cuts the sources' text at the sentence that reaches it; --dry-run writes nothing", async () => {
    const dir = tmp()
    const dry = await cli(["write", "--from", fixture, "--verbatim", "--length", "40w", "--dry-run"], { cwd: dir, env: noKey })
    expect(dry.code).toBe(0)
    expect(dry.stdout).toMatch(/Would write \d+ words, 2 sentences .*Nothing written \(--dry-run\)/)
    expect(fs.readdirSync(dir)).toEqual([])
    const r = await cli(["write", "--from", fixture, "--verbatim", "--length", "40w"], { cwd: dir, env: noKey })
    expect(r.code).toBe(0)
    expect(r.stderr).toBe("")
    const said = await narrated(path.join(dir, "transcript.txt"))
    expect(said).toEqual(labels.sentences.slice(0, 2))
  })

  it("bad input is one line and exit 2: no source, a missing file, a bad length, --topic with --verbatim", async () => {
    const dir = tmp()
    const cases: Array<[ReadonlyArray<string>, RegExp]> = [
      [["write"], /^storyshot: write needs something to write from: --topic "…", --url URL or --from FILE/],
      [["write", "--from", "nope.html"], /^storyshot: --from nope\.html: no such file$/],
      [["write", "--from", fixture, "--length", "soon"], /^storyshot: --length "soon" is not a length: write seconds \(60s\), minutes \(2m\) or words \(150w\)$/],
      [["write", "--topic", "owls", "--verbatim"], /^storyshot: --verbatim writes the sources' own text, and --topic needs a writer model/],
      [["write", "--url", "ftp://example.org/a"], /^storyshot: --url ftp:\/\/example\.org\/a: only http and https pages can be fetched/]
    ]
    for (const [args, message] of cases) {
      const r = await cli(args, { cwd: dir, env: noKey })
      expect(r.code, args.join(" ")).toBe(2)
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1)
      expect(r.stderr.trim()).toMatch(message)
    }
    expect(fs.existsSync(path.join(dir, "transcript.txt"))).toBe(false)
  })
})

describe("extraction", () => {
  it("Markdown: prose kept, headings, code, images, link targets, tables and footnotes left out", () => {
    const md = [
      "---",
      "title: Owls at night",
      "---",
      "# Owls",
      "",
      "Owls hunt at **night**, and most of them fly *without a sound*.[^1] See [the guide](https://example.org/guide).",
      "Their ears sit at different heights.",
      "",
      "![An owl](owl.jpg)",
      "",
      "```js",
      "console.log('not narrated')",
      "```",
      "",
      "| species | weight |",
      "|---|---|",
      "| barn owl | 300 g |",
      "",
      "- A barn owl eats about four mice a night.",
      "- Snowy owls hunt by day.",
      "",
      "[^1]: A footnote that is not narrated.",
      "[guide]: https://example.org/guide"
    ].join("\n")
    const x = Extract.fromMarkdown(md)
    expect(x.title).toBe("Owls at night")
    expect(x.paragraphs).toEqual([
      "Owls hunt at night, and most of them fly without a sound. See the guide. Their ears sit at different heights.",
      "A barn owl eats about four mice a night.",
      "Snowy owls hunt by day."
    ])
  })

  it("plain text: paragraphs on blank lines, wrapped lines joined, // comments left out", () => {
    const x = Extract.fromText("The keeper woke.\nShe climbed\nthe stairs.\n\n// a note\nThe boat turned.\n")
    expect(x.paragraphs).toEqual(["The keeper woke. She climbed the stairs.", "The boat turned."])
  })

  it("HTML: MediaWiki footnotes and edit links, ad slots and a byline are not narrated", async () => {
    const html = `<!doctype html><html><head><title>Owl - Wiki</title></head><body>
      <div id="mw-navigation"><ul><li><a href="/">Main page</a></li><li><a href="/random">Random article</a></li></ul></div>
      <div id="content"><h1>Owl</h1>
      <div class="byline">By a wiki editor</div>
      <h2>Hunting<span class="mw-editsection">[<a href="#">edit</a>]</span></h2>
      <p>Owls are birds of prey that hunt mostly at night, with eyes that face forward and excellent hearing.<sup class="reference" id="cite_ref-a"><a href="#cite_note-a">[1]</a></sup> Their soft feathers let them fly almost without a sound.</p>
      <div class="ads"><p>Buy owl toys now, big discounts for today only on every toy in the shop!</p></div>
      <p>Most owls swallow small prey whole and later bring up pellets of bone and fur that scientists study closely.<sup class="reference"><a href="#cite_note-b">[2]</a></sup></p>
      <div class="reflist"><ol class="references"><li id="cite_note-a">Smith, Owls of the World, 2001.</li><li id="cite_note-b">Jones, Pellets, 1999.</li></ol></div>
      </div></body></html>`
    const x = await Effect.runPromise(Extract.fromHtml(html, "owl.html"))
    expect(x.paragraphs).toEqual([
      "Owls are birds of prey that hunt mostly at night, with eyes that face forward and excellent hearing. Their soft feathers let them fly almost without a sound.",
      "Most owls swallow small prey whole and later bring up pellets of bone and fur that scientists study closely."
    ])
  })

  it("a page with no article is one clear line", async () => {
    const html = `<html><body><nav><a href="/">Home</a></nav><div id="app"></div><script>render()</script></body></html>`
    const exit = await Effect.runPromise(Effect.either(Extract.fromHtml(html, "https://example.org/app")))
    expect(exit._tag).toBe("Left")
    if (exit._tag === "Left") expect(exit.left.message).toBe(
      "https://example.org/app: no main text found (it may be built by scripts, or be mostly links): save the article's text and use --from FILE"
    )
  })
})

describe("comments in a transcript", () => {
  it("a line starting with // is neither narrated nor a paragraph break", () => {
    const text = "The keeper woke before dawn,\n// a note in the middle of a sentence\nand climbed the stairs.\n\n// Sources:\n// [1] https://example.org\n"
    expect(split(text)).toEqual(["The keeper woke before dawn, and climbed the stairs."])
  })

  it("a transcript of comments only has nothing to narrate", async () => {
    const exit = await Effect.runPromise(Effect.either(parseTranscript(new TextEncoder().encode("// just a note\n"), "t.txt")))
    expect(exit._tag === "Left" && exit.left.message).toBe("t.txt has only // comment lines, nothing to narrate: write at least one sentence with words.")
  })
})
