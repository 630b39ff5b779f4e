/**
 * A music bed under the narration, mixed into the final cut only (the sentence files stay voice-only): the
 * bed is looped or trimmed to the film, set to `volume` dB, faded in and out, and ducked under the voice.
 * The picture is copied, never re-encoded; only the sound is encoded again.
 *
 * Ducking is a gain keyed to the narration's pauses, measured on the film's own sound (`silencedetect`):
 * the bed sits `duck` dB down while the voice speaks and comes back up in every pause of 0.15 s or more,
 * rising over 120 ms after the voice stops and dipping over 80 ms *before* it resumes (the pauses are known
 * in advance, so the music never covers a first syllable). A compressor (`sidechaincompress`) can only react
 * after the voice starts, and with the short pauses of narration it never recovers in time: measured on the
 * example's espeak narration (pauses of 0.25–0.35 s), it left the bed only 8.5–13 dB lower under speech than
 * in the pauses depending on its settings (10.2 dB with threshold 0.02, ratio 20, attack 20 ms, release
 * 300 ms), against the ≥ 10 dB asked. The keyed gain is exact, and the same input makes the same bytes.
 *
 * Surprises, on the bundled ffmpeg (a 2018 build) and newer ones alike:
 * - `amix` divides every input by the number of inputs (there is no `normalize` option in 2018): the mix is
 *   multiplied by 2 afterwards, so the voice keeps its level. The bed is padded with silence (`apad`) so it
 *   never ends before the voice: when an input of `amix` ends, the others jump up in level.
 * - `-stream_loop -1` loops the bed's input; `atrim` then cuts it to the film's length.
 * - The film is opened twice, once for its picture (copied) and once for its sound (filtered): with both taken
 *   from one input, ffmpeg 2018 ended the mixed sound 0.16 s before the film (measured on a 7.8 s film).
 * - `volume`'s expression is evaluated once per audio frame (`eval=frame`): frames are cut to 10 ms first
 *   (`asetnsamples`), so a ramp moves in 10 ms steps, which is inaudible.
 * - A long film has hundreds of pauses: the graph goes to ffmpeg in a file (`-filter_complex_script`), never
 *   on the command line (Windows limits a command line to 32,767 characters). It holds only numbers.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Encode from "./Encode.ts"
import { invalid } from "./Errors.ts"
import { filterPath } from "./Escape.ts"
import { Ffmpeg } from "./Ffmpeg.ts"
import { io, writeAtomically } from "./Files.ts"

/** Bumped when the mix changes what it makes. */
export const version = 1

export interface MusicSettings {
  /** Gain applied to the music file, in dB (e.g. -18). */
  readonly volumeDb: number
  /** How far the music dips under the voice, in dB (negative), or undefined for no ducking. */
  readonly duckDb: number | undefined
  readonly fadeInSec: number
  readonly fadeOutSec: number
}

/** A stretch of the narration without voice, in seconds from the start of the film. */
export interface Pause {
  readonly start: number
  readonly end: number
}

/** Quieter than this, for at least `pauseSec`, is a pause in the narration. */
export const silenceDb = -50
export const pauseSec = 0.15
const riseSec = 0.12
const dipSec = 0.08

const n = (x: number) => (Math.round(x * 1000) / 1000).toFixed(3)

/** The pauses `silencedetect` printed with `ametadata` (start and end, seconds); one still open at the end of
 *  the film closes at `durationSec`. */
export const parsePauses = (printed: string, durationSec: number): ReadonlyArray<Pause> => {
  const pauses: Array<Pause> = []
  let start: number | undefined
  for (const line of printed.split(/\r?\n/)) {
    const m = /^lavfi\.silence_(start|end)=(-?[\d.]+)/.exec(line.trim())
    if (!m) continue
    const t = Math.max(0, Math.min(durationSec, Number(m[2])))
    if (m[1] === "start") start = t
    else if (start !== undefined) {
      if (t > start) pauses.push({ start, end: t })
      start = undefined
    }
  }
  if (start !== undefined && durationSec > start) pauses.push({ start, end: durationSec })
  return pauses
}

/** The bed's gain over time as a `volume` expression: `duck` under the voice, 1 in the pauses. */
export const duckExpression = (pauses: ReadonlyArray<Pause>, duckDb: number): string => {
  const low = Math.pow(10, duckDb / 20)
  if (pauses.length === 0) return n(low)
  const open = pauses.map((p) => `clip(min((t-${n(p.start)})/${n(riseSec)},(${n(p.end)}-t)/${n(dipSec)}),0,1)`).join("+")
  return `${n(low)}+${n(1 - low)}*min(1,${open})`
}

export interface GraphOptions {
  readonly durationSec: number
  readonly pauses: ReadonlyArray<Pause>
  readonly settings: MusicSettings
  /** For measurements: output the bed alone, as it is mixed (ducked and faded), instead of the mix. */
  readonly bedOnly?: boolean | undefined
}

/** The inputs `graph` reads: 0 the film (its picture is mapped, not filtered), 1 the film again (its sound),
 *  2 the music, looped. The output is `[aout]`. */
export const inputs = (film: string, music: string): ReadonlyArray<string> => [
  "-i", path.resolve(film),
  "-i", path.resolve(film),
  "-stream_loop", "-1",
  "-i", path.resolve(music)
]

export const graph = (opts: GraphOptions): string => {
  const d = opts.durationSec
  const s = opts.settings
  // Fades that do not fit the film share it.
  const scale = s.fadeInSec + s.fadeOutSec > d ? d / (s.fadeInSec + s.fadeOutSec) : 1
  const fadeIn = s.fadeInSec * scale
  const fadeOut = s.fadeOutSec * scale
  const format = `aformat=sample_fmts=fltp:sample_rates=${Encode.SAMPLE_RATE}:channel_layouts=stereo`
  const bed = [
    "[2:a]asetpts=N/SR/TB",
    `atrim=end=${n(d)}`,
    `aresample=${Encode.SAMPLE_RATE}`,
    format,
    `volume=${n(s.volumeDb)}dB`,
    ...(s.duckDb === undefined ? [] : ["asetnsamples=n=480", `volume='${duckExpression(opts.pauses, s.duckDb)}':eval=frame`]),
    ...(fadeIn > 0 ? [`afade=t=in:st=0:d=${n(fadeIn)}`] : []),
    ...(fadeOut > 0 ? [`afade=t=out:st=${n(d - fadeOut)}:d=${n(fadeOut)}`] : [])
  ].join(",")
  const voice = `[1:a]aresample=${Encode.SAMPLE_RATE},${format}`
  if (opts.bedOnly) return `${bed}[aout];${voice},anullsink`
  return `${bed},apad[bed];${voice}[voice];[voice][bed]amix=inputs=2:duration=first:dropout_transition=0,volume=2,${format}[aout]`
}

/** The pauses in the film's narration. */
export const pauses = Effect.fn("Music.pauses")(function* (film: string, scratch: string, durationSec: number) {
  const ff = yield* Ffmpeg
  const printed = path.join(path.resolve(scratch), "pauses.txt")
  yield* ff.run(
    [
      "-i", path.resolve(film),
      "-vn",
      "-af", `silencedetect=noise=${silenceDb}dB:d=${pauseSec},ametadata=mode=print:file=${filterPath(printed)}`,
      "-f", "null", "-"
    ],
    { purpose: `find the pauses in the narration of ${film}` }
  )
  const text = yield* io(printed, "read", () => (fs.existsSync(printed) ? fs.readFileSync(printed, "utf8") : ""))
  return parsePauses(text, durationSec)
})

export interface MixOptions {
  readonly film: string
  readonly music: string
  readonly out: string
  /** Where the graph and the pause list are written. */
  readonly scratch: string
  readonly settings: MusicSettings
}

/** Lays the music under the film's sound: the picture is copied, the sound encoded again (AAC, as every part). */
export const mix = Effect.fn("Music.mix")(function* (opts: MixOptions) {
  const ff = yield* Ffmpeg
  const film = yield* ff.probe(opts.film)
  const music = yield* ff.probe(opts.music)
  if (!music.streams.some((s) => s.type === "audio")) return yield* Effect.fail(invalid(path.resolve(opts.music), "music.file has no audio stream"))
  if (!film.streams.some((s) => s.type === "audio")) return yield* Effect.fail(invalid(path.resolve(opts.film), "it has no sound to lay the music under"))
  const durationSec = film.streams.find((s) => s.type === "video")?.durationSec ?? film.durationSec
  const found = opts.settings.duckDb === undefined ? [] : yield* pauses(opts.film, opts.scratch, durationSec)
  const script = path.join(path.resolve(opts.scratch), "music.graph")
  yield* io(script, "write", () => fs.writeFileSync(script, graph({ durationSec, pauses: found, settings: opts.settings }), "utf8"))
  const out = yield* writeAtomically(opts.out, (tmp) =>
    ff.run(
      [
        ...Encode.graphThreads,
        ...inputs(opts.film, opts.music),
        "-filter_complex_script", script,
        "-map", "0:v", "-map", "[aout]",
        "-c:v", "copy",
        ...Encode.aac,
        ...Encode.mp4(tmp)
      ],
      { purpose: `lay the music ${opts.music} under ${opts.film}` }
    )
  )
  return { out, pauses: found.length, durationSec }
})
