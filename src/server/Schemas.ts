/**
 * The shapes the API sends and takes, as Schemas: they type the handlers, encode the answers and make the
 * OpenAPI document (`/openapi.json`). Money is a total `{ usd, known }` (an unknown cost is never $0: a sum
 * that holds one says `known: false`) or a single figure `{ usd: number | null, source }`.
 */
import { Schema } from "effect"
import * as Config from "../Config.ts"

/**
 * A dollar figure as a person reads it: cents, or 4 significant digits under a cent ($0.000125), so that a sum
 * never shows float noise (0.15656399999999998 is $0.16). Applied only when an answer is encoded: the server
 * adds the exact figures (a stage's estimate is the exact sum of its nodes', rounded once at the end), and
 * what is stored (records, run logs, the job journal) keeps them exact.
 */
export const roundUsd = (usd: number): number => {
  if (!Number.isFinite(usd) || usd === 0) return usd
  return Math.abs(usd) >= 0.01 ? Math.round(usd * 100) / 100 : Number(usd.toPrecision(4))
}

/** A dollar amount: exact in the server, rounded for people on the wire (see `roundUsd`). */
const Usd = Schema.transform(Schema.Number, Schema.Number, { strict: true, decode: (n) => n, encode: roundUsd }).annotations({
  description: "US dollars, rounded to cents (to 4 significant digits under a cent)"
})

export const Money = Schema.Struct({
  usd: Usd,
  /** false when a part of the sum is unknown (then `usd` is a lower bound). */
  known: Schema.Boolean
}).annotations({ identifier: "Money", description: "A sum in US dollars (the exact sum, rounded to cents, or to 4 significant digits under a cent)" })

export const Price = Schema.Struct({
  usd: Schema.NullOr(Usd),
  source: Schema.Literal("free", "reported", "table", "unknown")
}).annotations({
  identifier: "Price",
  description: "One figure: what a provider reported, from a price table, free, or unknown (usd null); rounded to cents, or to 4 significant digits under a cent"
})

// ---------------------------------------------------------------------------------------------------------
// Builds

export const BuildRequest = Schema.Struct({
  /** Target ids to build, each with what it needs (default: the film, its subtitles and storyboard). */
  targets: Schema.optional(Schema.Array(Schema.String)),
  /** Re-take the targets even when fresh (paid again for paid stages): `build --force`. */
  force: Schema.optional(Schema.Boolean),
  /** After a failure, still build everything that does not depend on it. */
  keepGoing: Schema.optional(Schema.Boolean),
  /** Spend cap in USD for this build (default: maxCostUsd in the config). */
  maxCost: Schema.optional(Schema.Number.pipe(Schema.nonNegative()))
}).annotations({ identifier: "BuildRequest" })

export const JobState = Schema.Literal("queued", "running", "done", "failed", "cancelled", "interrupted").annotations({
  description:
    "queued: waiting for the workspace lock (another build of this project runs); running; done; failed (a target failed or the build stopped on an error); cancelled (asked to); interrupted (the server stopped or was killed: what finished is kept, the next build continues)"
})

export const StageProgress = Schema.Struct({ stage: Schema.String, done: Schema.Number, total: Schema.Number })

export const Job = Schema.Struct({
  /** The run's id: `storyshot runs` lists it under the same id. */
  id: Schema.String,
  project: Schema.String,
  state: JobState,
  /** What it is for, e.g. "build", "re-roll shot 3". */
  label: Schema.String,
  targets: Schema.Array(Schema.String),
  retake: Schema.Array(Schema.String),
  createdAt: Schema.Number,
  startedAt: Schema.NullOr(Schema.Number),
  endedAt: Schema.NullOr(Schema.Number),
  progress: Schema.Struct({ done: Schema.Number, total: Schema.Number, stages: Schema.Array(StageProgress) }),
  running: Schema.Array(Schema.String),
  /** Paid so far by this run. */
  spent: Money,
  /** The estimate of what is left to build (null when the build made no estimate: every stage is free). */
  left: Schema.NullOr(Money),
  built: Schema.Array(Schema.String),
  cached: Schema.Number,
  failed: Schema.Array(Schema.Struct({ id: Schema.String, error: Schema.String })),
  wallMs: Schema.NullOr(Schema.Number),
  /** Why it stopped, when it did not finish. */
  error: Schema.NullOr(Schema.String)
}).annotations({ identifier: "Job" })
export type Job = typeof Job.Type

export const RunRow = Schema.Struct({
  id: Schema.String,
  status: Schema.Literal("ok", "failed", "interrupted", "cap", "queued", "running", "cancelled"),
  startedAt: Schema.NullOr(Schema.Number),
  profile: Schema.NullOr(Schema.String),
  built: Schema.Number,
  cached: Schema.Number,
  failed: Schema.Number,
  cost: Schema.NullOr(Money),
  wallMs: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "Run" })
export type RunRow = typeof RunRow.Type

// ---------------------------------------------------------------------------------------------------------
// Projects

export const Settings = Config.ConfigInput.pipe(Schema.omit("transcript")).annotations({
  identifier: "Settings",
  description: "storyshot.config fields (see `storyshot init`): aspect, height, fps, shotSeconds, style, voice, image, video, providers, retries, maxCostUsd, subtitles…",
  // A typo must not be dropped silently (the config file refuses unknown fields too).
  parseOptions: { onExcessProperty: "error" }
})

export const CreateProject = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(80)),
  transcript: Schema.String.pipe(Schema.minLength(1)),
  profile: Schema.optional(Config.Profile),
  settings: Schema.optional(Settings)
}).annotations({ identifier: "CreateProject" })

export const Project = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  profile: Config.Profile,
  /** Whether any stage uses a paid provider. */
  paid: Schema.Boolean,
  providers: Schema.Record({ key: Schema.String, value: Schema.String }),
  aspect: Schema.String,
  sentences: Schema.NullOr(Schema.Number),
  /** Why the transcript or config cannot be read, when it cannot. */
  problem: Schema.NullOr(Schema.String),
  job: Schema.NullOr(Job),
  lastRun: Schema.NullOr(RunRow)
}).annotations({ identifier: "Project" })
export type Project = typeof Project.Type

export const ProjectList = Schema.Struct({
  mode: Schema.Literal("root", "single"),
  projects: Schema.Array(Project)
}).annotations({ identifier: "ProjectList" })

// ---------------------------------------------------------------------------------------------------------
// Plans and quotes

export const PlannedNode = Schema.Struct({ id: Schema.String, stage: Schema.String, estimate: Price })

export const Plan = Schema.Struct({
  targets: Schema.Array(Schema.String),
  nodes: Schema.Array(PlannedNode),
  stages: Schema.Array(Schema.Struct({ stage: Schema.String, nodes: Schema.Number, estimate: Money })),
  shots: Schema.Array(Schema.Struct({ k: Schema.Number, nodes: Schema.Array(Schema.String), estimate: Money })),
  estimate: Money,
  upToDate: Schema.Number,
  /** Sentences whose split changed since the last build (the same words, cut differently). */
  splitChanges: Schema.Number
}).annotations({ identifier: "Plan" })
export type Plan = typeof Plan.Type

export const Quote = Schema.Struct({
  /** What doing it would build (stored results are not counted), and the estimate: nothing is paid yet. */
  nodes: Schema.Array(PlannedNode),
  estimate: Money,
  /** What the estimate does not say. */
  note: Schema.String
}).annotations({ identifier: "Quote" })
export type Quote = typeof Quote.Type

// ---------------------------------------------------------------------------------------------------------
// The story

export const NodeStatus = Schema.Literal("fresh", "stale", "running", "failed", "planned").annotations({
  description:
    "fresh: built and current; stale: would be built by the next build; running: being built; failed: the last attempt failed; planned: not known exactly until something before it is built"
})

export const NodeView = Schema.Struct({
  id: Schema.String,
  status: NodeStatus,
  /** The current result (a stored object; its URL changes when the result does). */
  url: Schema.NullOr(Schema.String),
  /** What the current result cost when it was made. */
  cost: Schema.NullOr(Price),
  /** What building it again would cost (stale nodes). */
  estimate: Schema.NullOr(Price),
  /** Provider and model that made it. */
  by: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String)
}).annotations({ identifier: "StoryNode" })
export type NodeView = typeof NodeView.Type

export const StoryShot = Schema.Struct({
  k: Schema.Number,
  /** Its place in its sentence, from 1. */
  j: Schema.Number,
  /** The prompt its still is drawn from: the pinned one when there is one. */
  prompt: Schema.NullOr(Schema.String),
  /** The generated prompt (the prompts stage's). */
  generated: Schema.NullOr(Schema.String),
  pinned: Schema.Boolean,
  approved: Schema.Boolean,
  shotType: Schema.NullOr(Schema.String),
  camera: Schema.NullOr(Schema.String),
  seconds: Schema.NullOr(Schema.Number),
  image: NodeView,
  video: NodeView
}).annotations({ identifier: "StoryShot" })
export type StoryShot = typeof StoryShot.Type

export const StorySentence = Schema.Struct({
  n: Schema.Number,
  text: Schema.String,
  seconds: Schema.NullOr(Schema.Number),
  audio: NodeView,
  prompts: NodeView,
  mux: NodeView,
  /** out/sentences/NNN.mp4, when it is there. */
  download: Schema.NullOr(Schema.String),
  cost: Money,
  shots: Schema.Array(StoryShot)
}).annotations({ identifier: "StorySentence" })
export type StorySentence = typeof StorySentence.Type

export const Story = Schema.Struct({
  project: Schema.String,
  profile: Schema.String,
  /** A cast (story bible) comes with the director's work (issue 17); empty until then. */
  cast: Schema.Array(Schema.Struct({ name: Schema.String, description: Schema.String })),
  sentences: Schema.Array(StorySentence),
  final: NodeView,
  subtitles: NodeView,
  storyboard: NodeView,
  downloads: Schema.Struct({
    film: Schema.NullOr(Schema.String),
    srt: Schema.NullOr(Schema.String),
    vtt: Schema.NullOr(Schema.String),
    storyboard: Schema.NullOr(Schema.String)
  }),
  /** What the current results cost to make, and what building the stale ones would cost. */
  cost: Money,
  left: Money,
  stale: Schema.Number,
  shots: Schema.Number,
  seconds: Schema.Number
}).annotations({ identifier: "Story" })
export type Story = typeof Story.Type

// ---------------------------------------------------------------------------------------------------------
// Shot actions

export const Reroll = Schema.Struct({
  /** "image": a new still (its clip follows when the still changed); "clip": a new clip of the same still. */
  what: Schema.optional(Schema.Literal("image", "clip")),
  maxCost: Schema.optional(Schema.Number.pipe(Schema.nonNegative()))
}).annotations({ identifier: "Reroll" })

export const PromptEdit = Schema.Struct({
  /** The prompt to pin; null removes the pin (the generated prompt is drawn again: its old take is found in the store). */
  prompt: Schema.NullOr(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4000))),
  /** Build the film with it at once (default true). */
  build: Schema.optional(Schema.Boolean),
  maxCost: Schema.optional(Schema.Number.pipe(Schema.nonNegative()))
}).annotations({ identifier: "PromptEdit" })

export const PromptQuote = Schema.Struct({
  prompt: Schema.NullOr(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4000)))
}).annotations({ identifier: "PromptQuote" })

export const Approval = Schema.Struct({ approved: Schema.Boolean }).annotations({ identifier: "Approval" })

export const ShotPin = Schema.Struct({
  k: Schema.Number,
  prompt: Schema.NullOr(Schema.String),
  approved: Schema.Boolean,
  job: Schema.NullOr(Job)
}).annotations({ identifier: "ShotPin" })
