/**
 * Offline narration with espeak-ng compiled to WebAssembly (the `espeak-ng` npm package): the draft profile's TTS.
 *
 * Surprises this adapter deals with:
 * - The package is the espeak-ng *command line* in a box: each `ESpeakNg({ arguments })` call instantiates the
 *   WASM, runs `main` once, and leaves the output in its in-memory filesystem. So: one instance per call, in a
 *   worker thread (`Workers.ts`: one per core, the compiled WASM kept, its dictionaries written only when
 *   opened: `Lean.ts`).
 * - When `main` exits non-zero (an unknown voice), the Emscripten glue sets `process.exitCode` and does not
 *   reject its promise. The worker restores `process.exitCode`; success is judged by stderr and by whether the
 *   WAV exists.
 * - The glue mutates the `arguments` array it is given (it unshifts the program name): always pass a fresh one.
 * - Text is an argument, never shell input; after `--`, a text starting with "-" is not read as an option.
 * - espeak-ng resolves a voice by language prefix: "en-xx" quietly speaks as "en". Only a voice with no known
 *   prefix fails ("The specified espeak-ng voice does not exist" on stderr); we then suggest real voices.
 * - An empty text still yields a valid WAV with a few milliseconds of silence: that is
 *   reported as an error, not as a narration.
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Workers from "./Workers.ts"

export class EspeakUnknownVoice extends Schema.TaggedError<EspeakUnknownVoice>()("EspeakUnknownVoice", {
  voice: Schema.String,
  suggestions: Schema.Array(Schema.String),
  message: Schema.String
}) {
  readonly transient = false
}

export class EspeakFailed extends Schema.TaggedError<EspeakFailed>()("EspeakFailed", {
  reason: Schema.Literal("empty-audio", "crashed", "write-failed"),
  message: Schema.String
}) {
  readonly transient = false
}

export type EspeakError = EspeakUnknownVoice | EspeakFailed

export interface SynthesizeOptions {
  readonly text: string
  /** An espeak-ng voice: a language code such as "en-us", "en-gb", "fr", optionally with a variant ("en-us+f3"). */
  readonly voice: string
  /** Speaking rate; espeak-ng accepts 80–450 and this adapter clamps to that range. */
  readonly wordsPerMinute: number
  /** Where the WAV is written (to a temporary name first, then renamed). */
  readonly out: string
}

export interface Voice {
  readonly language: string
  readonly name: string
}

const WAV = "/out.wav"
/** Offered when an unknown voice shares no language prefix with a real one. */
const COMMON_VOICES: ReadonlyArray<string> = ["en-us", "en-gb", "fr-fr", "de", "es", "it", "pt", "nl", "pl", "ru", "ja", "cmn"]
/** Less than this much audio is "nothing was said" (espeak writes ~8 ms of silence for an empty text). */
const MIN_AUDIO_SEC = 0.05

/** Runs the espeak-ng command line once in a worker thread (`Workers.ts`); what it printed and `file`. */
const runEspeak = (args: ReadonlyArray<string>, file?: string) =>
  Workers.run(args, file).pipe(
    Effect.mapError(
      (error) => new EspeakFailed({ reason: "crashed", message: `espeak-ng failed to start: ${error.message}` })
    )
  )

/** The voices espeak-ng knows, from `espeak-ng --voices`. */
export const listVoices = Effect.fn("Espeak.listVoices")(function* () {
  const { stdout } = yield* runEspeak(["--voices"])
  return stdout
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 4)
    .map((cols): Voice => ({ language: cols[1]!, name: cols[3]! }))
})

/** Seconds of audio in a PCM WAV, from its `fmt ` and `data` chunks; undefined when it is not one. */
export const wavSeconds = (bytes: Uint8Array, opts: { readonly whole?: boolean } = {}): number | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4))
  if (bytes.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") return undefined
  let byteRate: number | undefined
  let at = 12
  while (at + 8 <= bytes.byteLength) {
    const id = tag(at)
    const size = view.getUint32(at + 4, true)
    if (id === "fmt " && at + 20 <= bytes.byteLength) byteRate = view.getUint32(at + 16, true)
    if (id === "data") {
      if (byteRate === undefined || byteRate === 0) return undefined
      // A streaming writer may leave the size unset (0 or 0xffffffff): count what is actually there.
      const available = bytes.byteLength - (at + 8)
      // `whole`: the file must hold every byte its data chunk names (a file cut short does not).
      if (opts.whole === true && (size === 0 || size > available)) return undefined
      const dataBytes = size === 0 || size > available ? available : size
      return dataBytes / byteRate
    }
    at += 8 + size + (size % 2)
  }
  return undefined
}

/** Speaks `text` into a WAV file at `out`. */
export const synthesize = Effect.fn("Espeak.synthesize")(function* (opts: SynthesizeOptions) {
  const wpm = Math.round(Math.min(450, Math.max(80, Number.isFinite(opts.wordsPerMinute) ? opts.wordsPerMinute : 175)))
  // `-b 1`: the text is UTF-8. `--` ends the options, so a text such as "-v fr" is spoken, not obeyed.
  const { bytes: wav, stderr } = yield* runEspeak(["-b", "1", "-v", opts.voice, "-s", String(wpm), "-w", WAV, "--", opts.text], WAV)
  if (wav === undefined) {
    if (stderr.some((line) => /voice does not exist/i.test(line))) {
      const voices = yield* listVoices().pipe(Effect.orElseSucceed((): ReadonlyArray<Voice> => []))
      const prefix = opts.voice.toLowerCase().split(/[-_+]/)[0] ?? ""
      const close = voices.filter((v) => prefix !== "" && v.language.toLowerCase().startsWith(prefix))
      const common = voices.filter((v) => COMMON_VOICES.includes(v.language))
      const suggestions = [...new Set((close.length > 0 ? close : common).map((v) => v.language))].slice(0, 12)
      return yield* Effect.fail(
        new EspeakUnknownVoice({
          voice: opts.voice,
          suggestions,
          message:
            `espeak-ng has no voice "${opts.voice}". Voices are language codes` +
            (suggestions.length > 0 ? `, for example: ${suggestions.join(", ")}` : " such as en-us, en-gb, fr or de") +
            `. The full list: https://github.com/espeak-ng/espeak-ng/blob/master/docs/languages.md` +
            ` (or run listVoices() from src/providers/espeak/Espeak.ts).`
        })
      )
    }
    const said = stderr.filter((line) => !/keepRuntimeAlive/.test(line)).join("\n").trim()
    return yield* Effect.fail(
      new EspeakFailed({ reason: "crashed", message: `espeak-ng wrote no audio${said ? `: ${said}` : "."}` })
    )
  }
  const seconds = wavSeconds(wav)
  if (seconds === undefined || seconds < MIN_AUDIO_SEC) {
    return yield* Effect.fail(
      new EspeakFailed({
        reason: "empty-audio",
        message: `espeak-ng produced no speech for ${JSON.stringify(opts.text.slice(0, 80))}: is the sentence empty or only punctuation?`
      })
    )
  }
  const target = path.resolve(opts.out)
  yield* Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(target), { recursive: true })
      const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${crypto.randomBytes(4).toString("hex")}.tmp`)
      try {
        fs.writeFileSync(tmp, wav)
        fs.renameSync(tmp, target)
      } finally {
        fs.rmSync(tmp, { force: true })
      }
    },
    catch: (error) =>
      new EspeakFailed({
        reason: "write-failed",
        message: `Could not write the narration to ${target}: ${error instanceof Error ? error.message : String(error)}`
      })
  })
  return { out: target, durationSec: seconds }
})

/** The draft profile's narrator, as a service so a test can stand in for it. */
export class Espeak extends Context.Tag("storyshot/Espeak")<
  Espeak,
  {
    readonly synthesize: (
      opts: SynthesizeOptions
    ) => Effect.Effect<{ readonly out: string; readonly durationSec: number }, EspeakError>
    readonly listVoices: () => Effect.Effect<ReadonlyArray<Voice>, EspeakFailed>
  }
>() {
  static readonly layer: Layer.Layer<Espeak> = Layer.succeed(this, { synthesize, listVoices })
}
