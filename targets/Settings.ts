/**
 * What every stage rule reads: the resolved config and environment of the workspace, as a service so the
 * rules stay plain data plus behaviour. Keys live only in `env`; they never enter a recipe or a record.
 */
import { Context } from "effect"
import type { Workspace } from "../src/Workspace.ts"

export class Settings extends Context.Tag("storyshot/Settings")<Settings, Workspace>() {}

/** Kinds of node, as declared by the rules in this folder. */
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
  subtitles: "subtitles"
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
  subtitles: "subtitles"
} as const

/** The public target ids a person may name with --target, and the stage each belongs to. */
export const idPatterns: ReadonlyArray<{ readonly pattern: RegExp; readonly stage: string; readonly example: string }> = [
  { pattern: /^transcript$/, stage: "transcript", example: "transcript" },
  { pattern: /^sentence:[1-9]\d*:audio$/, stage: "audio", example: "sentence:1:audio" },
  { pattern: /^sentence:[1-9]\d*:shots$/, stage: "timing", example: "sentence:1:shots" },
  { pattern: /^sentence:[1-9]\d*:timing$/, stage: "timing", example: "sentence:1:timing" },
  { pattern: /^sentence:[1-9]\d*:prompts$/, stage: "prompts", example: "sentence:1:prompts" },
  { pattern: /^shot:[1-9]\d*:image$/, stage: "image", example: "shot:1:image" },
  { pattern: /^shot:[1-9]\d*:video$/, stage: "video", example: "shot:1:video" },
  { pattern: /^sentence:[1-9]\d*:mux$/, stage: "mux", example: "sentence:1:mux" },
  { pattern: /^final$/, stage: "final", example: "final" },
  { pattern: /^storyboard$/, stage: "storyboard", example: "storyboard" },
  { pattern: /^subtitles$/, stage: "subtitles", example: "subtitles" }
]

export const stages = ["transcript", "audio", "timing", "prompts", "image", "video", "mux", "final", "storyboard", "subtitles"] as const
