/**
 * `storyshot write`: a transcript from a topic, web pages or files (src/write/Write.ts). Exit codes as for
 * build: 2 for what the person must fix (an option, a file, a page, a missing key), 1 when the paid call
 * failed or would pass the spend cap.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as Write from "../write/Write.ts"
import type { WriteError } from "../write/Errors.ts"
import { root } from "./Root.ts"
import * as Session from "./Session.ts"

export const options = {
  topic: Options.text("topic").pipe(
    Options.withPseudoName("TEXT"),
    Options.optional,
    Options.withDescription("What the film is about, in a few words or a paragraph. Needs the writer model (OPENROUTER_KEY).")
  ),
  url: Options.text("url").pipe(
    Options.withPseudoName("URL"),
    Options.repeated,
    Options.withDescription(
      "A web page to write from (repeatable). Fetched over http(s) (20 s, 5 MB and 5 redirects at most), its main text extracted (navigation, ads and footnotes left out) and cited at the end of the transcript."
    )
  ),
  from: Options.text("from").pipe(
    Options.withPseudoName("FILE"),
    Options.repeated,
    Options.withDescription("A local HTML, Markdown or text file to write from (repeatable). Works offline, without a key."),
  ),
  length: Options.text("length").pipe(
    Options.withPseudoName("60s|2m|150w"),
    Options.optional,
    Options.withDescription(
      "How long the script is: seconds or minutes of narration (at voice.wordsPerMinute) or words. Default 60s for a model; the sources' whole text without one (then --length cuts it)."
    )
  ),
  style: Options.text("style").pipe(Options.withPseudoName("TEXT"), Options.optional, Options.withDescription('How the script should sound, e.g. "calm, like a documentary".')),
  audience: Options.text("audience").pipe(Options.withPseudoName("TEXT"), Options.optional, Options.withDescription('Who it is for, e.g. "children of ten".')),
  force: Options.boolean("force").pipe(
    Options.withDescription("Replace an existing transcript. Without it an existing transcript is kept and the script goes to transcript.new.txt beside it.")
  ),
  dryRun: Options.boolean("dry-run").pipe(
    Options.withAlias("n"),
    Options.withDescription("Read the sources and show the price of the call; send no paid request and write nothing.")
  ),
  verbatim: Options.boolean("verbatim").pipe(
    Options.withDescription("No writer model: the transcript is the sources' own main text (free, offline). The default when OPENROUTER_KEY is not set and no --topic is given.")
  ),
  model: Options.text("model").pipe(
    Options.withPseudoName("ID"),
    Options.optional,
    Options.withDescription("The writer model (default OPENROUTER_MODEL, else openai/gpt-4o-mini); OPENROUTER_BASE_URL may point at any OpenAI-compatible endpoint.")
  ),
  maxCost: Options.float("max-cost").pipe(
    Options.withPseudoName("USD"),
    Options.optional,
    Options.withDescription("Refuse the call when it could cost more than this (default: maxCostUsd in the config).")
  )
}

export interface WriteOptions {
  readonly topic: Option.Option<string>
  readonly url: ReadonlyArray<string>
  readonly from: ReadonlyArray<string>
  readonly length: Option.Option<string>
  readonly style: Option.Option<string>
  readonly audience: Option.Option<string>
  readonly force: boolean
  readonly dryRun: boolean
  readonly verbatim: boolean
  readonly model: Option.Option<string>
  readonly maxCost: Option.Option<number>
}

/** The flags as `Write.run` takes them. */
export const flagsOf = (o: WriteOptions): Write.WriteFlags => ({
  topic: Option.getOrUndefined(o.topic),
  urls: o.url,
  from: o.from,
  length: Option.getOrUndefined(o.length),
  style: Option.getOrUndefined(o.style),
  audience: Option.getOrUndefined(o.audience),
  force: o.force,
  dryRun: o.dryRun,
  verbatim: o.verbatim,
  model: Option.getOrUndefined(o.model),
  maxCost: Option.getOrUndefined(o.maxCost)
})

const failedRun: ReadonlyArray<WriteError["reason"]> = ["writer", "over-budget", "output"]

export const handler = (o: WriteOptions) =>
  Effect.gen(function* () {
    const g = yield* root
    const ws = yield* Session.openWorkspace(g)
    const say: Write.Say = {
      line: (text) => void process.stdout.write(`${text}\n`),
      note: (text) => void process.stderr.write(`storyshot: ${text}\n`)
    }
    yield* Write.run(ws, flagsOf(o), say).pipe(
      Effect.catchTag("WriteError", (e): Effect.Effect<never, Session.UsageError | Session.BuildFailed> => {
        if (!failedRun.includes(e.reason)) return Effect.fail(new Session.UsageError({ message: e.message }))
        process.stderr.write(`storyshot: ${e.message}\n`)
        return Effect.fail(new Session.BuildFailed({ message: e.message }))
      })
    )
  })

export const command = Command.make("write", options, handler).pipe(
  Command.withDescription(
    "Write transcript.txt from a topic, web pages or files: a writer model (OpenRouter or any OpenAI-compatible endpoint) writes a script of the asked length in plain sentences, its price shown before it is paid; without a model, the pages' own main text. Sources are cited at the end as // comments, which are not narrated. An existing transcript is never overwritten without --force."
  )
)
