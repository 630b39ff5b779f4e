/**
 * The command line as data: every subcommand's options, arguments and description, in one place, with its
 * code loaded only when it runs. `storyshot --help` then loads no engine, provider or media code, and
 * `storyshot build` loads the build and nothing of graph, why, models or superprompt (start-up, issue 13 §7).
 * Each subcommand's file (build.ts, graph.ts, ...) exports `handler`, called with the parsed options below.
 *
 * Keep this file cheap to load: it may import @effect/cli, effect and small data modules, nothing that
 * starts, reads or spawns anything.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { idPatterns, stages } from "../Film.ts"
import { Profile } from "../Config.ts"
import { globalOptions, root } from "./Root.ts"

/** The target ids a person may name, from the one list the CLI checks them against (src/Film.ts). */
export const targetList = (() => {
  const groups = new Map<string, Array<string>>()
  for (const { example } of idPatterns) {
    const m = /^(sentence|shot):1:(\w+)$/.exec(example)
    const key = m ? `${m[1]}:${m[1] === "shot" ? "K" : "N"}:` : example
    groups.set(key, [...(groups.get(key) ?? []), ...(m ? [m[2]!] : [])])
  }
  return [...groups].map(([key, kinds]) => (kinds.length ? `${key}${kinds.join("|")}` : key)).join(", ")
})()

/** Runs a subcommand's handler from its module, loaded on first use. */
const lazy =
  <A, M extends { readonly handler: (a: A) => Effect.Effect<unknown, any, any> }>(load: () => Promise<M>) =>
  (a: A): ReturnType<M["handler"]> =>
    Effect.flatMap(Effect.promise(load), (m) => m.handler(a)) as ReturnType<M["handler"]>

const profile = (description: string) =>
  Options.choice("profile", Profile.literals).pipe(Options.optional, Options.withDescription(description))
const json = (description: string) => Options.boolean("json").pipe(Options.withDescription(description))

export const buildOptions = {
  target: Options.text("target").pipe(
    Options.withAlias("t"),
    Options.withPseudoName("ID"),
    Options.repeated,
    Options.withDescription(`Build this target and what it needs, nothing downstream (repeatable; default: final). Ids: ${targetList}.`)
  ),
  force: Options.boolean("force").pipe(
    Options.withDescription("Rebuild the named --target ids even when fresh: a new take (paid again for paid stages); the old take stays in the store.")
  ),
  keepGoing: Options.boolean("keep-going").pipe(
    Options.withAlias("k"),
    Options.withDescription("After a failure, still finish every target that does not depend on it (default: stop at the first failure).")
  ),
  dryRun: Options.boolean("dry-run").pipe(
    Options.withAlias("n"),
    Options.withDescription("Show what would be built, per stage, with the estimated cost; build and pay nothing.")
  ),
  json: json(
    'Print one JSON object on stdout at the end: {built, cached, failed, cost: {usd, known}, wallMs, ...} (with "interrupted": true after Ctrl-C). Progress still goes to stderr (--quiet silences it).'
  ),
  quiet: Options.boolean("quiet").pipe(
    Options.withAlias("q"),
    Options.withDescription("No progress on stderr (warnings and errors are still printed); the summary still goes to stdout.")
  ),
  profile: profile("draft (offline, free) or cloud (paid providers). Overrides STORYSHOT_PROFILE and the config."),
  noWait: Options.boolean("no-wait").pipe(
    Options.withDescription("When another build is using this workspace, exit at once (exit code 2) instead of waiting for it.")
  ),
  watch: Options.boolean("watch").pipe(
    Options.withAlias("w"),
    Options.withDescription(
      "Keep running: build, then rebuild (only what is stale) whenever the transcript, the config or .env changes (debounced 300 ms). An edit during a build queues the next build: the running one finishes, nothing it paid for is thrown away, and one build follows with every change so far; never two at once. Ctrl-C stops (a running build is cancelled cleanly; what it finished stays in the store)."
    )
  ),
  noRemoteCache: Options.boolean("no-remote-cache").pipe(
    Options.withDescription("Build without the remote cache (remoteCache in the config, or STORYSHOT_REMOTE_CACHE): fetch nothing from it, send nothing to it.")
  ),
  until: Options.choice("until", ["prompts"] as const).pipe(
    Options.optional,
    Options.withDescription(
      "prompts: build the plan only (narration, every shot's prompt, cast, camera and transition: cents) and out/storyboard.html of it, with the estimated cost to finish; no image or clip is made."
    )
  ),
  maxCost: Options.float("max-cost").pipe(
    Options.withPseudoName("USD"),
    Options.optional,
    Options.withDescription("Spend cap in USD for this build, 0 or more (default: maxCostUsd in the config): no paid target starts when its estimate would take the run's spend over the cap; running ones finish and are recorded. Exits 1 saying what is left to build and its estimate.")
  )
}

export const graphOptions = {
  format: Options.choice("format", ["text", "dot", "mermaid", "json"]).pipe(
    Options.withDefault("text" as const),
    Options.withDescription("text (default), dot (Graphviz), mermaid, or json.")
  ),
  profile: profile("draft or cloud (the graph of that profile's providers).")
}

export const cleanOptions = {
  stage: Options.text("stage").pipe(
    Options.withPseudoName("STAGE"),
    Options.optional,
    Options.withDescription(`Drop every stored result of this stage (${stages.join(", ")}) so the next build remakes them.`)
  ),
  target: Options.text("target").pipe(
    Options.withAlias("t"),
    Options.withPseudoName("ID"),
    Options.repeated,
    Options.withDescription(`Drop the stored result of this target (from the last build); repeatable. Ids: ${targetList}.`)
  ),
  all: Options.boolean("all").pipe(Options.withDescription("Remove the whole store (.storyshot/) and out/."))
}

export const whyOptions = {
  id: Args.text({ name: "ID" }).pipe(Args.withDescription(`A target id: ${targetList}.`)),
  json: json("Print the explanation as JSON: {id, status, summary, changes: [{ingredient, before, after}], upstream}."),
  profile: profile("draft or cloud (as the build you ask about).")
}

export const runsOptions = { json: json("Print JSON instead of a table.") }

export const reportOptions = {
  run: Args.text({ name: "RUN" }).pipe(Args.optional, Args.withDescription("A run id or a unique prefix of one (default: the latest run).")),
  json: json("Print JSON instead of a table.")
}

export const verifyOptions = { json: json("Print one JSON object: {records, objects, bytes, problems, notes}.") }

export const modelsOptions = {
  refresh: Options.boolean("refresh").pipe(
    Options.withDescription("Fetch the list from OpenRouter again and save it (otherwise the saved list is shown; it is fetched when there is none).")
  ),
  match: Options.text("match").pipe(Options.withPseudoName("TEXT"), Options.optional, Options.withDescription("Only models whose id contains this text.")),
  json: json("Print {fetchedAt, baseUrl, models: [{id, pricing: {prompt, completion} (USD per token), contextLength, supportedParameters}]}.")
}

export const providersOptions = {
  json: json('Print [{stage, name, summary, paid, selected, needs, missing, price: {source, checkedOn} | "free", reattaches, afterCrash}].')
}

export const superpromptOptions = {
  watch: Options.boolean("watch").pipe(
    Options.withAlias("w"),
    Options.withDescription("Keep running and rewrite the file whenever a source file, the notes or the config changes.")
  ),
  out: Options.file("out").pipe(
    Options.withPseudoName("FILE"),
    Options.optional,
    Options.withDescription("The file to write (default project_superprompt_output.md in the workspace).")
  ),
  notes: Options.file("notes").pipe(
    Options.withPseudoName("FILE"),
    Options.optional,
    Options.withDescription("Markdown put first, before the sources: your question or context (default project_superprompt.md, when present).")
  )
}

export const writeOptions = {
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

export const directOptions = {
  force: Options.boolean("force").pipe(
    Options.withDescription("Write a new draft over an existing storyshot.bible.json (a new take: paid again with an LLM writer; the old file is kept as .storyshot/bible.previous.json).")
  ),
  dryRun: Options.boolean("dry-run").pipe(Options.withAlias("n"), Options.withDescription("Show the price of the draft; pay and write nothing.")),
  json: json("Print {file, bible, cost, estimate, by} as one JSON object."),
  profile: profile("draft (the names in the text, offline) or cloud (an LLM reads the whole transcript).")
}

export const refineOptions = {
  shot: Args.text({ name: "SHOT" }).pipe(Args.withDescription("The shot to change: shot:K (as `storyshot graph` and the storyboard number them).")),
  feedback: Args.text({ name: "FEEDBACK" }).pipe(Args.optional, Args.withDescription('What the prompt writer should change, e.g. "closer, dusk light" (one call, paid with an LLM writer).')),
  prompt: Options.text("prompt").pipe(
    Options.withPseudoName("TEXT"),
    Options.optional,
    Options.withDescription("Pin this prompt by hand instead of asking the writer (free).")
  ),
  json: json("Print {k, n, j, before, after, cost} as one JSON object."),
  profile: profile("draft or cloud (the writer that refines).")
}

export const approveOptions = {
  ids: Args.text({ name: "ID" }).pipe(Args.repeated, Args.withDescription("sentence:N or shot:K (its sentence); none: the whole film.")),
  clear: Options.boolean("clear").pipe(Options.withDescription("Lift the approval: a later model or setting change re-plans those sentences again.")),
  json: json("Print {sentences, shots, cleared, cost} as one JSON object."),
  profile: profile("draft or cloud (the writer whose plan is approved).")
}

export const cacheOptions = { json: json("Print one JSON object on stdout instead of lines.") }

export const cachePullOptions = {
  ...cacheOptions,
  all: Options.boolean("all").pipe(Options.withDescription("Fetch every result in the remote cache, not only what this film needs."))
}

export const cacheVerifyOptions = {
  ...cacheOptions,
  repair: Options.boolean("repair").pipe(
    Options.withDescription("Delete the records and objects that fail the check (their nodes are rebuilt and sent again by the next build that needs them).")
  )
}

/** `storyshot cache ...`: its four subcommands, from src/cli/cache.ts. */
const cache = () => import("./cache.ts")
const cacheCommand = Command.make("cache", {}, lazy(() => cache().then((m) => ({ handler: m.missingSubcommand })))).pipe(
  Command.withSubcommands([
    Command.make("status", cacheOptions, lazy(() => cache().then((m) => ({ handler: m.statusHandler })))).pipe(
      Command.withDescription("Whether the remote cache answers, and what it holds compared with this store.")
    ),
    Command.make("push", cacheOptions, lazy(() => cache().then((m) => ({ handler: m.pushHandler })))).pipe(
      Command.withDescription("Send every result this store has and the remote cache lacks (with its files; never a key).")
    ),
    Command.make("pull", cachePullOptions, lazy(() => cache().then((m) => ({ handler: m.pullHandler })))).pipe(
      Command.withDescription("Fetch what this film needs from the remote cache, checked by hash (--all: every result there).")
    ),
    Command.make("verify", cacheVerifyOptions, lazy(() => cache().then((m) => ({ handler: m.verifyHandler })))).pipe(
      Command.withDescription("Check every record and object in the remote cache (downloads them; exit 1 on a problem, --repair deletes them).")
    )
  ]),
  Command.withDescription("The remote cache several machines share (remoteCache in the config, or STORYSHOT_REMOTE_CACHE): status, push, pull, verify.")
)

export const serveOptions = {
  port: Options.integer("port").pipe(
    Options.withPseudoName("PORT"),
    Options.withDefault(4477),
    Options.withDescription("The port to listen on (default 4477; 0: any free one, printed at start).")
  ),
  host: Options.text("host").pipe(
    Options.withPseudoName("ADDRESS"),
    Options.withDefault("127.0.0.1"),
    Options.withDescription(
      "The address to listen on (default 127.0.0.1: this computer only). Any other (e.g. 0.0.0.0) needs STORYSHOT_TOKEN set, and every request must then carry it."
    )
  ),
  root: Options.directory("root").pipe(
    Options.withPseudoName("DIR"),
    Options.optional,
    Options.withDescription("Serve every workspace (project) in this folder, and create new ones there (default: the current workspace only).")
  ),
  queue: Options.text("queue").pipe(
    Options.withPseudoName("redis://HOST:PORT"),
    Options.optional,
    Options.withDescription(
      "Put builds on this Redis queue (BullMQ) for `storyshot worker` processes to run, instead of running them here (default: STORYSHOT_QUEUE; unset: builds run in this process)."
    )
  )
}

export const workerOptions = {
  queue: Options.text("queue").pipe(
    Options.withPseudoName("redis://HOST:PORT"),
    Options.optional,
    Options.withDescription("The Redis queue `storyshot serve --queue` puts builds on (default: STORYSHOT_QUEUE).")
  ),
  concurrency: Options.integer("concurrency").pipe(
    Options.withPseudoName("N"),
    Options.withDefault(1),
    Options.withDescription("How many builds this worker runs at once (default 1).")
  ),
  limit: Options.keyValueMap("limit").pipe(
    Options.optional,
    Options.withDescription(
      "A provider's limit across all workers, e.g. --limit openai=2 (default: the project's `pools` setting). Every worker should be given the same."
    )
  ),
  metricsPort: Options.integer("metrics-port").pipe(
    Options.withPseudoName("PORT"),
    Options.optional,
    Options.withDescription("Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0: any free port, printed at start).")
  )
}

export type Flags<O extends Command.Command.Config> = Command.Command.ParseConfig<O>

export const subcommands = [
  Command.make("build", buildOptions, lazy(() => import("./build.ts"))).pipe(
    Command.withDescription("Build the film, or the named targets and what they need, rebuilding only what is stale.")
  ),
  Command.make("graph", graphOptions, lazy(() => import("./graph.ts"))).pipe(
    Command.withDescription("Show the target graph as known (fresh / stale / not expanded yet), without building or paying anything.")
  ),
  Command.make("clean", cleanOptions, lazy(() => import("./clean.ts"))).pipe(
    Command.withDescription(
      "Without options: remove out/ and unreferenced files. --stage/--target: drop stored results so they are rebuilt (says what they cost). --all: remove the store."
    )
  ),
  Command.make("init", {}, lazy(() => import("./init.ts"))).pipe(
    Command.withDescription("Write a commented storyshot.config.ts, an example transcript.txt, .env.example and .gitignore in the workspace folder (never overwrites).")
  ),
  Command.make("verify", verifyOptions, lazy(() => import("./verify.ts"))).pipe(
    Command.withDescription("Check the store without changing it: every record's files exist and hash right (exit 1 if not).")
  ),
  Command.make("why", whyOptions, lazy(() => import("./why.ts"))).pipe(
    Command.withDescription(
      "Say why a target is stale (which ingredient of its fingerprint changed, old → new, following inputs that would be rebuilt upstream) or why it was last rebuilt; builds and pays nothing."
    )
  ),
  Command.make("runs", runsOptions, lazy(() => import("./runs.ts").then((m) => ({ handler: m.runsHandler })))).pipe(
    Command.withDescription("List past builds, newest first: when, built / cached / failed, cost paid, wall-clock time.")
  ),
  Command.make("report", reportOptions, lazy(() => import("./runs.ts").then((m) => ({ handler: m.reportHandler })))).pipe(
    Command.withDescription(
      "One run in detail: cost and wall-clock per stage (cache hits as money and time saved), then its requests, slowest and most expensive first."
    )
  ),
  Command.make("models", modelsOptions, lazy(() => import("./models.ts"))).pipe(
    Command.withDescription(
      "The OpenRouter model list with prices (USD per million tokens and per sentence's shot list), saved in .storyshot/models.json. When it cannot be fetched, the saved list is shown with a warning (exit 0); with none saved, exit 1."
    )
  ),
  Command.make("providers", providersOptions, lazy(() => import("./providers.ts"))).pipe(
    Command.withDescription(
      "The providers each stage can use: what they need, where their prices come from and when those were checked, and whether a build re-attaches to their work after a crash."
    )
  ),
  Command.make("superprompt", superpromptOptions, lazy(() => import("./superprompt.ts"))).pipe(
    Command.withDescription(
      "Join the project's source files (src/, targets/ and the config; storyshot's own src/ and targets/ in a workspace without them) into one markdown file to paste into an LLM, after the notes in project_superprompt.md. Each file once, with a header, ordered by path."
    )
  ),
  Command.make("write", writeOptions, lazy(() => import("./write.ts"))).pipe(
    Command.withDescription(
      "Write transcript.txt from a topic, web pages or files: a writer model (OpenRouter or any OpenAI-compatible endpoint) writes a script of the asked length in plain sentences, its price shown before it is paid; without a model, the pages' own main text. Sources are cited at the end as // comments, which are not narrated. An existing transcript is never overwritten without --force."
    )
  ),
  Command.make("direct", directOptions, lazy(() => import("./direct.ts"))).pipe(
    Command.withDescription(
      "Write the story bible, storyshot.bible.json: the cast (name, role, look, wardrobe), the places and the film's style. In the cloud profile an LLM reads the whole transcript; in the draft profile a first draft comes from the names in the text. Written once: then it is yours to edit, builds read it and never rewrite it (--force writes a new draft over it)."
    )
  ),
  Command.make("refine", refineOptions, lazy(() => import("./refine.ts"))).pipe(
    Command.withDescription(
      'Change one shot before paying for its image: the prompt writer rewrites it with your feedback (storyshot refine shot:5 "closer, dusk light"), or --prompt pins your own. Kept in storyshot.shots.json by sentence text, so it survives sentences inserted before it; the next build pays again for that shot\'s image and clip only.'
    )
  ),
  Command.make("approve", approveOptions, lazy(() => import("./refine.ts").then((m) => ({ handler: m.approveHandler })))).pipe(
    Command.withDescription(
      "Freeze the plan (every sentence, or those named) as it stands, after reviewing it (build --target sentence:N:plan, out/storyboard.html): a later model or setting change does not re-plan approved sentences. --clear lifts it."
    )
  ),
  Command.make("serve", serveOptions, lazy(() => import("./serve.ts"))).pipe(
    Command.withDescription(
      "Serve the studio: a web page and a REST API (Swagger UI at /docs) to create projects, see the plan and its price, build, watch progress live, re-roll or re-prompt a shot and download the film. Builds there are ordinary builds: same store, lock and money rules."
    )
  ),
  Command.make("worker", workerOptions, lazy(() => import("./worker.ts"))).pipe(
    Command.withDescription(
      "Run builds from the queue that `storyshot serve --queue` fills (Redis, BullMQ), with other workers on this or other machines: no two workers pay for the same node, provider limits hold across all of them, and a worker that dies has its build finished by another without paying twice."
    )
  ),
  cacheCommand
] as const

export { globalOptions, root }
