/**
 * What a shot is, wherever it is written (the draft planner, an LLM's shot list, a person's pinned edit) or
 * drawn (the card, Ken Burns, the mux): a still-image prompt, a framing, one of the camera moves the draft
 * renderer and the shot-list schema both know, and what the director adds (issue 16): a motion prompt for
 * the image-to-video model, the transition into the shot, and who and where the shot shows.
 *
 * One list of camera moves and one of transitions, so the schema an LLM must follow, the moves ffmpeg can
 * draw and the transitions the mux can make never drift apart. The shot-list JSON schema and the check of an
 * answer live here too: every prompt writer (OpenRouter, and any other LLM) sends the same schema and reads
 * answers the same way (contract 7).
 */
import { Either, ParseResult, Schema } from "effect"

export const cameraMoves = ["push-in", "pull-out", "pan-left", "pan-right", "tilt-up", "tilt-down"] as const
export type CameraMove = (typeof cameraMoves)[number]

/**
 * How a shot is entered from the one before it (for a sentence's first shot, from the previous sentence's
 * last). `fade-black` and `fade-white` go through the colour; a transition overlaps pictures only, never the
 * narration, and takes no time away from the film.
 */
export const transitions = ["cut", "crossfade", "fade-black", "fade-white"] as const
export type Transition = (typeof transitions)[number]

/** The shot a planner writes without a director's fields (the draft planner's core). */
export interface Shot {
  readonly prompt: string
  readonly shotType: string
  readonly camera: CameraMove
}

/** A shot as a writer plans it: the cast and place by name, as the story bible spells them. */
export interface DirectedShot extends Shot {
  /** What moves in the clip ("she lifts the lantern; snow drifts past"): sent to the image-to-video model. */
  readonly motion: string
  readonly transition: Transition
  /** The characters the frame shows, by name. */
  readonly cast: ReadonlyArray<string>
  /** The place the frame shows, by name, or null. */
  readonly place: string | null
}

/** A shot as the film uses it (the `sentence:N:plan` node's output): the cast and place by bible id. */
export interface PlannedShot extends DirectedShot {}

// ---------------------------------------------------------------------------------------------------------
// The shot list every LLM writer asks for

/** The JSON schema for a structured-output `response_format`; it pins the number of shots. With `names`, the
 *  cast and place are chosen from the story bible's names (strict schemas need every field, so both are always
 *  asked for: an empty list and null when the frame shows nobody and nowhere known). */
export const shotListJsonSchema = (count: number, names: { readonly cast?: ReadonlyArray<string>; readonly places?: ReadonlyArray<string> } = {}) => {
  const castNames = names.cast ?? []
  const placeNames = names.places ?? []
  return {
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
          required: ["prompt", "shotType", "camera", "motion", "transition", "cast", "place"],
          properties: {
            prompt: { type: "string", description: "A self-contained still-image prompt for this shot: what the frame shows, never how a character looks (the story bible says that)." },
            shotType: { type: "string", description: "Framing, e.g. wide, medium, close-up, extreme close-up." },
            camera: { type: "string", enum: [...cameraMoves], description: "The camera move over the shot." },
            motion: { type: "string", description: "What moves during the shot, for the image-to-video model." },
            transition: { type: "string", enum: [...transitions], description: "How this shot is entered from the one before." },
            cast: {
              type: "array",
              items: castNames.length > 0 ? { type: "string", enum: [...castNames] } : { type: "string" },
              description: "The characters this frame shows, by their names in the cast list (empty when none)."
            },
            place: placeNames.length > 0
              ? { anyOf: [{ type: "string", enum: [...placeNames] }, { type: "null" }], description: "The place this frame shows, by its name in the places list, or null." }
              : { type: ["string", "null"], description: "The place this frame shows, or null." }
          }
        }
      }
    }
  }
}

const NonEmpty = Schema.String.pipe(Schema.filter((s) => s.trim().length > 0 || "a shot's prompt is empty"))

const DirectedShotSchema = Schema.Struct({
  prompt: NonEmpty,
  shotType: Schema.String,
  camera: Schema.Literal(...cameraMoves),
  // A writer that leaves the director's fields out still gives a usable shot: they get plain defaults.
  motion: Schema.optionalWith(Schema.String, { default: () => "" }),
  transition: Schema.optionalWith(Schema.Literal(...transitions), { default: () => "cut" as const }),
  cast: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  place: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
})

const ShotListSchema = Schema.Struct({ shots: Schema.Array(DirectedShotSchema) })

/** A model's message content as JSON; Left says why it is not. */
export const parseJsonAnswer = (content: string): Either.Either<unknown, string> => {
  // Some models wrap JSON in a Markdown fence even under a json_schema response_format.
  const text = content.trim().replace(/^```(?:json)?\s*/i, "").replace(/\s*```$/, "")
  try {
    return Either.right(JSON.parse(text) as unknown)
  } catch (e) {
    return Either.left(`the answer is not JSON (${e instanceof Error ? e.message : String(e)})`)
  }
}

/** Checks a model's message content; Left carries a reason short enough to show the model and a person. */
export const parseShots = (content: string, count: number): Either.Either<ReadonlyArray<DirectedShot>, string> => {
  const parsed = parseJsonAnswer(content)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const json = parsed.right
  const decoded = Schema.decodeUnknownEither(ShotListSchema)(json, { onExcessProperty: "ignore" })
  if (Either.isLeft(decoded)) return Either.left(ParseResult.TreeFormatter.formatErrorSync(decoded.left))
  const shots = decoded.right.shots
  if (shots.length !== count) return Either.left(`expected exactly ${count} shot${count === 1 ? "" : "s"}, got ${shots.length}`)
  return Either.right(shots)
}

/** The fields a repair prompt names. */
export const shotFields = `"prompt", "shotType", "camera" (one of ${cameraMoves.join(", ")}), "motion", "transition" (one of ${transitions.join(", ")}), "cast" and "place"`

/** "push in", "pan left": a camera move in words. */
export const cameraWords = (camera: CameraMove): string => camera.replace("-", " ")
