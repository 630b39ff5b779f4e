/**
 * `storyshot write`: a transcript from a topic, web pages or files, for the person to edit and then build.
 *
 *   sources (Sources.ts: files and pages → main text)
 *     → a writer model writes the script (Prompt.ts, Writer.ts), its price shown first (Price.ts)
 *       or, without a model (`--verbatim`, or no key and only sources), the sources' own text
 *     → transcript.txt, sources cited as `//` comments (Output.ts); never overwritten without --force
 *
 * Every outside request (pages, the model list, the paid call) goes to the run's io log,
 * `.storyshot/runs/<id>/io.jsonl`, in full with keys redacted; the run's summary (`run.json`, with the paid
 * request's cost and time) is beside it, so `storyshot runs` and `storyshot report` show what `write` spent.
 */
import * as path from "node:path"
import { Cause, Effect, Either, Layer } from "effect"
import * as Atomic from "../engine/Atomic.ts"
import * as Cost from "../engine/Cost.ts"
import { Store } from "../engine/Store.ts"
import { Http } from "../providers/http/Client.ts"
import { IoLog } from "../providers/IoLog.ts"
import { split } from "../text/Sentences.ts"
import type { Workspace } from "../Workspace.ts"
import { fromEnv } from "../providers/ProviderConfig.ts"
import * as RunLog from "../cli/RunLog.ts"
import type * as Accounting from "../cli/Accounting.ts"
import { WriteError } from "./Errors.ts"
import * as Fetch from "./Fetch.ts"
import * as Length from "./Length.ts"
import * as Output from "./Output.ts"
import * as Price from "./Price.ts"
import * as Prompt from "./Prompt.ts"
import * as Sources from "./Sources.ts"
import { ScriptWriter } from "./Writer.ts"

export interface WriteFlags {
  readonly topic: string | undefined
  readonly urls: ReadonlyArray<string>
  readonly from: ReadonlyArray<string>
  readonly length: string | undefined
  readonly style: string | undefined
  readonly audience: string | undefined
  readonly force: boolean
  readonly dryRun: boolean
  /** Write the sources' own text; no model, nothing paid. */
  readonly verbatim: boolean
  /** The writer model instead of OPENROUTER_MODEL. */
  readonly model: string | undefined
  /** Refuse to pay more than this (USD) for the call; default `maxCostUsd` in the config. */
  readonly maxCost: number | undefined
}

export interface Outcome {
  readonly mode: "model" | "verbatim"
  readonly sources: ReadonlyArray<{ readonly where: string; readonly title: string | undefined; readonly words: number }>
  readonly model: string | undefined
  readonly estimate: Price.Estimate | undefined
  readonly paid: Cost.Cost
  /** Where the script was written; undefined on a dry run. */
  readonly file: string | undefined
  /** The transcript existed and was kept: the script went to `file` beside it. */
  readonly instead: boolean
  readonly words: number
  readonly sentences: number
  readonly runId: string | undefined
  readonly dryRun: boolean
}

export interface Say {
  /** What the person reads on stdout. */
  readonly line: (text: string) => void
  /** Notes and warnings (stderr). */
  readonly note: (text: string) => void
}

const usage = (message: string) => new WriteError({ reason: "usage", message })

const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`

const today = () => new Date().toISOString().slice(0, 10)

/** The sources' own paragraphs, cut at the sentence that reaches `words` when a length was asked for. */
const verbatimBody = (sources: ReadonlyArray<Sources.Source>, words: number | undefined): string => {
  const paragraphs = sources.flatMap((s) => s.paragraphs)
  if (words === undefined) return paragraphs.join("\n\n")
  const out: Array<string> = []
  let count = 0
  for (const p of paragraphs) {
    const kept: Array<string> = []
    for (const sentence of split(p)) {
      if (count >= words) break
      kept.push(sentence)
      count += Length.countWords(sentence)
    }
    if (kept.length > 0) out.push(kept.join(" "))
    if (count >= words) break
  }
  return out.join("\n\n")
}

const citations = (sources: ReadonlyArray<Sources.Source>): ReadonlyArray<string> =>
  sources.length === 0
    ? []
    : [
        `Sources (lines starting with // are comments: they are not narrated):`,
        ...sources.map((s, i) => {
          const title = s.title ? `${s.title}${s.byline ? `, by ${s.byline}` : ""} — ` : ""
          const at = s.kind === "url" ? `${s.url}${s.fetchedAt ? ` (fetched ${new Date(s.fetchedAt).toISOString().slice(0, 10)})` : ""}` : `${s.where}${s.url ? ` (${s.url})` : ""}`
          return `[${i + 1}] ${title}${at}`
        })
      ]

const quote = (s: string) => `"${s.replace(/\s+/g, " ").trim()}"`

/** The whole command, for the CLI and for tests: returns what happened, never exits the process. */
export const run = (ws: Workspace, flags: WriteFlags, say: Say) =>
  Effect.gen(function* () {
    const topic = flags.topic?.trim() || undefined
    if (topic === undefined && flags.urls.length === 0 && flags.from.length === 0)
      return yield* usage('write needs something to write from: --topic "…", --url URL or --from FILE (each may be combined)')
    if (flags.verbatim && topic !== undefined)
      return yield* usage("--verbatim writes the sources' own text, and --topic needs a writer model: drop one of them")
    const wpm = ws.config.voice.wordsPerMinute
    const parsed = Length.parse(flags.length ?? Length.defaultLength, wpm)
    if (Either.isLeft(parsed)) return yield* usage(parsed.left)
    const length = parsed.right
    // Every --url is checked before anything is fetched or paid.
    for (const url of flags.urls) {
      const checked = Fetch.checkUrl(url)
      if (checked instanceof WriteError) return yield* checked
    }

    const providers = fromEnv(ws.env)
    const settings = providers.openrouter
    const model = flags.model?.trim() || settings.model
    const hasKey = settings.apiKey !== ""
    const mode: Outcome["mode"] = topic !== undefined || (!flags.verbatim && hasKey) ? "model" : "verbatim"
    if (mode === "model" && !hasKey && !flags.dryRun)
      return yield* new WriteError({
        reason: "no-writer",
        message:
          `--topic needs a writer model: set OPENROUTER_KEY in .env or the environment (the model is OPENROUTER_MODEL, now ${model}; ` +
          `OPENROUTER_BASE_URL may point at any OpenAI-compatible endpoint). --from FILE and --url URL alone work without it.`
      })

    const runId = flags.dryRun ? undefined : RunLog.newRunId()
    const runDir = RunLog.runDir(ws.storeDir, runId ?? "write-dry-run")
    const startedAt = Date.now()
    const requests: Array<Accounting.RequestRow> = []

    const program = Effect.gen(function* () {
      const sources: Array<Sources.Source> = []
      for (const file of flags.from) sources.push(yield* Sources.fromFile(file, ws.dir))
      // STORYSHOT_HTTP_TIMEOUT_MS, the time-out of every request, is the page's too.
      const limits = { ...Fetch.defaultLimits, timeoutMs: providers.http.timeoutMs ?? Fetch.defaultLimits.timeoutMs }
      for (const url of flags.urls) sources.push(yield* Sources.fromUrl(url, limits))
      if (sources.length > 0)
        say.line(`Read ${plural(sources.length, "source")}: ${sources.map((s) => `${s.kind === "url" ? s.url : s.where} (${plural(s.words, "word")})`).join(", ")}`)

      let body: string
      let paid: Cost.Cost = Cost.free
      let estimate: Price.Estimate | undefined
      const comments: Array<string> = [...citations(sources)]
      const lengthNote = `about ${length.words} words${length.seconds === undefined ? "" : ` (${length.label})`}`

      if (mode === "verbatim") {
        if (!hasKey && !flags.verbatim)
          say.note(
            `no OPENROUTER_KEY: writing the sources' own text (free). Set it in .env to have a writer model turn them into a script of ${flags.length ?? Length.defaultLength}` +
              `${flags.style || flags.audience ? " (--style and --audience need the model too)" : ""}.`
          )
        body = verbatimBody(sources, flags.length === undefined ? undefined : length.words)
        comments.push(`Written by storyshot write on ${today()}: the sources' own text${flags.length === undefined ? "" : `, cut to ${lengthNote}`}, no model, $0.`)
      } else {
        const brief: Prompt.Brief = { topic, length, style: flags.style?.trim() || undefined, audience: flags.audience?.trim() || undefined, sources }
        const asked = Prompt.messages(brief)
        if (asked.truncated) say.note(`the sources are longer than the writer is sent: each was cut to its first ${Math.floor(Prompt.maxSourceChars / sources.length).toLocaleString("en-US")} characters`)
        const lookup = yield* Price.lookup(ws.storeDir, settings, model, !flags.dryRun)
        const promptTokens = Prompt.tokensOf(asked.system) + Prompt.tokensOf(asked.user) + 10
        estimate = Price.estimate(lookup.price, promptTokens, Prompt.expectedTokens(length.words), asked.maxTokens)
        const priced = estimate.expected.usd === undefined
          ? `price unknown (${lookup.note})`
          : `estimated ${Cost.format(estimate.expected)}, at most ${Cost.format(estimate.most)} (${plural(promptTokens, "token")} in, up to ${plural(asked.maxTokens, "token")} out, prices from ${lookup.note})`
        say.line(`Writing a script of ${lengthNote} with ${model}: ${priced}`)
        const cap = flags.maxCost ?? ws.config.maxCostUsd
        if (cap !== undefined && (estimate.most.usd === undefined || estimate.most.usd > cap))
          return yield* new WriteError({
            reason: "over-budget",
            message: estimate.most.usd === undefined
              ? `the price of ${model} is unknown and the spend cap is ${Cost.format(Cost.fromTable(cap))}: nothing was sent (raise or drop --max-cost / maxCostUsd to go ahead)`
              : `this call could cost up to ${Cost.format(estimate.most)}, over the spend cap of ${Cost.format(Cost.fromTable(cap))}: nothing was sent (raise --max-cost, or ask for a shorter --length)`
          })
        if (flags.dryRun) {
          if (!hasKey) say.note("OPENROUTER_KEY is not set: a real run needs it (in .env or the environment)")
          say.line(`Nothing paid (--dry-run): no request sent, no file written.`)
          const outcome: Outcome = { mode, sources, model, estimate, paid: Cost.free, file: undefined, instead: false, words: 0, sentences: 0, runId, dryRun: true }
          return outcome
        }
        const writer = yield* ScriptWriter
        const answer = yield* writer.write({ system: asked.system, user: asked.user, maxTokens: asked.maxTokens }).pipe(
          Effect.mapError((e) => new WriteError({ reason: e.reason, message: `${e.message} (the exchange is in ${path.relative(ws.dir, path.join(runDir, "io.jsonl"))})` }))
        )
        paid = Price.paid(answer.reportedUsd, lookup.price, answer.promptTokens, answer.completionTokens)
        requests.push({
          node: "write",
          stage: "write",
          provider: writer.provider,
          model,
          requestId: answer.requestId,
          startedAt: answer.startedAt,
          endedAt: answer.endedAt,
          wallMs: answer.endedAt - answer.startedAt,
          runMs: answer.endedAt - answer.startedAt,
          cost: paid,
          attempt: answer.attempts
        })
        body = Prompt.narration(answer.text)
        if (body === "")
          return yield* new WriteError({
            reason: "writer",
            message: `${model} answered with nothing to narrate (${Cost.format(paid)} paid; its answer is in ${path.relative(ws.dir, path.join(runDir, "io.jsonl"))})`
          })
        if (answer.finishReason === "length") say.note(`${model} stopped at its token limit: the script may end mid-sentence; edit its end`)
        const about = [
          topic === undefined ? undefined : `topic ${quote(topic)}`,
          brief.audience === undefined ? undefined : `audience ${quote(brief.audience)}`,
          brief.style === undefined ? undefined : `style ${quote(brief.style)}`
        ].filter((s) => s !== undefined).join(", ")
        comments.push(`Written by storyshot write on ${today()} with ${model} (${Cost.format(paid)})${about ? `: ${about}` : ""}; asked for ${lengthNote}.`)
      }

      const words = Length.countWords(body)
      const sentences = split(body).length
      const seconds = Math.round(Length.secondsOf(words, wpm))
      const text = Output.compose(body, comments)
      if (flags.dryRun) {
        say.line(`Would write ${plural(words, "word")}, ${plural(sentences, "sentence")} (≈ ${seconds} s at ${wpm} words a minute). Nothing written (--dry-run).`)
        const outcome: Outcome = { mode, sources, model: undefined, estimate, paid, file: undefined, instead: false, words, sentences, runId, dryRun: true }
        return outcome
      }
      const target = Output.target(ws.transcriptPath, flags.force)
      yield* Output.write(target.path, text)
      const shown = path.relative(process.cwd(), target.path) || target.path
      const transcript = path.relative(process.cwd(), ws.transcriptPath) || ws.transcriptPath
      say.line(
        `Wrote ${shown}: ${plural(words, "word")}, ${plural(sentences, "sentence")} (≈ ${seconds} s at ${wpm} words a minute) · spent ${Cost.format(paid)}`
      )
      if (target.instead)
        say.line(`${transcript} exists and was kept (--force replaces it): compare the two, then rename ${shown} over it, or edit it, and build.`)
      else if (target.replaces) say.note(`replaced ${transcript} (--force)`)
      const outcome: Outcome = { mode, sources, model: mode === "model" ? model : undefined, estimate, paid, file: target.path, instead: target.instead, words, sentences, runId, dryRun: false }
      return outcome
    })

    // A dry run writes nothing, not even the io log.
    const io: Layer.Layer<IoLog> = flags.dryRun
      ? IoLog.layerNoop
      : Layer.unwrapEffect(Effect.map(Store, (s) => RunLog.layerFile(s, runDir))).pipe(Layer.provide(Store.layer(ws.storeDir)))
    const http = Http.layerWith({ secrets: providers.secrets, timeoutMs: providers.http.timeoutMs, connectTimeoutMs: providers.http.connectTimeoutMs }).pipe(Layer.provide(io))
    const writer = ScriptWriter.layerOpenRouter({
      baseUrl: settings.baseUrl,
      apiKey: settings.apiKey,
      model,
      timeoutMs: settings.timeoutMs,
      retryBaseMs: providers.retryBaseMs
    }).pipe(Layer.provide(http))
    const provided = program.pipe(Effect.provide(Layer.mergeAll(io, http, writer)))

    return yield* provided.pipe(
      Effect.onExit((exit) =>
        runId === undefined
          ? Effect.void
          : Effect.sync(() =>
              record(runDir, ws.storeDir, {
                runId,
                startedAt,
                profile: ws.config.profile,
                requests,
                error: exit._tag === "Failure" ? firstMessage(exit.cause) : undefined,
                status: exit._tag === "Success" ? "ok" : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : reasonOf(exit.cause) === "over-budget" ? "cap" : "failed",
                output: exit._tag === "Success" ? exit.value.file : undefined
              })
            ).pipe(Effect.ignore)
      )
    )
  })

const reasonOf = (cause: Cause.Cause<unknown>): string | undefined => {
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some" ? (failure.value as { reason?: string }).reason : undefined
}

const firstMessage = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") return (failure.value as { message?: string }).message ?? String(failure.value)
  return Cause.isInterruptedOnly(cause) ? "interrupted" : "internal error"
}

/** `run.json` for a write, in the shape `storyshot runs` and `report` read (one node, "write"). */
const record = (
  dir: string,
  storeDir: string,
  r: {
    runId: string
    startedAt: number
    profile: string
    requests: ReadonlyArray<Accounting.RequestRow>
    error: string | undefined
    status: Accounting.RunStatus
    output: string | undefined
  }
) => {
  const endedAt = Date.now()
  const cost = Cost.sum(r.requests.map((q) => q.cost))
  const wallMs = endedAt - r.startedAt
  const requestMs = r.requests.reduce((n, q) => n + q.wallMs, 0)
  const report: Accounting.RunReport = {
    version: 1,
    runId: r.runId,
    status: r.status,
    ...(r.error === undefined ? {} : { error: r.error }),
    startedAt: r.startedAt,
    endedAt,
    wallMs,
    targets: ["write"],
    profile: r.profile,
    built: r.error === undefined ? ["write"] : [],
    cached: [],
    failed: r.error === undefined ? [] : [{ id: "write", error: r.error }],
    skipped: [],
    blockedByBudget: [],
    cost,
    saved: Cost.zero,
    savedMs: 0,
    stages: [
      {
        stage: "write",
        built: r.error === undefined ? 1 : 0,
        cached: 0,
        failed: r.error === undefined ? 0 : 1,
        requests: r.requests.length,
        cost,
        saved: Cost.zero,
        savedMs: 0,
        wallMs,
        busyMs: wallMs,
        requestWallMs: requestMs,
        requestSumMs: requestMs,
        longestRequestMs: r.requests.reduce((n, q) => Math.max(n, q.wallMs), 0)
      }
    ],
    nodes: [
      {
        id: "write",
        stage: "write",
        status: r.error === undefined ? "built" : "failed",
        startedAt: r.startedAt,
        endedAt,
        wallMs,
        cost: r.requests.length === 0 ? Cost.free : r.requests[0]!.cost,
        ...(r.error === undefined ? {} : { error: r.error })
      }
    ],
    requests: r.requests,
    output: r.output
  }
  Atomic.writeAtomicSync(path.join(dir, "run.json"), JSON.stringify(report, null, 2), Atomic.tempName(storeDir))
}
