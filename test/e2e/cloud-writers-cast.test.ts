/**
 * Contract 7 after the byok × director merge: the OpenAI-compatible chat writer and the Anthropic writer send
 * director's messages and shot-list schema (`targets/prompts/Writer.ts`, `src/Shot.ts`, through
 * `src/providers/ShotList.ts`): with a story bible, the sentence's cast reaches the user message by name and
 * role, and the schema asks for the director's fields with the bible's names offered. The fakes' answers
 * carry no director fields: they still make a film (the fields default).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startFakes, type Fakes } from "../fakes/all.ts"
import * as AnthropicFake from "../fakes/anthropic.ts"
import * as ChatFake from "../fakes/chat.ts"
import { writeBible } from "../director/run.ts"
import { makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const story = ["Mara climbed the lighthouse stairs at dusk.", "The storm rolled in across the bay."]
const bible = {
  version: 1,
  cast: [{ name: "Mara", role: "the lighthouse keeper", look: "tall, grey braid", wardrobe: "oilskin coat", aliases: [] }],
  places: [{ name: "the lighthouse", look: "white tower on a rock", aliases: [] }]
}

let fakes: Fakes
let chat: ChatFake.ChatFake
let claude: AnthropicFake.AnthropicFake
beforeAll(async () => {
  ;[fakes, chat, claude] = await Promise.all([startFakes(), ChatFake.start("openai"), AnthropicFake.start()])
})
afterAll(() => Promise.all([fakes.close(), chat.close(), claude.close()]))

describe.each(["chat", "anthropic"] as const)("prompts writer %s with a story bible", (writer) => {
  it("sends the cast by name and role and director's schema with the bible's names; the film is made", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud",\n  providers: { prompts: "${writer}" }`) })
    writeBible(dir, bible)
    const env = writer === "anthropic"
      ? { ...fakes.env, ANTHROPIC_BASE_URL: claude.baseUrl, ANTHROPIC_API_KEY: claude.apiKey, ANTHROPIC_MODEL: "claude-haiku-4-5" }
      : { ...fakes.env, CHAT_BASE_URL: chat.baseUrl, CHAT_API_KEY: chat.apiKey, CHAT_MODEL: "gpt-4o-mini" }
    const server = writer === "anthropic" ? claude : chat
    const from = server.requests.length
    const r = await runBuild(dir, {}, env)
    expect(r.summary.failed).toEqual([])
    const sent = server.requests.slice(from).map((q) => JSON.stringify(q.json))
    expect(sent.length).toBeGreaterThanOrEqual(2)
    // The first sentence's request names Mara with her role, never her look.
    expect(sent.some((s) => s.includes("Mara: the lighthouse keeper"))).toBe(true)
    expect(sent.every((s) => !s.includes("grey braid"))).toBe(true)
    // Director's fields are asked for, with the bible's names as the choices.
    for (const s of sent) {
      expect(s).toContain('"motion"')
      expect(s).toContain('"transition"')
      expect(s).toContain('"enum":["Mara"]')
    }
  })
})
