/**
 * The new prompt writers (issue 17) in cloud builds against their fakes: any OpenAI-compatible chat server
 * (`providers: { prompts: "chat" }`: an OpenAI-style one and a llama.cpp one, both local, so $0) and Claude
 * through Anthropic's Messages API (`providers: { prompts: "anthropic" }`, priced from its usage tokens).
 * Each makes a film, pays 0 on a rebuild and pays one call for an edited sentence; each fault is recovered or
 * fails with the provider's words; a wrong key never shows. Requests are counted at the fakes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakes, type Fakes } from "../fakes/all.ts"
import * as AnthropicFake from "../fakes/anthropic.ts"
import * as ChatFake from "../fakes/chat.ts"
import { makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines.", "A hunter watched from the ridge."]

let fakes: Fakes
let openaiChat: ChatFake.ChatFake
let llama: ChatFake.ChatFake
let claude: AnthropicFake.AnthropicFake
beforeAll(async () => {
  ;[fakes, openaiChat, llama, claude] = await Promise.all([startFakes(), ChatFake.start("openai"), ChatFake.start("llamacpp"), AnthropicFake.start()])
})
afterAll(() => Promise.all([fakes.close(), openaiChat.close(), llama.close(), claude.close()]))

const env = (writer: "openai" | "llama" | "anthropic", over: Record<string, string> = {}): Record<string, string> => ({
  ...fakes.env,
  ...(writer === "anthropic"
    ? { ANTHROPIC_BASE_URL: claude.baseUrl, ANTHROPIC_API_KEY: claude.apiKey, ANTHROPIC_MODEL: "claude-haiku-4-5" }
    : writer === "openai"
    ? { CHAT_BASE_URL: openaiChat.baseUrl, CHAT_API_KEY: openaiChat.apiKey, CHAT_MODEL: "gpt-4o-mini" }
    : { CHAT_BASE_URL: llama.baseUrl, CHAT_MODEL: "qwen2.5-7b-instruct-q4_k_m" }),
  ...over
})
const configFor = (writer: "openai" | "llama" | "anthropic") => smallConfig(`profile: "cloud",\n  providers: { prompts: "${writer === "anthropic" ? "anthropic" : "chat"}" }`)
const calls = (writer: "openai" | "llama" | "anthropic") => (writer === "anthropic" ? claude.messages() : writer === "openai" ? openaiChat.completions() : llama.completions())
/** The writer's fake; its faults are the fake's own kinds or the common HTTP ones (test/fakes/server.ts). */
const serverOf = (writer: "openai" | "llama" | "anthropic"): { inject: (fault: any) => void; requests: ReadonlyArray<{ json: unknown }> } =>
  writer === "anthropic" ? claude : writer === "openai" ? openaiChat : llama

const one = async (writer: "openai" | "llama" | "anthropic", over: { keepGoing?: boolean } = {}, extra: Record<string, string> = {}) => {
  const dir = makeWorkspace(story[1]!, { config: configFor(writer) })
  const before = calls(writer)
  const r = await runBuild(dir, over, env(writer, extra))
  return { ...r, dir, calls: calls(writer) - before }
}

describe.each(["openai", "llama", "anthropic"] as const)("prompts writer %s", (writer) => {
  it("makes a film; a rebuild pays 0; an edit pays one call for that sentence", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: configFor(writer) })
    fakes.reset()
    const before = calls(writer)
    const first = await runBuild(dir, {}, env(writer))
    expect(first.summary.failed).toEqual([])
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    expect(calls(writer) - before).toBe(3)
    expect(fakes.counts().chats).toBe(0) // OpenRouter was not asked
    const prompts = first.summary.built.filter((id) => id.endsWith(":prompts"))
    expect(prompts.length).toBe(3)
    if (writer === "anthropic") expect(first.summary.cost.known).toBe(true)

    const mid = calls(writer)
    fakes.reset()
    const second = await runBuild(dir, {}, env(writer))
    expect(second.summary.built).toEqual([])
    expect(calls(writer) - mid).toBe(0)
    expect(fakes.counts().total).toBe(0)

    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], "Heavy snow fell on the old pines.", story[2]].join("\n"))
    const third = await runBuild(dir, {}, env(writer))
    expect(third.summary.failed).toEqual([])
    expect(calls(writer) - mid).toBe(1)
    expect(JSON.stringify(serverOf(writer).requests.at(-1)!.json)).toContain("Sentence: Heavy snow fell on the old pines.")
  })

  it("a shot list with the wrong number of shots: one repair turn, then the film", async () => {
    serverOf(writer).inject({ kind: "wrongCount" })
    const r = await one(writer)
    expect(r.summary.failed).toEqual([])
    expect(r.calls).toBe(2)
    expect(JSON.stringify(serverOf(writer).requests.at(-1)!.json)).toMatch(/not a valid shot list: expected exactly 1 shot, got 2/)
  })

  it("429 with Retry-After: retried, recovered", async () => {
    serverOf(writer).inject({ kind: "rateLimit", retryAfter: "0" })
    const r = await one(writer)
    expect(r.summary.failed).toEqual([])
    expect(r.calls).toBe(2)
  })

  it("a 5xx: retried, recovered", async () => {
    serverOf(writer).inject(writer === "anthropic" ? { kind: "overloaded" } : { kind: "serverError", status: 503 })
    const r = await one(writer)
    expect(r.summary.failed).toEqual([])
    expect(r.calls).toBe(2)
  })

  it("an error inside a 200: not taken for an answer; asked again and recovered", async () => {
    serverOf(writer).inject({ kind: "errorIn200" })
    const r = await one(writer)
    expect(r.summary.failed).toEqual([])
    expect(r.calls).toBe(2)
  })

  it("the model refuses: fails with its words", async () => {
    serverOf(writer).inject({ kind: "refusal" })
    const r = await one(writer, { keepGoing: true })
    expect(r.summary.failed.map((f) => f.id)).toEqual(["sentence:1:prompts"])
    expect(r.summary.failed[0]!.error).toMatch(/refused.*can't help/i)
    expect(r.calls).toBe(1)
  })

  it("malformed JSON in a 200 and a truncated answer: never used as a shot list", async () => {
    serverOf(writer).inject({ kind: "malformedJson" })
    const r = await one(writer, { keepGoing: true })
    // A local server's answer costs nothing: asked again. A paid one may have been billed: not re-bought by itself.
    if (writer === "anthropic") {
      expect(r.summary.failed[0]!.error).toMatch(/Anthropic.*(broken JSON|garbled)/i)
      expect(r.calls).toBe(1)
    } else {
      expect(r.summary.failed).toEqual([])
      expect(r.calls).toBe(2)
    }
    serverOf(writer).inject({ kind: "truncated" })
    const t = await one(writer, { keepGoing: true })
    if (writer === "anthropic") expect(t.summary.failed[0]!.error).toMatch(/Anthropic/)
    else expect(t.summary.failed).toEqual([])
  })

  it("an answer that never comes: the time-out names the provider", async () => {
    serverOf(writer).inject({ kind: "hang" })
    const r = await one(writer, { keepGoing: true }, { STORYSHOT_HTTP_TIMEOUT_MS: "400" })
    if (writer === "anthropic") {
      expect(r.summary.failed[0]!.error).toMatch(/Anthropic/)
      expect(r.calls).toBe(1)
    } else {
      expect(r.summary.failed).toEqual([])
      expect(r.calls).toBe(2)
    }
  })
})

describe("provider words for money and keys", () => {
  it("Anthropic out of credit (a 400 'credit balance is too low'): says so, no retry", async () => {
    claude.inject({ kind: "lowCredit" })
    const r = await one("anthropic", { keepGoing: true })
    expect(r.summary.failed[0]!.error).toMatch(/Anthropic.*out of credit.*credit balance is too low.*add credit/i)
    expect(r.calls).toBe(1)
  })

  it("OpenAI-style 429 insufficient_quota: out of credit, not a rate limit, no retry", async () => {
    openaiChat.inject({ kind: "outOfQuota" })
    const r = await one("openai", { keepGoing: true })
    expect(r.summary.failed[0]!.error).toMatch(/out of credit.*exceeded your current quota/i)
    expect(r.calls).toBe(1)
  })

  it("a wrong key echoed back by the server (401): names who refused it, never prints it", async () => {
    const wrongChat = "sk-proj-WRONGKEY-pasted-by-the-user-0000"
    const c = await one("openai", { keepGoing: true }, { CHAT_API_KEY: wrongChat })
    expect(c.summary.failed[0]!.error).toMatch(/refused the key: check CHAT_API_KEY/)
    expect(JSON.stringify(c.summary) + JSON.stringify(c.events)).not.toContain(wrongChat)
    const wrongAnt = "sk-ant-api03-WRONGKEY-pasted-by-the-user-1111"
    const a = await one("anthropic", { keepGoing: true }, { ANTHROPIC_API_KEY: wrongAnt })
    expect(a.summary.failed[0]!.error).toMatch(/Anthropic refused the key: check ANTHROPIC_API_KEY/)
    expect(JSON.stringify(a.summary) + JSON.stringify(a.events)).not.toContain(wrongAnt)
  })

  it("a missing Anthropic key names the variable before anything is paid", async () => {
    const dir = makeWorkspace(story[1]!, { config: configFor("anthropic") })
    const { ANTHROPIC_API_KEY: _k, ...rest } = env("anthropic")
    void _k
    const before = claude.messages()
    await expect(runBuild(dir, {}, rest)).rejects.toThrow(/missing ANTHROPIC_API_KEY.*ANTHROPIC_API_KEY for prompts "anthropic"/)
    expect(claude.messages()).toBe(before)
  })

  it("llama.cpp: the nested json_schema shape is sent (its README's flat one is ignored there); loading 503 retried; context exceeded fails with its words; $0", async () => {
    const r = await one("llama")
    expect(r.summary.failed).toEqual([])
    const body = llama.requests.at(-1)!.json as any
    expect(body.response_format.type).toBe("json_schema")
    expect(body.response_format.json_schema.schema.properties.shots.minItems).toBe(1)
    const prompts = r.summary
    expect(prompts.cost.known).toBe(true)
    llama.inject({ kind: "loading" })
    expect((await one("llama")).summary.failed).toEqual([])
    llama.inject({ kind: "contextExceeded" })
    const c = await one("llama", { keepGoing: true })
    expect(c.summary.failed[0]!.error).toMatch(/exceeds the available context size/)
  })

  it("CHAT_STRUCTURED=prompt: no response_format, the schema in the instructions, the answer still checked", async () => {
    openaiChat.inject({ kind: "notJson" })
    const r = await one("openai", {}, { CHAT_STRUCTURED: "prompt" })
    expect(r.summary.failed).toEqual([])
    expect(r.calls).toBe(2)
    const first = openaiChat.requests.at(-2)!.json as any
    expect(first.response_format).toBeUndefined()
    expect(JSON.stringify(first.messages[0])).toContain("JSON schema")
  })
})
