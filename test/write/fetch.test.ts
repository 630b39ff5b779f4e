/**
 * `storyshot write --url`: pages served by a small HTTP server on 127.0.0.1 (no test touches the network).
 * A page that is HTML is fetched (redirects followed, its charset honoured) and cited with its address; one
 * that is not HTML, too big, 4xx/5xx, a redirect loop or silent gets one clear line, and nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import * as Write from "../../src/write/Write.ts"
import * as Workspace from "../../src/Workspace.ts"
import { repoRoot } from "../e2e/harness.ts"
import { storyshot } from "./run.ts"

const article = fs.readFileSync(path.join(repoRoot, "test", "fixtures", "write", "gettysburg.html"))
const latin1 = Buffer.from(
  `<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body><article><p>Le caf\xe9 ouvre \xe0 sept heures, et la place se remplit tr\xe8s vite de monde.</p><p>On y parle de tout, du temps qu'il fait et des nouvelles du jour, jusqu'au soir.</p></article></body></html>`,
  "latin1"
)

let server: http.Server
let base: string
const hits: Array<string> = []

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? "/"
    hits.push(url)
    if (url === "/article") return void res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(article)
    if (url === "/moved") return void res.writeHead(301, { location: "/article" }).end()
    if (url === "/moved-twice") return void res.writeHead(302, { location: `${base}/moved` }).end()
    if (url.startsWith("/loop")) return void res.writeHead(302, { location: `/loop${Number(url.slice(5) || 0) + 1}` }).end()
    if (url === "/to-file") return void res.writeHead(302, { location: "file:///etc/passwd" }).end()
    if (url === "/latin1") return void res.writeHead(200, { "content-type": "text/html" }).end(latin1)
    if (url === "/paper.pdf") return void res.writeHead(200, { "content-type": "application/pdf" }).end("%PDF-1.4 ...")
    if (url === "/big-declared") return void res.writeHead(200, { "content-type": "text/html", "content-length": String(6 * 1024 * 1024) }).end()
    if (url === "/big") {
      // No content-length: the size is only known while reading.
      res.writeHead(200, { "content-type": "text/html" })
      const chunk = Buffer.alloc(256 * 1024, "<p>filler text</p>")
      let sent = 0
      const more = () => {
        while (sent < 24 && !res.destroyed) {
          sent++
          if (!res.write(chunk)) return void res.once("drain", more)
        }
        res.end()
      }
      return void more()
    }
    if (url === "/gone") return void res.writeHead(404, { "content-type": "text/html" }).end("<h1>Not here</h1>")
    if (url === "/broken") return void res.writeHead(503, { "content-type": "text/html" }).end("<h1>Down</h1>")
    if (url === "/silent") return // never answers
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => {
  server.closeAllConnections()
  return new Promise<void>((resolve) => server.close(() => resolve()))
})

const flags = (over: Partial<Write.WriteFlags>): Write.WriteFlags => ({
  topic: undefined, urls: [], from: [], length: undefined, style: undefined, audience: undefined,
  force: false, dryRun: false, verbatim: false, model: undefined, maxCost: undefined, ...over
})

/** `write` in-process, as the CLI runs it, in an empty workspace without a key. */
const write = async (over: Partial<Write.WriteFlags>, env: Record<string, string> = {}) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-fetch-"))
  const lines: Array<string> = []
  const program = Effect.flatMap(Workspace.load({ cwd: dir, env: { OPENROUTER_KEY: "", ...env } }), (ws) =>
    Write.run(ws, flags(over), { line: (l) => lines.push(l), note: (l) => lines.push(`note: ${l}`) })
  )
  const exit = await Effect.runPromise(Effect.either(program))
  return { dir, lines, exit, transcript: path.join(dir, "transcript.txt") }
}

const failure = (r: Awaited<ReturnType<typeof write>>) => {
  expect(r.exit._tag).toBe("Left")
  expect(fs.existsSync(r.transcript)).toBe(false)
  return r.exit._tag === "Left" ? (r.exit.left as { reason?: string; message: string }) : { message: "" }
}

describe("write --url", () => {
  it("fetches the page (through two redirects), extracts the article and cites the address that answered", async () => {
    const r = await write({ urls: [`${base}/moved-twice`] })
    expect(r.exit._tag).toBe("Right")
    const text = fs.readFileSync(r.transcript, "utf8")
    expect(text).toMatch(/^On November 19, 1863, President Abraham Lincoln spoke/)
    expect(text).not.toMatch(/Advertisement|Park Home|Taneytown/)
    expect(text).toContain(`// [1] The Gettysburg Address, by Park History Staff — ${base}/article (fetched `)
    expect(r.lines[0]).toMatch(new RegExp(`^Read 1 source: ${base}/article \\(\\d+ words\\)$`))
    // Each hop is in the run's io log, with the page it answered.
    const run = fs.readdirSync(path.join(r.dir, ".storyshot", "runs"))[0]!
    const io = fs.readFileSync(path.join(r.dir, ".storyshot", "runs", run, "io.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(io.map((e) => [e.provider, e.status, new URL(e.url).pathname])).toEqual([
      ["page", 302, "/moved-twice"],
      ["page", 301, "/moved"],
      ["page", 200, "/article"]
    ])
    expect(io[2].responseBody).toContain("Four score and seven years ago")
  })

  it("honours the page's charset", async () => {
    const r = await write({ urls: [`${base}/latin1`] })
    expect(r.exit._tag).toBe("Right")
    expect(fs.readFileSync(r.transcript, "utf8")).toMatch(/^Le café ouvre à sept heures, et la place se remplit très vite de monde\./)
  })

  it("a page that is not HTML, too big, 4xx/5xx, a redirect loop or silent: one clear line each", async () => {
    const cases: Array<[string, string | RegExp]> = [
      ["/paper.pdf", `${base}/paper.pdf is application/pdf, not an HTML page: save its text and use --from FILE`],
      ["/big-declared", `${base}/big-declared is larger than 5 MB (6 MB): save the part you want and use --from FILE`],
      ["/big", `${base}/big is larger than 5 MB: save the part you want and use --from FILE`],
      ["/gone", `HTTP 404 from ${base}/gone: not found`],
      ["/broken", `HTTP 503 from ${base}/broken: unavailable`],
      ["/loop", /^http:\/\/127\.0\.0\.1:\d+\/loop redirected more than 5 times \(last to \/loop6\): give the final URL$/],
      ["/to-file", `${base}/to-file redirected to file:///etc/passwd: only http and https pages can be fetched`]
    ]
    for (const [url, message] of cases) {
      const e = failure(await write({ urls: [`${base}${url}`] }))
      expect(e.reason, url).toBe("page")
      if (typeof message === "string") expect(e.message, url).toBe(message)
      else expect(e.message, url).toMatch(message)
      expect(e.message).not.toContain("\n")
    }
    const silent = failure(await write({ urls: [`${base}/silent`] }, { STORYSHOT_HTTP_TIMEOUT_MS: "300" }))
    expect(silent.message).toBe(`no complete answer from ${base}/silent within 300 ms`)
    const refused = failure(await write({ urls: ["http://127.0.0.1:9/nothing-listens-here"] }))
    expect(refused.message).toBe("could not fetch http://127.0.0.1:9/nothing-listens-here: the connection was refused (ECONNREFUSED)")
  })

  it("every --url is checked before any is fetched", async () => {
    const before = hits.length
    const e = failure(await write({ urls: [`${base}/article`, "not a url"] }))
    expect(e.message).toBe("--url not a url is not a URL: write it in full, e.g. https://example.org/article")
    expect(hits.length).toBe(before)
  })

  it("from the command line: exit 2 and one line on stderr; nothing written", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-fetch-"))
    const r = await storyshot(["write", "--url", `${base}/gone`], { cwd: dir, env: { OPENROUTER_KEY: "" } })
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n").filter((l) => !l.startsWith("storyshot: no OPENROUTER_KEY"))).toEqual([`storyshot: HTTP 404 from ${base}/gone: not found`])
    expect(fs.existsSync(path.join(dir, "transcript.txt"))).toBe(false)
  })
})
