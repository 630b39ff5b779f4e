/**
 * What a film is made of, in one place: its stages in pipeline order, the kinds of node, their ids, and the
 * ids a person may name with `--target`. The engine knows none of this (src/engine names no film concept);
 * the rules (targets/), the CLI and the reporters read it from here.
 */

/** Every stage, in the order a film is made; reporters, `clean --stage` and the config read this list. */
export const stages = ["transcript", "audio", "timing", "prompts", "image", "video", "mux", "final", "subtitles", "storyboard"] as const
export type Stage = (typeof stages)[number]

/** The stages a provider makes (one implementation each is chosen by the config: `providers: { image: "openai" }`). */
export const providerStages = ["audio", "prompts", "image", "video"] as const
export type ProviderStage = (typeof providerStages)[number]

/** The length of a shot, in seconds, when the config does not say (DESIGN.md: a shot every 2 s). */
export const defaultShotSeconds = 2

/** Kinds of node, as declared by the rules. */
export const kinds = {
  transcript: "transcript",
  audio: "audio",
  shots: "shots",
  timing: "timing",
  prompts: "prompts",
  image: "image",
  video: "video",
  mux: "mux",
  final: "final",
  storyboard: "storyboard",
  subtitles: "subtitles",
  // The director's (issue 16): the shot plan with its pins, the story bible's entries and sheets, a sentence's
  // way in from the one before, a refinement of one shot, and the bible's first draft.
  plan: "plan",
  character: "character",
  place: "place",
  sheet: "sheet",
  leadin: "leadin",
  refine: "refine",
  direct: "direct"
} as const

export const ids = {
  transcript: "transcript",
  audio: (n: number) => `sentence:${n}:audio`,
  shots: (n: number) => `sentence:${n}:shots`,
  timing: (n: number) => `sentence:${n}:timing`,
  prompts: (n: number) => `sentence:${n}:prompts`,
  image: (k: number) => `shot:${k}:image`,
  video: (k: number) => `shot:${k}:video`,
  mux: (n: number) => `sentence:${n}:mux`,
  final: "final",
  storyboard: "storyboard",
  subtitles: "subtitles",
  plan: (n: number) => `sentence:${n}:plan`,
  leadin: (n: number) => `sentence:${n}:leadin`,
  character: (id: string) => `character:${id}`,
  sheet: (id: string) => `character:${id}:sheet`,
  place: (id: string) => `place:${id}`,
  refine: (k: number) => `shot:${k}:refine`,
  direct: "bible"
} as const

/** The public target ids a person may name with --target, and the stage each belongs to. */
export const idPatterns: ReadonlyArray<{ readonly pattern: RegExp; readonly stage: Stage; readonly example: string }> = [
  { pattern: /^transcript$/, stage: "transcript", example: "transcript" },
  { pattern: /^sentence:[1-9]\d*:audio$/, stage: "audio", example: "sentence:1:audio" },
  { pattern: /^sentence:[1-9]\d*:shots$/, stage: "timing", example: "sentence:1:shots" },
  { pattern: /^sentence:[1-9]\d*:timing$/, stage: "timing", example: "sentence:1:timing" },
  { pattern: /^sentence:[1-9]\d*:prompts$/, stage: "prompts", example: "sentence:1:prompts" },
  { pattern: /^sentence:[1-9]\d*:plan$/, stage: "prompts", example: "sentence:1:plan" },
  { pattern: /^shot:[1-9]\d*:image$/, stage: "image", example: "shot:1:image" },
  { pattern: /^shot:[1-9]\d*:video$/, stage: "video", example: "shot:1:video" },
  { pattern: /^sentence:[1-9]\d*:mux$/, stage: "mux", example: "sentence:1:mux" },
  { pattern: /^sentence:[1-9]\d*:leadin$/, stage: "mux", example: "sentence:2:leadin" },
  { pattern: /^character:[^:\s]+:sheet$/, stage: "image", example: "character:NAME:sheet" },
  { pattern: /^character:[^:\s]+$/, stage: "transcript", example: "character:NAME" },
  { pattern: /^place:[^:\s]+$/, stage: "transcript", example: "place:NAME" },
  { pattern: /^final$/, stage: "final", example: "final" },
  { pattern: /^storyboard$/, stage: "storyboard", example: "storyboard" },
  { pattern: /^subtitles$/, stage: "subtitles", example: "subtitles" }
]
