/**
 * What every LLM prompt writer sends and checks, in one module (contract 7): the instructions (system and
 * user messages), the shot-list JSON schema that pins the number of shots, the Schema that checks an answer,
 * and the repair message shown to a model whose answer did not pass. OpenRouter, any OpenAI-compatible chat
 * server and Anthropic all build their requests from here, so a new shot field (cast, place, motion,
 * transition) reaches every writer by one change here (and a `templateVersion` bump, which re-plans).
 *
 * The texts are part of the request: `templateVersion` enters each writer's fingerprint, so an edit of a
 * text here must bump it (every prompt is then written again, and paid for again).
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import { cameraMoves, type Shot } from "../Shot.ts"

/** Bump when a text or the schema below changes: it changes every answer. */
export const templateVersion = 1

export const system = (style: string) =>
  [
    "You are a storyboard artist for a narrated short film.",
    "For one sentence of narration you write one still-image prompt per shot, in order, each a single vivid",
    "description of what the frame shows (subject, setting, framing, light), with no text or captions in the image.",
    "Shots of one sentence must look like one continuous scene: same characters, places and palette.",
    `Global style for every shot: ${style}.`,
    'Answer only with JSON: {"shots":[{"prompt": "...", "shotType": "...", "camera": "push-in|pull-out|pan-left|pan-right|tilt-up|tilt-down"}]}.'
  ].join(" ")

/** What a writer is told about one sentence (`targets/prompts/Prompts.ts`'s `brief`); a new field for every
 *  writer (the cast, the places) is added here and to the text below, once. */
export interface Brief {
  readonly sentence: string
  readonly count: number
  readonly previous: string | null
  readonly next: string | null
}

export const user = (brief: Brief) =>
  [
    brief.previous ? `Previous sentence (context only): ${brief.previous}` : "This is the first sentence.",
    `Sentence: ${brief.sentence}`,
    brief.next ? `Next sentence (context only): ${brief.next}` : "This is the last sentence.",
    `Write exactly ${brief.count} shot${brief.count === 1 ? "" : "s"}.`
  ].join("\n")

/** The name structured-output APIs give the schema (OpenAI's `json_schema.name`, Anthropic's tool name). */
export const schemaName = "shot_list"

/** The JSON schema of the answer; it pins the number of shots. Strict-mode shaped (every property required,
 *  no additional properties), as OpenAI's strict structured outputs demand. */
export const jsonSchema = (count: number) => ({
  type: "object",
  additionalProperties: false,
  required: ["shots"],
  properties: {
    shots: {
      type: "array",
      minItems: count,
      maxItems: count,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["prompt", "shotType", "camera"],
        properties: {
          prompt: { type: "string", description: "A self-contained still-image prompt for this shot." },
          shotType: { type: "string", description: "Framing, e.g. wide, medium, close-up, extreme close-up." },
          camera: { type: "string", enum: [...cameraMoves], description: "The camera move over the still." }
        }
      }
    }
  }
})

const ShotSchema = Schema.Struct({
  prompt: Schema.String.pipe(Schema.filter((s) => s.trim().length > 0 || "a shot's prompt is empty")),
  shotType: Schema.String,
  camera: Schema.Literal(...cameraMoves)
})

const ShotListSchema = Schema.Struct({ shots: Schema.Array(ShotSchema) })

/** Checks an answer already parsed (a tool call's input); Left carries a reason short enough to show the model. */
export const check = (json: unknown, count: number): Either.Either<ReadonlyArray<Shot>, string> => {
  const decoded = Schema.decodeUnknownEither(ShotListSchema)(json, { onExcessProperty: "ignore" })
  if (Either.isLeft(decoded)) return Either.left(ParseResult.TreeFormatter.formatErrorSync(decoded.left))
  const shots = decoded.right.shots
  if (shots.length !== count) return Either.left(`expected exactly ${count} shot${count === 1 ? "" : "s"}, got ${shots.length}`)
  return Either.right(shots)
}

/** Checks a model's message content; Left carries a reason short enough to show the model and a person. */
export const parse = (content: string, count: number): Either.Either<ReadonlyArray<Shot>, string> => {
  // Some models wrap JSON in a Markdown fence even under a json_schema response_format; local models also
  // say a sentence before it: the first {...} block is taken.
  const text = content.trim().replace(/^```(?:json)?\s*/i, "").replace(/\s*```$/, "")
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    const start = text.indexOf("{")
    const end = text.lastIndexOf("}")
    const inner = start >= 0 && end > start ? text.slice(start, end + 1) : undefined
    try {
      if (inner === undefined) throw e
      json = JSON.parse(inner)
    } catch {
      return Either.left(`the answer is not JSON (${e instanceof Error ? e.message : String(e)})`)
    }
  }
  return check(json, count)
}

/** The one repair turn: the model is shown why its answer did not pass. */
export const repair = (reason: string, count: number) =>
  `That answer is not a valid shot list: ${reason}. Reply with only the JSON object ` +
  `{"shots": [...]} holding exactly ${count} shot${count === 1 ? "" : "s"}, each with "prompt", ` +
  `"shotType" and "camera" (one of ${cameraMoves.join(", ")}).`

// ---------------------------------------------------------------------------------------------------------
// One shot list, with at most one repair turn (what every writer does with its provider's calls)

export interface Attempt {
  /** The answer checked against the schema. */
  readonly shots: Either.Either<ReadonlyArray<Shot>, string>
  readonly requestId: string | undefined
  readonly inputTokens: number
  readonly outputTokens: number
  /** What the provider said it charged, when it says (OpenRouter-style `usage.cost`). */
  readonly reportedUsd?: number | undefined
}

export interface Written {
  readonly shots: ReadonlyArray<Shot>
  readonly requestId: string | undefined
  readonly attempts: ReadonlyArray<Attempt>
  readonly resumed: boolean
}

/**
 * The first answer (kept or asked for); when it does not pass, one repair turn that shows the model why; an
 * answer still invalid after it is `invalid(reason)`. Each call keeps its own answer in the journal.
 */
export const writeWithRepair = <E, R>(spec: {
  readonly first: Effect.Effect<{ readonly attempt: Attempt; readonly resumed: boolean }, E, R>
  readonly repair: (first: Attempt, reason: string) => Effect.Effect<{ readonly attempt: Attempt; readonly resumed: boolean }, E, R>
  readonly invalid: (reason: string, last: Attempt) => E
}) =>
  Effect.gen(function*() {
    const first = yield* spec.first
    const attempts: Array<Attempt> = [first.attempt]
    let resumed = first.resumed
    let shots = first.attempt.shots
    if (Either.isLeft(shots)) {
      const second = yield* spec.repair(first.attempt, shots.left)
      attempts.push(second.attempt)
      resumed = resumed && second.resumed
      shots = second.attempt.shots
    }
    const last = attempts[attempts.length - 1]!
    if (Either.isLeft(shots)) return yield* Effect.fail(spec.invalid(shots.left, last))
    return { shots: shots.right, requestId: last.requestId, attempts, resumed } satisfies Written
  })
