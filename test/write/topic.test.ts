/**
 * `storyshot write --topic` against the fake OpenRouter (test/fakes/openrouter.ts, on 127.0.0.1): the price is
 * shown before the paid call is made, the script is written as plain narratable sentences, the call is
 * recorded like any paid request (cost, time, full input and output in the io log, no key anywhere), and an
 * existing transcript is never overwritten without --force. Without a key, --topic says what to set.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import * as OpenRouter from "../fakes/openrouter.ts"
import { parseTranscript } from "../../src/text/Sentences.ts"
import { bin, repoRoot } from "../e2e/harness.ts"
import { storyshot } from "./run.ts"

let fake: OpenRouter.OpenRouterFake
beforeAll(async () => {
  fake = await OpenRouter.start()
})
afterAll(() => fake.close())

const env = () => ({
  OPENROUTER_KEY: fake.apiKey,
  OPENROUTER_BASE_URL: fake.baseUrl,
  OPENROUTER_MODEL: "openai/gpt-4o-mini",
  STORYSHOT_RETRY_BASE_MS: "10"
})
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-topic-"))
const chats = () => fake.requests.filter((r) => r.path.endsWith("/chat/completions"))
const cli = storyshot

const narrated = (file: string) => Effect.runPromise(parseTranscript(fs.readFileSync(file), file)) as Promise<ReadonlyArray<string>>

/** Every file under `dir`, as text. */
const allText = (dir: string): string => {
  let out = ""
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out += fs.readFileSync(path.join(entry.parentPath, entry.name), "latin1")
  }
  return out
}

/** Runs the command, and reports what it had printed at the moment the fake received the paid request. */
const runWatchingTheCall = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string; printedBeforeCall: string }>((resolve) => {
    fake.setLatency((req) => (req.path.endsWith("/chat/completions") ? 800 : 0))
    const before = chats().length
    let stdout = ""
    let stderr = ""
    let printedBeforeCall: string | undefined
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, CI: "true", ...env() }, stdio: ["ignore", "pipe", "pipe"] })
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const poll = setInterval(() => {
      // The fake holds its answer 800 ms: what the command printed by then, it printed before it was answered.
      if (printedBeforeCall === undefined && chats().length > before) setTimeout(() => (printedBeforeCall ??= stdout), 300)
    }, 20)
    child.on("close", (code) => {
      clearInterval(poll)
      fake.setLatency(() => 0)
      resolve({ code, stdout, stderr, printedBeforeCall: printedBeforeCall ?? "(the call was never made)" })
    })
  })

describe("write --topic (fake OpenRouter)", () => {
  it("shows the price before the call, writes the script, records the call; no overwrite without --force", async () => {
    const dir = tmp()
    fake.clearFaults()

    // --dry-run: the price, and no paid request.
    const before = chats().length
    const dry = await cli(["write", "--topic", "the lighthouse keeper", "--length", "150w", "--dry-run"], { cwd: dir, env: env() })
    expect(dry.code).toBe(0)
    expect(dry.stdout).toMatch(/^Writing a script of about 150 words with openai\/gpt-4o-mini: estimated \$0\.000\d, at most \$0\.000\d \(\d+ tokens in, up to 500 tokens out, prices from OpenRouter's list\)$/m)
    expect(dry.stdout).toContain("Nothing paid (--dry-run): no request sent, no file written.")
    expect(chats().length).toBe(before)
    expect(fs.readdirSync(dir)).toEqual([])

    // The real call: the estimate is on screen before the fake answers it.
    const r = await runWatchingTheCall(["write", "--topic", "the lighthouse keeper", "--length", "150w", "--audience", "children"], dir)
    expect(r.code).toBe(0)
    expect(r.printedBeforeCall).toMatch(/Writing a script of about 150 words with openai\/gpt-4o-mini: estimated \$0\.000\d/)
    expect(r.printedBeforeCall).not.toContain("Wrote")
    expect(chats().length).toBe(before + 1)
    const wrote = /^Wrote transcript\.txt: (\d+) words, (\d+) sentences \(≈ (\d+) s at 165 words a minute\) · spent \$(0\.\d+)$/m.exec(r.stdout)
    expect(wrote).not.toBeNull()
    const [, words, sentences, seconds, spent] = wrote!
    console.log(`write --topic: ${words} words, ${sentences} sentences, ≈ ${seconds} s; spent $${spent}; ${r.printedBeforeCall.trim().split("\n").at(-1)}`)
    expect(Number(words)).toBeGreaterThanOrEqual(150)
    expect(Number(words)).toBeLessThan(170)

    // What was asked: the topic, the audience, the length, as plain data in the messages.
    const request = chats().at(-1)!.json as { model: string; messages: Array<{ role: string; content: string }>; max_tokens: number }
    expect(request.model).toBe("openai/gpt-4o-mini")
    expect(request.max_tokens).toBe(500)
    expect(request.messages[1]!.content).toContain("Topic: the lighthouse keeper\nAudience: children\nLength: about 150 words.")

    // The transcript: the script's sentences, then the comment saying how it was made (not narrated).
    const file = path.join(dir, "transcript.txt")
    const text = fs.readFileSync(file, "utf8")
    const said = await narrated(file)
    expect(said[0]).toBe("The story of the lighthouse keeper begins on a quiet morning.")
    expect(said).toHaveLength(Number(sentences))
    expect(text.trimEnd().split("\n").at(-1)).toMatch(
      new RegExp(`^// Written by storyshot write on \\d{4}-\\d\\d-\\d\\d with openai/gpt-4o-mini \\(\\$${spent.replace(".", "\\.")}\\): topic "the lighthouse keeper", audience "children"; asked for about 150 words\\.$`)
    )

    // Recorded like any paid request: run.json (cost, time, request id) and the full exchange in io.jsonl.
    const runsDir = path.join(dir, ".storyshot", "runs")
    const runId = fs.readdirSync(runsDir).find((id) => fs.existsSync(path.join(runsDir, id, "io.jsonl")) && JSON.parse(fs.readFileSync(path.join(runsDir, id, "run.json"), "utf8")).requests.length === 1)!
    const run = JSON.parse(fs.readFileSync(path.join(runsDir, runId, "run.json"), "utf8"))
    expect(run.targets).toEqual(["write"])
    expect(run.requests).toHaveLength(1)
    expect(run.requests[0]).toMatchObject({ node: "write", provider: "openrouter", model: "openai/gpt-4o-mini", cost: { source: "reported" } })
    expect(run.requests[0].cost.usd.toFixed(4)).toBe(spent)
    expect(run.requests[0].requestId).toMatch(/^gen-/)
    expect(run.requests[0].endedAt).toBeGreaterThanOrEqual(run.requests[0].startedAt + 700)
    const io = fs.readFileSync(path.join(runsDir, runId, "io.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    const call = io.find((e) => e.url.endsWith("/chat/completions"))
    expect(call.requestBody.messages[1].content).toContain("Topic: the lighthouse keeper")
    expect(call.responseBody.choices[0].message.content).toContain("The story of the lighthouse keeper begins on a quiet morning.")
    expect(call.requestHeaders.authorization).toBe("Bearer ***")
    expect(allText(dir)).not.toContain(fake.apiKey)
    expect(r.stdout + r.stderr).not.toContain(fake.apiKey)
    // `storyshot runs` lists it with what it spent.
    const runs = await cli(["runs", "--json"], { cwd: dir, env: env() })
    expect(runs.code).toBe(0)
    expect(runs.stdout).toContain(runId)

    // Again, without --force: the transcript is kept, the new script goes beside it.
    const edited = text.replace("quiet morning", "stormy morning")
    fs.writeFileSync(file, edited)
    const again = await cli(["write", "--topic", "owls", "--length", "60s"], { cwd: dir, env: env() })
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/^Writing a script of about 165 words \(60 s\) with openai\/gpt-4o-mini: estimated/m)
    expect(again.stdout).toMatch(/^Wrote transcript\.new\.txt: /m)
    expect(again.stdout).toContain("transcript.txt exists and was kept (--force replaces it)")
    expect(fs.readFileSync(file, "utf8")).toBe(edited)
    expect(fs.readFileSync(path.join(dir, "transcript.new.txt"), "utf8")).toMatch(/^The story of owls begins/)
    // And once more: the first .new file (paid for) is kept too.
    const third = await cli(["write", "--topic", "bees", "--length", "20w"], { cwd: dir, env: env() })
    expect(third.stdout).toMatch(/^Wrote transcript\.new-2\.txt: /m)
    expect(fs.readFileSync(path.join(dir, "transcript.new.txt"), "utf8")).toMatch(/^The story of owls begins/)

    // --force replaces it.
    const forced = await cli(["write", "--topic", "owls", "--length", "20w", "--force"], { cwd: dir, env: env() })
    expect(forced.code).toBe(0)
    expect(forced.stdout).toMatch(/^Wrote transcript\.txt: /m)
    expect(forced.stderr).toContain("replaced transcript.txt (--force)")
    expect(fs.readFileSync(file, "utf8")).toMatch(/^The story of owls begins/)
  })

  it("without a key, --topic says it needs a writer model and which variable to set; nothing is sent", async () => {
    const dir = tmp()
    const before = fake.requests.length
    const r = await cli(["write", "--topic", "owls"], { cwd: dir, env: { ...env(), OPENROUTER_KEY: "" } })
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
    expect(r.stderr).toMatch(/^storyshot: --topic needs a writer model: set OPENROUTER_KEY in \.env or the environment \(the model is OPENROUTER_MODEL, now openai\/gpt-4o-mini; OPENROUTER_BASE_URL may point at any OpenAI-compatible endpoint\)/)
    expect(fake.requests.length).toBe(before)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it("a page and a file as sources: both reach the model as data, both are cited", async () => {
    const dir = tmp()
    fs.writeFileSync(path.join(dir, "notes.md"), "# Notes\n\nThe keeper kept a diary of every storm she saw from the tower.\n")
    const r = await cli(["write", "--from", "notes.md", "--from", path.join(repoRoot, "test", "fixtures", "write", "gettysburg.html"), "--length", "30w"], { cwd: dir, env: env() })
    expect(r.code).toBe(0)
    const user = (chats().at(-1)!.json as { messages: Array<{ content: string }> }).messages[1]!.content
    expect(user).toContain("Sources (2; their text is between <<< and >>>):")
    expect(user).toContain("[1] Notes (notes.md)\n<<<\nThe keeper kept a diary of every storm she saw from the tower.\n>>>")
    expect(user).toContain("Four score and seven years ago")
    expect(user).not.toContain("Advertisement")
    const text = fs.readFileSync(path.join(dir, "transcript.txt"), "utf8")
    expect(text).toContain("// [1] Notes — notes.md")
    expect(text).toContain("// [2] The Gettysburg Address, by Park History Staff — gettysburg.html")
  })

  it("a model's Markdown, labels and cues are taken out: what is left is what is narrated", async () => {
    const dir = tmp()
    fake.inject({ kind: "scriptMarkdown" }, { path: /chat\/completions/ })
    const r = await cli(["write", "--topic", "owls", "--length", "40w"], { cwd: dir, env: env() })
    expect(r.code).toBe(0)
    const said = await narrated(path.join(dir, "transcript.txt"))
    expect(said.join(" ")).not.toMatch(/Title|Part one|Narrator|Music swells|Word count|\*\*|^- /)
    expect(said[0]).toBe("The story of owls begins on a quiet morning.")
  })

  it("provider failures are one line, exit 1, and write nothing: out of credit, an empty answer, no answer; a 429 is tried again", async () => {
    const dir = tmp()
    fake.inject({ kind: "outOfCredit" }, { path: /chat\/completions/ })
    const broke = await cli(["write", "--topic", "owls", "--length", "20w"], { cwd: dir, env: env() })
    expect(broke.code).toBe(1)
    expect(broke.stderr.trim().split("\n")).toHaveLength(1)
    expect(broke.stderr.trim()).toMatch(/^storyshot: the writer model \(openai\/gpt-4o-mini at http:\/\/127\.0\.0\.1:\d+\/api\/v1\) says the account is out of credit \(Insufficient credits\..*\): add credit at https:\/\/openrouter\.ai\/settings\/credits, then run again \(the exchange is in \.storyshot\/runs\/[^/]+\/io\.jsonl\)$/)
    fake.inject({ kind: "emptyScript" }, { path: /chat\/completions/ })
    const empty = await cli(["write", "--topic", "owls", "--length", "20w"], { cwd: dir, env: env() })
    expect(empty.code).toBe(1)
    expect(empty.stderr).toMatch(/^storyshot: openai\/gpt-4o-mini answered with nothing to narrate \(\$0\.\d+ paid; its answer is in \.storyshot\/runs\/[^/]+\/io\.jsonl\)$/m)
    expect(fs.existsSync(path.join(dir, "transcript.txt"))).toBe(false)
    const failedRuns = await cli(["runs", "--json"], { cwd: dir, env: env() })
    expect(JSON.parse(failedRuns.stdout).runs.filter((run: { failed: number }) => run.failed === 1)).toHaveLength(2)


    fake.inject({ kind: "hang" }, { path: /chat\/completions/ })
    const silent = await cli(["write", "--topic", "owls", "--length", "20w"], { cwd: dir, env: { ...env(), STORYSHOT_HTTP_TIMEOUT_MS: "500" } })
    expect(silent.code).toBe(1)
    expect(silent.stderr.trim()).toMatch(/^storyshot: the writer model .* failed: no (complete )?answer (from openrouter )?within 500 ms.*; it may have been billed \(check your provider's activity page before running again\) \(the exchange is in .*io\.jsonl\)$/)

    const before = chats().length
    fake.inject({ kind: "rateLimit", retryAfterMs: 50 }, { path: /chat\/completions/ })
    const limited = await cli(["write", "--topic", "owls", "--length", "20w"], { cwd: dir, env: env() })
    expect(limited.code).toBe(0)
    expect(chats().length).toBe(before + 2)
    expect(fs.readFileSync(path.join(dir, "transcript.txt"), "utf8")).toMatch(/^The story of owls/)
  })

  it("the spend cap refuses a call that could pass it, before anything is sent", async () => {
    const dir = tmp()
    const before = chats().length
    const r = await cli(["write", "--topic", "owls", "--length", "2m", "--max-cost", "0.00001"], { cwd: dir, env: env() })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^storyshot: this call could cost up to \$0\.000\d+, over the spend cap of \$0\.0000: nothing was sent/m)
    expect(chats().length).toBe(before)
  })
})
