/**
 * Keep an answer before anything else (issue 12): the real command, killed with SIGKILL right after a paid
 * answer arrived, at least 10 times for each kind of paid answer (image, narration, clip, prompts), then
 * started again. A line in a run's `io.jsonl` is written only once the answer it logs is kept in the store, so
 * the test kills the build the moment such a line appears: the answer has arrived, and decoding, checking and
 * recording it are still to come.
 *
 * Afterwards, counted at the fakes: no answer that had arrived was paid for again (no request with the same
 * input reached the provider after it), the store is clean, and the film is whole. The time each keep took
 * (from the answer's last byte to the answer being safe on disk) is printed: the window a kill can still lose.
 *
 * The rounds are deterministic in what they aim at (each kind in turn, and for fal each of its answers: the
 * submit, the result, the downloaded file); STORYSHOT_CRASH_SEED replays the small random delays.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { models, startFakes, type Fakes } from "../fakes/all.ts"
import { seeded } from "../random.ts"
import { cli, cliAsync, makeWorkspace, smallConfig } from "./harness.ts"

const cloud = smallConfig(`profile: "cloud"`)
const seed = Number(process.env.STORYSHOT_CRASH_SEED ?? Date.now() % 1_000_000)
const random = seeded(seed)
const kills = 10

type Kind = "image" | "prompts" | "narration" | "clip"
type Part = "answer" | "submit" | "result" | "file"

interface Received {
  readonly kind: Kind
  readonly part: Part
  /** What identifies the paid request: its prompt, its messages, or the fal request id. */
  readonly key: string
  readonly at: number
  readonly keptMs: number | undefined
}

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes({ workMs: { tts: 80, video: 150 }, latency: { image: 60, chat: 40, falSubmit: 10, falFiles: 10 } })
})
afterAll(() => fakes?.close())

/** What a run-log line says was received, when it is a paid answer. */
const paidAnswer = (line: any): Received | undefined => {
  if (line.status === undefined || line.status < 200 || line.status >= 300) return undefined
  const url = new URL(line.url)
  const at = line.endedAt as number
  const keptMs = line.keptMs as number | undefined
  if (line.method === "POST" && url.pathname.endsWith("/images/generations"))
    return { kind: "image", part: "answer", key: line.requestBody.prompt, at, keptMs }
  if (line.method === "POST" && url.pathname.endsWith("/chat/completions"))
    return { kind: "prompts", part: "answer", key: JSON.stringify(line.requestBody.messages), at, keptMs }
  if (line.provider !== "fal") return undefined
  const segments = url.pathname.split("/").filter(Boolean)
  if (line.method === "POST" && !url.pathname.startsWith("/storage/") && segments.length >= 2) {
    const model = segments.join("/")
    return { kind: model === models.tts ? "narration" : "clip", part: "submit", key: line.responseBody?.request_id, at, keptMs }
  }
  if (line.method === "GET" && segments[2] === "requests" && segments.length === 4) {
    return { kind: segments[1] === "minimax" ? "narration" : "clip", part: "result", key: segments[3]!, at, keptMs }
  }
  if (line.method === "GET" && segments[0] === "files" && segments[1] !== "uploads") {
    const r = fakes.fal.requests.get(segments[1]!)
    return { kind: r?.model === models.tts ? "narration" : "clip", part: "file", key: segments[1]!, at, keptMs }
  }
  return undefined
}

/** Reads new lines of every run log since the last call. */
const logReader = (dir: string) => {
  const offsets = new Map<string, number>()
  return (): Array<Received> => {
    const runs = path.join(dir, ".storyshot", "runs")
    if (!fs.existsSync(runs)) return []
    const out: Array<Received> = []
    for (const run of fs.readdirSync(runs)) {
      const file = path.join(runs, run, "io.jsonl")
      let text: string
      try {
        text = fs.readFileSync(file, "utf8")
      } catch {
        continue
      }
      const from = offsets.get(file) ?? 0
      const end = text.lastIndexOf("\n") + 1
      if (end <= from) continue
      offsets.set(file, end)
      for (const line of text.slice(from, end).split("\n")) {
        if (!line.trim()) continue
        const r = paidAnswer(JSON.parse(line))
        if (r) out.push(r)
      }
    }
    return out
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const run = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = cliAsync(args, { cwd, env: fakes.env })
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (c) => (stdout += String(c)))
    child.stderr!.on("data", (c) => (stderr += String(c)))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const line = (n: number) => `On day ${n} the keeper lit the lamp and watched the ships come in.`

describe("a paid answer is kept before anything else", () => {
  it("SIGKILL right after paid answers arrive, 10+ times per kind: 0 received answers paid again", async () => {
    const dir = makeWorkspace([line(1), line(2)].join("\n"), { config: cloud })
    let sentences = 2
    fakes.reset()
    const read = logReader(dir)
    const received: Array<Received> = []
    const killed: Record<Kind, number> = { image: 0, prompts: 0, narration: 0, clip: 0 }
    const killedParts: Record<string, number> = {}
    const order: ReadonlyArray<Kind> = ["narration", "prompts", "image", "clip"]
    const falParts: ReadonlyArray<Part> = ["submit", "result", "file"]
    let completed = 0

    for (let round = 0; order.some((k) => killed[k] < kills) && round < 200; round++) {
      const kind = order.filter((k) => killed[k] < kills)[round % order.filter((k) => killed[k] < kills).length]!
      const part: Part = kind === "image" || kind === "prompts" ? "answer" : falParts[(killed[kind] + round) % 3]!
      const child = cliAsync(["build", "--json"], { cwd: dir, env: fakes.env })
      let stderr = ""
      child.stderr!.on("data", (c) => (stderr += String(c)))
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
      let done: number | null | "running" = "running"
      void exited.then((code) => (done = code))
      let hit: Received | undefined
      while (done === "running" && hit === undefined) {
        for (const r of read()) {
          received.push(r)
          if (hit === undefined && r.kind === kind && r.part === part) hit = r
        }
        if (hit === undefined) await sleep(2)
      }
      if (hit !== undefined && done === "running") {
        // Right after the answer arrived (and was kept): a few milliseconds later at most.
        if (random() < 0.5) await sleep(Math.floor(random() * 3))
        child.kill("SIGKILL")
        await exited
        killed[kind]++
        killedParts[`${kind}:${part}`] = (killedParts[`${kind}:${part}`] ?? 0) + 1
      } else {
        await exited
        expect(done, `seed ${seed}: ${stderr}`).toBe(0)
        completed++
        // Nothing of that kind was left to kill in: give the next build new paid work of every kind.
        fs.appendFileSync(path.join(dir, "transcript.txt"), `\n${line(++sentences)}`)
      }
      received.push(...read())
    }

    const last = await run(["build", "--json"], dir)
    expect(last.code, `seed ${seed}: ${last.stderr}`).toBe(0)
    received.push(...read())
    const again = await run(["build", "--json"], dir)
    expect(JSON.parse(again.stdout).built).toEqual([])

    // Paid requests at the fakes, with when they arrived.
    const images = fakes.openai.requests.filter((q) => q.method === "POST").map((q) => ({ key: (q.json as any).prompt as string, at: q.at }))
    const chats = fakes.openrouter.requests.filter((q) => q.method === "POST").map((q) => ({ key: JSON.stringify((q.json as any).messages), at: q.at }))
    const falRequests = [...fakes.fal.requests.values()]
    const inputOf = (id: string) => {
      const r = fakes.fal.requests.get(id)
      return r === undefined ? undefined : `${r.model}|${JSON.stringify(r.model === models.tts ? r.input.text : r.input.prompt)}`
    }
    const falSubmits = falRequests.map((r) => ({ key: `${r.model}|${JSON.stringify(r.model === models.tts ? r.input.text : r.input.prompt)}`, at: r.submittedAt }))

    const paidAgain = received.filter((r) => {
      if (r.kind === "image") return images.some((q) => q.key === r.key && q.at > r.at)
      if (r.kind === "prompts") return chats.some((q) => q.key === r.key && q.at > r.at)
      const input = inputOf(r.key)
      return input !== undefined && falSubmits.some((q) => q.key === input && q.at > r.at)
    })
    const byKind = (k: Kind) => ({
      kills: killed[k],
      received: received.filter((r) => r.kind === k).length,
      paidAgain: paidAgain.filter((r) => r.kind === k).length
    })
    const kept = received.map((r) => r.keptMs).filter((ms): ms is number => typeof ms === "number").sort((a, b) => a - b)
    const pct = (p: number) => kept[Math.min(kept.length - 1, Math.floor((kept.length * p) / 100))]
    console.log(
      `kept-answer crash test: ${JSON.stringify({
        seed,
        rounds: Object.values(killed).reduce((a, b) => a + b, 0) + completed,
        buildsThatFinished: completed,
        sentences,
        image: byKind("image"),
        prompts: byKind("prompts"),
        narration: byKind("narration"),
        clip: byKind("clip"),
        killsByAnswer: killedParts,
        requests: { images: images.length, chats: chats.length, falSubmits: falSubmits.length },
        keepMs: { answers: kept.length, median: pct(50), p95: pct(95), max: kept.at(-1) }
      })}`
    )
    for (const k of order) expect(killed[k], `seed ${seed}`).toBeGreaterThanOrEqual(kills)
    expect(paidAgain, `seed ${seed}`).toEqual([])

    const verify = cli(["verify", "--json"], { cwd: dir })
    expect(JSON.parse(verify.stdout).problems, `seed ${seed}`).toEqual([])
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
  }, 600_000)
})
