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
import { Effect, Either } from "effect"
import { parseShots, shotListJsonSchema, type DirectedShot } from "../Shot.ts"
import * as Writer from "../../targets/prompts/Writer.ts"
import type { Brief as PromptsBrief } from "../../targets/prompts/Prompts.ts"

// Since the director's merge (issue 16) the texts and the schema are director's (`targets/prompts/Writer.ts`,
// `src/Shot.ts`), which OpenRouter's writer uses too: this module delegates to them, so one change there
// reaches every writer (contract 7). An answer without the director's fields still passes (they default).

/** Bump in `Writer.ts` when a text or the schema changes: it changes every answer. */
export const templateVersion = Writer.templateVersion

export const system = Writer.system

/** What a writer is told about one sentence (`targets/prompts/Prompts.ts`'s `brief`: with the cast and places). */
export type Brief = PromptsBrief

export const user = Writer.user

/** The names a shot may use (the bible's cast and places), for the schema's enums. */
export const namesOf = (brief: Brief): Names => ({ cast: brief.castList.map((c) => c.name), places: brief.placeList })

/** The name structured-output APIs give the schema (OpenAI's `json_schema.name`, Anthropic's tool name). */
export const schemaName = "shot_list"

/** The JSON schema of the answer; it pins the number of shots, and offers the story bible's names when given. */
export interface Names {
  readonly cast?: ReadonlyArray<string> | undefined
  readonly places?: ReadonlyArray<string> | undefined
}

export const jsonSchema = (count: number, names: Names = {}) =>
  shotListJsonSchema(count, { ...(names.cast ? { cast: names.cast } : {}), ...(names.places ? { places: names.places } : {}) })

/** Checks an answer already parsed (a tool call's input); Left carries a reason short enough to show the model. */
export const check = (json: unknown, count: number): Either.Either<ReadonlyArray<DirectedShot>, string> =>
  parseShots(JSON.stringify(json ?? null), count)

/** Checks a model's message content; Left carries a reason short enough to show the model and a person. */
export const parse = (content: string, count: number): Either.Either<ReadonlyArray<DirectedShot>, string> => {
  const first = parseShots(content, count)
  if (Either.isRight(first) || !first.left.startsWith("the answer is not JSON")) return first
  // Local models also say a sentence before the JSON: the first {...} block is taken.
  const text = content.trim()
  const start = text.indexOf("{")
  const end = text.lastIndexOf("}")
  return start >= 0 && end > start ? Either.orElse(parseShots(text.slice(start, end + 1), count), () => first) : first
}

/** The one repair turn: the model is shown why its answer did not pass. */
export const repair = (reason: string, count: number) => Writer.repairShots(count)(reason)

// ---------------------------------------------------------------------------------------------------------
// One shot list, with at most one repair turn (what every writer does with its provider's calls)

export interface Attempt {
  /** The answer checked against the schema. */
  readonly shots: Either.Either<ReadonlyArray<DirectedShot>, string>
  readonly requestId: string | undefined
  readonly inputTokens: number
  readonly outputTokens: number
  /** What the provider said it charged, when it says (OpenRouter-style `usage.cost`). */
  readonly reportedUsd?: number | undefined
}

export interface Written {
  readonly shots: ReadonlyArray<DirectedShot>
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
