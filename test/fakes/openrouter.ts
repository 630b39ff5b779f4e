/**
 * A fake OpenRouter (`/api/v1/chat/completions`, `/api/v1/models`) that speaks the real protocol: Bearer key,
 * `{error:{code,message,metadata}}` errors, `provider.require_parameters` routing (a model without structured
 * outputs gets OpenRouter's 404), a `json_schema` response_format honoured by answering exactly `minItems`
 * shots, `usage.cost` computed from the model's listed prices, and a `gen-…` id.
 *
 * A request without a response_format whose system message asks for a narration script (`storyshot write`)
 * is answered with a script of about the words its user message asks for ("Length: about N words."), made
 * of plain sentences about its "Topic:" line: deterministic, so tests can check what reached the file.
 */
import { hasBearer, startServer, type CommonFault, type FakeRequest, type FakeServer, type Reply } from "./server.ts"
import { cameraMoves } from "../../src/Shot.ts"

export type OpenRouterFault =
  | CommonFault
  /** 402: the account is out of credit. */
  | { readonly kind: "outOfCredit" }
  /** HTTP 200 whose body is `{error:{code,message}}` (the upstream provider failed). */
  | { readonly kind: "errorIn200"; readonly code?: number; readonly message?: string }
  /** A shot list with the wrong number of shots (default: one too many). */
  | { readonly kind: "wrongCount"; readonly count?: number }
  /** Message content that is not JSON at all. */
  | { readonly kind: "notJson" }
  /** Valid JSON wrapped in a Markdown fence, as some models do. */
  | { readonly kind: "fenced" }
  /** A 200 without `usage.cost`. */
  | { readonly kind: "noCost" }
  /** A narration script dressed the way models do it: a title, a heading, bullets, "Narrator:", bold, a cue. */
  | { readonly kind: "scriptMarkdown" }
  /** A script answer whose content is empty. */
  | { readonly kind: "emptyScript" }

export interface FakeModel {
  readonly id: string
  readonly pricing: { readonly prompt: string; readonly completion: string }
  readonly context_length: number
  readonly supported_parameters: ReadonlyArray<string>
}

export const defaultModels: ReadonlyArray<FakeModel> = [
  {
    id: "google/gemini-2.5-flash",
    pricing: { prompt: "0.0000003", completion: "0.0000025" },
    context_length: 1_048_576,
    supported_parameters: ["max_tokens", "temperature", "response_format", "structured_outputs", "tools"]
  },
  {
    id: "openai/gpt-4o-mini",
    pricing: { prompt: "0.00000015", completion: "0.0000006" },
    context_length: 128_000,
    supported_parameters: ["max_tokens", "temperature", "response_format", "structured_outputs", "seed"]
  },
  {
    id: "meta-llama/llama-3-8b-instruct",
    pricing: { prompt: "0.00000003", completion: "0.00000006" },
    context_length: 8192,
    supported_parameters: ["max_tokens", "temperature"]
  },
  {
    id: "openrouter/auto",
    pricing: { prompt: "-1", completion: "-1" },
    context_length: 2_000_000,
    supported_parameters: ["max_tokens", "temperature", "response_format", "structured_outputs"]
  }
]

export interface OpenRouterFakeOptions {
  readonly apiKey?: string
  readonly models?: ReadonlyArray<FakeModel>
}

export interface OpenRouterFake extends FakeServer<OpenRouterFault> {
  /** What to configure as OPENROUTER_BASE_URL: `<url>/api/v1`. */
  readonly baseUrl: string
  readonly apiKey: string
}

export const defaultKey = "sk-or-v1-fake0123456789abcdef0123456789abcdef"

const framings = ["wide", "medium", "close-up", "extreme close-up"]

const orError = (code: number, message: string, metadata?: unknown) => ({
  error: { code, message, ...(metadata === undefined ? {} : { metadata }) }
})

const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4))

const scriptSentences = [
  "The story of {t} begins on a quiet morning.",
  "Few people noticed it at first, but something had changed.",
  "Over the following years, {t} shaped the lives of many.",
  "Some saw it as a danger, and others as a gift.",
  "The people who lived through it remembered the smallest details.",
  "There was the smell of rain, and the sound of distant bells.",
  "In time, {t} became part of everyday life.",
  "Children grew up hearing stories about it.",
  "Today, {t} is remembered with both pride and care.",
  "And the questions it raised are still with us."
]

/** A deterministic script of about `words` words about `topic`, four sentences a paragraph. */
export const script = (topic: string, words: number): string => {
  const out: Array<string> = []
  let count = 0
  for (let i = 0; count < words; i++) {
    const sentence = scriptSentences[i % scriptSentences.length]!.replace("{t}", topic)
    out.push(sentence)
    count += sentence.split(/\s+/).length
  }
  const paragraphs: Array<string> = []
  for (let i = 0; i < out.length; i += 4) paragraphs.push(out.slice(i, i + 4).join(" "))
  return paragraphs.join("\n\n")
}

/** A shot's motion, transition, cast and place as a writer would tag them: the names offered that the sentence says. */
const directed = (props: Record<string, any>, messages: ReadonlyArray<{ role: string; content: string }>, i: number) => {
  const user = messages.find((m) => m.role === "user")?.content ?? ""
  const sentence = (/^Sentence: (.*)$/m.exec(user)?.[1] ?? user).toLowerCase()
  const says = (name: string) => new RegExp(`\\b${name.toLowerCase()}\\b`).test(sentence)
  const castNames: ReadonlyArray<string> = props.cast?.items?.enum ?? []
  const placeNames: ReadonlyArray<string> = props.place?.anyOf?.[0]?.enum ?? []
  return {
    // A motion of its own for every shot, as a writer gives (the clip's request is told apart by it).
    motion: `shot ${i + 1}: ${sentence.replace(/[.!?]+$/, "").slice(0, 120)}, the figure turns slowly`,
    transition: i === 0 ? "cut" : "crossfade",
    cast: castNames.filter(says),
    place: placeNames.find(says) ?? null
  }
}

const isScriptRequest = (messages: ReadonlyArray<{ role: string; content: string }>) =>
  messages.some((m) => m.role === "system" && /narration scripts/i.test(m.content))

/** The user's words, stripped of the fake's own repair prompt, for deterministic shot prompts. */
const subjectOf = (messages: ReadonlyArray<{ role: string; content: string }>) =>
  (messages.find((m) => m.role === "user")?.content ?? "a scene").replace(/\s+/g, " ").trim().slice(0, 200)

export const start = async (opts: OpenRouterFakeOptions = {}): Promise<OpenRouterFake> => {
  const apiKey = opts.apiKey ?? defaultKey
  const models = opts.models ?? defaultModels
  let counter = 0

  const handle = (req: FakeRequest, fault: OpenRouterFault | undefined): Reply => {
    if (req.method === "GET" && req.path.startsWith("/api/v1/models")) {
      return { status: 200, json: { data: models.map((m) => ({ ...m, name: m.id, pricing: { ...m.pricing, request: "0", image: "0" } })) } }
    }
    if (req.method !== "POST" || !req.path.startsWith("/api/v1/chat/completions")) {
      return { status: 404, json: orError(404, `Not Found: ${req.method} ${req.path}`) }
    }
    if (!hasBearer(req, apiKey)) return { status: 401, json: orError(401, "No auth credentials found") }
    if (fault?.kind === "outOfCredit") {
      return {
        status: 402,
        json: orError(402, "Insufficient credits. This account never purchased credits. Make sure your key is on the correct account or org, and if so, purchase more at https://openrouter.ai/settings/credits")
      }
    }
    const body = req.json as Record<string, any> | undefined
    if (typeof body !== "object" || body === null || !Array.isArray(body.messages) || body.messages.length === 0) {
      return { status: 400, json: orError(400, "Input required: specify \"prompt\" or \"messages\"") }
    }
    const model = models.find((m) => m.id === body.model)
    if (model === undefined) return { status: 400, json: orError(400, `${String(body.model)} is not a valid model ID`) }
    const format = body.response_format
    const wantsSchema = format?.type === "json_schema"
    if (body.provider?.require_parameters === true && wantsSchema && !model.supported_parameters.includes("structured_outputs")) {
      return { status: 404, json: orError(404, "No endpoints found that can handle the requested parameters.") }
    }
    const id = `gen-${1_760_000_000 + ++counter}-fake${counter}`
    if (fault?.kind === "errorIn200") {
      return {
        status: 200,
        json: { id, ...orError(fault.code ?? 502, fault.message ?? "Provider returned error", { provider_name: "FakeUpstream", raw: "upstream overloaded" }) }
      }
    }

    const messages = body.messages as ReadonlyArray<{ role: string; content: string }>
    let content: string
    if (wantsSchema && format.json_schema?.name === "story_bible") {
      // The director's first draft (issue 16): every capitalised word that is not a sentence's first is a character.
      const user = messages.find((m) => m.role === "user")?.content ?? ""
      const names = [...new Set([...user.matchAll(/(?<=[a-z,] )[A-Z][a-z]+/g)].map((m) => m[0]))]
      content = JSON.stringify({
        style: { medium: "ink and watercolour", palette: "slate and amber", lens: "35mm", era: "today" },
        cast: names.map((name) => ({ name, role: `someone called ${name}`, look: `${name}'s face, fake look`, wardrobe: "a grey coat", aliases: [] })),
        places: []
      })
    } else if (wantsSchema) {
      const shotsSchema = format.json_schema?.schema?.properties?.shots
      const pinned = typeof shotsSchema?.minItems === "number" ? shotsSchema.minItems : 3
      const count = fault?.kind === "wrongCount" ? fault.count ?? pinned + 1 : pinned
      const subject = subjectOf(messages)
      const shots = Array.from({ length: count }, (_, i) => ({
        prompt: `Shot ${i + 1} of ${count}: ${subject}, cinematic still, soft light`,
        shotType: framings[i % framings.length],
        camera: cameraMoves[(i + subject.length) % cameraMoves.length],
        // The director's fields when the schema asks for them (issue 16): the cast the sentence names.
        ...(shotsSchema?.items?.properties?.cast ? directed(shotsSchema.items.properties, messages, i) : {})
      }))
      content = JSON.stringify({ shots })
      if (fault?.kind === "fenced") content = "```json\n" + content + "\n```"
    } else if (isScriptRequest(messages)) {
      const user = messages.find((m) => m.role === "user")?.content ?? ""
      const words = Number(/Length: about (\d+) words/.exec(user)?.[1] ?? 150)
      const topic = /^Topic: (.+)$/m.exec(user)?.[1]?.replace(/\.$/, "") ?? "the subject"
      content = script(topic.length > 80 ? "this story" : topic, words)
      if (fault?.kind === "scriptMarkdown")
        content = `**Title: ${topic}**\n\n## Part one\n\nNarrator: ${content.split("\n\n")[0]}\n\n[Music swells]\n\n- ${content.split("\n\n").slice(1).join("\n- ")}\n\nWord count: ${words}`
      if (fault?.kind === "emptyScript") content = ""
    } else {
      content = `Fake answer about: ${subjectOf(messages)}`
    }
    if (fault?.kind === "notJson") content = "Sure! Here are your shots: 1) a wide view of the harbour..."

    const promptTokens = tokens(messages.map((m) => m.content).join("\n"))
    const completionTokens = tokens(content)
    const price = (s: string) => Math.max(0, Number(s))
    const cost = promptTokens * price(model.pricing.prompt) + completionTokens * price(model.pricing.completion)
    return {
      status: 200,
      json: {
        id,
        provider: "FakeUpstream",
        model: model.id,
        object: "chat.completion",
        created: 1_760_000_000 + counter,
        choices: [{ index: 0, logprobs: null, finish_reason: "stop", native_finish_reason: "STOP", message: { role: "assistant", content, refusal: null, reasoning: null } }],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
          ...(fault?.kind === "noCost" ? {} : { cost })
        }
      }
    }
  }

  const server = await startServer<OpenRouterFault>({ handle, errorBody: (status, message) => orError(status, message) })
  return { ...server, baseUrl: `${server.url}/api/v1`, apiKey }
}
