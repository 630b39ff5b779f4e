/**
 * What every LLM prompt writer sends (contract 7): the messages of a shot list, of a refinement of one shot,
 * and of the story bible's first draft, with the JSON schemas their answers must follow. OpenRouter's writer
 * (`openrouter.ts`) and any other LLM writer build their requests from here, so a new shot field reaches every
 * writer by one change. Bump `templateVersion` when a message changes: it changes every answer.
 *
 * The cast reaches a writer by name and role, never by look (the money rule: editing a look re-plans nothing).
 */
import { Either, Schema, ParseResult } from "effect"
import type { Bible } from "../../src/director/Bible.ts"
import { BibleFile } from "../../src/director/Bible.ts"
import { cameraMoves, parseJsonAnswer, parseShots, shotFields, shotListJsonSchema, transitions, type DirectedShot } from "../../src/Shot.ts"
import type { Brief } from "./Prompts.ts"

/** 2: motion, transition, cast and place (issue 16). */
export const templateVersion = 2

const castLines = (cast: Brief["castList"]) =>
  cast.length === 0 ? "" : `Cast (name: role): ${cast.map((c) => (c.role ? `${c.name}: ${c.role}` : c.name)).join("; ")}.`

export const system = (style: string) =>
  [
    "You are the director and storyboard artist of a narrated short film.",
    "For one sentence of narration you plan one shot per slot, in order. Each shot has: a still-image prompt (a single",
    "vivid description of what the frame shows: subject, setting, framing, light; no text or captions in the image),",
    "a framing, a camera move, a motion prompt (what moves during the shot, for an image-to-video model), the",
    "transition into the shot (cut, crossfade, fade-black, fade-white: the first shot's is the way in from the",
    "previous sentence), and the characters and place the frame shows, by their names in the lists given.",
    "Never describe how a character looks or dresses: reference sheets show that. Name them instead.",
    "Shots of one sentence must look like one continuous scene.",
    `Global style for every shot: ${style}.`,
    `Answer only with JSON: {"shots":[{"prompt":"...","shotType":"...","camera":"${cameraMoves.join("|")}","motion":"...","transition":"${transitions.join("|")}","cast":["..."],"place":"..."|null}]}.`
  ].join(" ")

export const user = (brief: Brief) =>
  [
    brief.previous ? `Previous sentence (context only): ${brief.previous}` : "This is the first sentence.",
    `Sentence: ${brief.sentence}`,
    brief.next ? `Next sentence (context only): ${brief.next}` : "This is the last sentence.",
    castLines(brief.castList),
    brief.placeList.length > 0 ? `Places: ${brief.placeList.join("; ")}.` : "",
    `Write exactly ${brief.count} shot${brief.count === 1 ? "" : "s"}.`
  ]
    .filter((l) => l.length > 0)
    .join("\n")

/** The schema of a plan of `count` shots, offering the bible's names. */
export const shotListSchema = (brief: Pick<Brief, "count" | "castList" | "placeList">) =>
  shotListJsonSchema(brief.count, { cast: brief.castList.map((c) => c.name), places: brief.placeList })

// ---------------------------------------------------------------------------------------------------------
// Refining one shot with a person's feedback

export interface RefineBrief {
  readonly sentence: string
  readonly shot: DirectedShot
  readonly feedback: string
  readonly castList: Brief["castList"]
  readonly placeList: Brief["placeList"]
}

export const refineUser = (r: RefineBrief) =>
  [
    `Sentence: ${r.sentence}`,
    castLines(r.castList),
    r.placeList.length > 0 ? `Places: ${r.placeList.join("; ")}.` : "",
    `The shot as planned: ${JSON.stringify(r.shot)}`,
    `The director's feedback: ${r.feedback}`,
    "Rewrite this one shot following the feedback; keep what the feedback does not ask to change. Write exactly 1 shot."
  ]
    .filter((l) => l.length > 0)
    .join("\n")

export const refineSchema = (r: Pick<RefineBrief, "castList" | "placeList">) =>
  shotListJsonSchema(1, { cast: r.castList.map((c) => c.name), places: r.placeList })

export const parseRefined = (content: string) => Either.map(parseShots(content, 1), (shots) => shots[0]!)

export const repairShots = (count: number) => (reason: string) =>
  `That answer is not a valid shot list: ${reason}. Reply with only the JSON object {"shots": [...]} holding exactly ${count} shot${count === 1 ? "" : "s"}, each with ${shotFields}.`

// ---------------------------------------------------------------------------------------------------------
// The story bible's first draft (`storyshot direct` in the cloud profile)

export const bibleSystem = (style: string) =>
  [
    "You are the director of a narrated short film. Read the whole transcript and write its story bible: every",
    "recurring character (name as the text writes it, one-line role, look: face, body, age, hair; wardrobe: what they",
    "wear throughout; aliases: other words the text uses for them), every place (name, look, aliases), and the film's",
    "style (medium, palette, lens, era). Looks must be concrete and consistent enough for an illustrator to draw the",
    `same person in every shot. The film's style note: ${style}. Answer only with the JSON object.`
  ].join(" ")

export const bibleUser = (sentences: ReadonlyArray<string>) => `Transcript:\n${sentences.join("\n")}`

const str = { type: "string" } as const
export const bibleSchema = {
  type: "object",
  additionalProperties: false,
  required: ["style", "cast", "places"],
  properties: {
    style: { type: "object", additionalProperties: false, required: ["medium", "palette", "lens", "era"], properties: { medium: str, palette: str, lens: str, era: str } },
    cast: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "role", "look", "wardrobe", "aliases"],
        properties: { name: str, role: str, look: str, wardrobe: str, aliases: { type: "array", items: str } }
      }
    },
    places: {
      type: "array",
      items: { type: "object", additionalProperties: false, required: ["name", "look", "aliases"], properties: { name: str, look: str, aliases: { type: "array", items: str } } }
    }
  }
} as const

/** A writer's bible answer, checked as the file will be. */
export const parseBible = (content: string): Either.Either<Bible, string> => {
  const parsed = parseJsonAnswer(content)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const json = parsed.right
  const withVersion = typeof json === "object" && json !== null ? { version: 1, ...json } : json
  return Either.mapLeft(Schema.decodeUnknownEither(BibleFile)(withVersion, { onExcessProperty: "ignore" }), (e) => ParseResult.TreeFormatter.formatErrorSync(e))
}

export const repairBible = (reason: string) =>
  `That answer is not a valid story bible: ${reason}. Reply with only the JSON object {"style": {...}, "cast": [...], "places": [...]}.`
