/**
 * Putting the film together, for both profiles: each sentence's clips joined under its narration (the mux),
 * and the sentences joined into the film (the final concat).
 *
 * Surprises:
 * - The mux counts frames, not seconds: clips are converted to the output rate first, padded by cloning their
 *   last frame if short, and trimmed by frame number, so a part lasts exactly `frames / fps`. The narration is
 *   padded with silence or trimmed to the same length, sample-exact, so parts concatenate without drift.
 * - Transitions (issue 16) overlap pictures only, inside the shot they lead into: its first frames blend the
 *   outgoing picture (the previous clip *continuing* past its cut, its last frame held when it has no more) into
 *   its own, so no frame is added or removed and the narration never moves. This ffmpeg has no `xfade`: a
 *   crossfade is the new picture faded in by its alpha over the old one (`overlay`), a fade through black or
 *   white is `fade` out then `fade` in (`fade`'s colour works on YUV, where scaling the planes toward 0 would
 *   turn black green).
 * - A clip's frames are encoded once: when every clip can be joined packet by packet (a Ken Burns clip: this
 *   encoder's settings, its exact frames, a keyframe where its transition ends), only the transitions and the
 *   narration are encoded and the rest is copied (`muxByCopy`); otherwise everything is decoded and encoded.
 * - The final cut is joined without ffmpeg when every part is one the mux made (`Mp4.ts`: the parts' sample
 *   tables laid end to end, their bytes copied): no process per part, no re-muxing, one copy of the film's
 *   bytes, so an edit of one sentence costs the final cut milliseconds per minute of film. Its sound is one
 *   continuous stream with one edit (the first part's priming), so tools that ignore edit lists, remuxes
 *   and decoders get the same length of sound as the picture (`Mp4.ts`, "Surprises").
 * - `join: "ffmpeg"` (`STORYSHOT_FINAL_JOIN=ffmpeg`, targets/final.ts) takes ffmpeg's concat demuxer instead,
 *   as do parts the table join declines (another codec or size, files the mux did not make).
 * - The concat demuxer reads `file '...'` lines where `'` ends the quote (see
 *   `Escape.concatListLine`); `-safe 0` lets it open absolute paths. Each part gets an exact `duration` line
 *   (see `partDuration`); the muxer then warns about non-monotonous audio DTS where AAC priming overlaps a
 *   boundary. Its output keeps every part's priming packet in the sound: a decoder that plays packets in
 *   order (Chromium's decodeAudioData, ffmpeg itself) hears the sound run ~30 ms later per sentence than the
 *   picture (measured: 0.46 s over 16 sentences), which is why it is no longer the default.
 */
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Clip from "./Clip.ts"
import * as Encode from "./Encode.ts"
import { MediaInvalid } from "./Errors.ts"
import { concatListLine } from "./Escape.ts"
import { Ffmpeg, type ProbeResult } from "./Ffmpeg.ts"
import { io, requireFrame, withScratchDir, writeAtomically } from "./Files.ts"
import * as Mp4 from "./Mp4.ts"

/** How every film part is encoded (the mux, and a join that must re-encode): the same codecs and audio
 *  format everywhere, so the final concat can copy streams. Picture and sound come from `[v]` and `[a]`. */
const encodeFilm = (fps: number, out: string): ReadonlyArray<string> => [
  "-map", "[v]", "-map", "[a]",
  "-r", String(fps),
  ...Encode.h264,
  ...Encode.aac,
  ...Encode.mp4(out)
]

// ---------------------------------------------------------------------------------------------------------
// Sentence mux

/** How a clip is entered: over its first `frames` frames, from the picture before it. */
export interface Into {
  readonly kind: "crossfade" | "fade-black" | "fade-white"
  readonly frames: number
  /** The first clip's outgoing picture: a lead-in file of the previous sentence's last shot (`renderLeadIn`).
   *  Without one, the first clip fades in from the colour (a crossfade from nothing is a cut). */
  readonly from?: string | undefined
}

export interface MuxClip {
  readonly path: string
  readonly frames: number
  readonly into?: Into | undefined
}

export interface MuxOptions {
  readonly clips: ReadonlyArray<MuxClip>
  readonly audio: string
  readonly out: string
  readonly fps: number
  readonly width: number
  readonly height: number
}

/**
 * Joins the clips, each cut (or padded) to its frame count and fitted to width×height at `fps`, lays the
 * narration over them and cuts the result to the shorter of the two, rounded to a whole frame.
 * H.264 + AAC 48 kHz stereo. Returns the path and the number of frames written.
 */
export const muxSentence = Effect.fn("Assemble.muxSentence")(function* (opts: MuxOptions) {
  yield* requireFrame("Assemble.muxSentence", opts.width, opts.height, opts.fps)
  if (opts.clips.length === 0) return yield* Effect.dieMessage("Assemble.muxSentence: no clips")
  for (const clip of opts.clips) {
    if (!Number.isInteger(clip.frames) || clip.frames < 1) {
      return yield* Effect.dieMessage(`Assemble.muxSentence: clip ${clip.path} has ${clip.frames} frames`)
    }
  }
  const ff = yield* Ffmpeg
  const { width: w, height: h, fps } = opts
  const narration = yield* ff.probe(opts.audio)
  if (!narration.streams.some((s) => s.type === "audio")) {
    const file = path.resolve(opts.audio)
    return yield* Effect.fail(
      new MediaInvalid({ path: file, reason: "it has no audio stream", message: `${file} has no audio stream to narrate with.` })
    )
  }
  const videoFrames = opts.clips.reduce((n, c) => n + c.frames, 0)
  const audioFrames = Math.max(1, Math.round(narration.durationSec * fps))
  const frames = Math.min(videoFrames, audioFrames)
  const samples = Math.round((frames / fps) * Encode.SAMPLE_RATE)

  const fit = `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${fps}`
  /** Frames of transition into clip i (never more than the clip has). */
  const into = (i: number) => {
    const t = opts.clips[i]?.into
    return t === undefined ? 0 : Math.max(1, Math.min(Math.round(t.frames), opts.clips[i]!.frames))
  }
  const audioChain = (input: number) =>
    `[${input}:a]aresample=${Encode.SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,apad,` +
    `atrim=end_sample=${samples},asetpts=PTS-STARTPTS[a]`

  // Each frame is encoded once where it can be: clips the mux could join packet by packet are copied, and only
  // their transitions are encoded here (`muxByCopy`).
  const copied = yield* muxByCopy(opts, { frames, videoFrames, into, fit, audioChain })
  if (copied !== undefined) return { out: copied, frames }

  const inputs: Array<string> = []
  const chains: Array<string> = []
  opts.clips.forEach((clip, i) => {
    // The next clip's transition needs this one's continuation past its cut.
    const more = i + 1 < opts.clips.length ? into(i + 1) : 0
    // Read only what is needed (plus a margin) of a long provider clip.
    inputs.push(...Encode.inputThreads(), "-t", ((clip.frames + more) / fps + 1).toFixed(3), "-i", path.resolve(clip.path))
    const padded = `[${i}:v]${fit},tpad=stop_mode=clone:stop=${clip.frames + more}`
    if (more === 0) chains.push(`${padded},trim=end_frame=${clip.frames},setpts=PTS-STARTPTS,format=yuv420p[v${i}]`)
    else
      chains.push(
        `${padded},format=yuv420p,split=2[s${i}][t${i}]`,
        `[s${i}]trim=end_frame=${clip.frames},setpts=PTS-STARTPTS[v${i}]`,
        `[t${i}]trim=start_frame=${clip.frames}:end_frame=${clip.frames + more},setpts=PTS-STARTPTS[c${i}]`
      )
  })
  let extra = opts.clips.length
  const lead = opts.clips[0]?.into?.from
  if (lead !== undefined && into(0) > 0) {
    inputs.push("-i", path.resolve(lead))
    chains.push(`[${extra}:v]${fit},tpad=stop_mode=clone:stop=${into(0)},trim=end_frame=${into(0)},setpts=PTS-STARTPTS,format=yuv420p[lead]`)
    extra++
  }
  const parts = opts.clips.map((clip, i) => {
    const d = into(i)
    if (d === 0 || clip.into === undefined) return `[v${i}]`
    const from = i > 0 ? `[c${i - 1}]` : lead !== undefined ? "[lead]" : undefined
    if (d >= clip.frames) return transition(chains, i, clip.into.kind, d, from, `[v${i}]`)
    // The transition's frames, then the rest of the clip as it is.
    chains.push(
      `[v${i}]split=2[h${i}][r${i}]`,
      `[h${i}]trim=end_frame=${d},setpts=PTS-STARTPTS[hh${i}]`,
      `[r${i}]trim=start_frame=${d},setpts=PTS-STARTPTS[rr${i}]`
    )
    chains.push(`${transition(chains, i, clip.into.kind, d, from, `[hh${i}]`)}[rr${i}]concat=n=2:v=1:a=0[w${i}]`)
    return `[w${i}]`
  })
  inputs.push("-i", path.resolve(opts.audio))
  chains.push(
    `${parts.join("")}concat=n=${opts.clips.length}:v=1:a=0,` +
      `trim=end_frame=${frames},setpts=PTS-STARTPTS[v]`
  )
  chains.push(audioChain(extra))
  const out = yield* writeAtomically(opts.out, (tmp) =>
    ff.run([...Encode.graphThreads, ...inputs, "-filter_complex", chains.join(";"), ...encodeFilm(fps, tmp)], {
      purpose: `mux ${opts.clips.length} clip(s) with ${opts.audio} into ${opts.out}`
    })
  )
  return { out, frames }
})

/**
 * The chains of a transition of `d` frames into clip i: `head` is the clip's first d frames, `from` the
 * outgoing picture's d frames (undefined: the film's first clip, which comes in from a colour). Returns the
 * label of the d frames shown instead of the head.
 */
const transition = (chains: Array<string>, i: number, kind: Into["kind"], d: number, from: string | undefined, head: string): string => {
  const colour = kind === "fade-white" ? "white" : "black"
  const fadeIn = () => {
    if (from !== undefined) chains.push(`${from}nullsink`)
    chains.push(`${head}fade=t=in:s=0:n=${d}:c=${colour}[x${i}]`)
    return `[x${i}]`
  }
  if (from === undefined) return kind === "crossfade" ? head : fadeIn()
  if (kind === "crossfade") {
    // Frame k of the d blended ones is (k+1)/(d+1) of the new picture: neither end is a copy of one side.
    // The new picture fades in as an alpha over the outgoing one (`fade` of d+1 frames with one cloned frame in
    // front, dropped after): `overlay` blends in integer loops. `blend=all_expr` evaluated its expression per
    // pixel and was most of a draft mux's CPU (1.3 of 2.9 CPU-s for a 19 s sentence).
    chains.push(
      `${head}format=yuva420p,tpad=start=1:start_mode=clone,fade=t=in:s=0:n=${d + 1}:alpha=1,trim=start_frame=1,setpts=PTS-STARTPTS[f${i}]`,
      `${from}[f${i}]overlay=0:0:format=yuv420,format=yuv420p[x${i}]`
    )
    return `[x${i}]`
  }
  // Through the colour: the outgoing picture fades out over the first half, the shot fades in over the rest.
  const half = Math.floor(d / 2)
  if (half === 0) return fadeIn()
  chains.push(
    `${from}trim=end_frame=${half},setpts=PTS-STARTPTS,fade=t=out:s=0:n=${half}:c=${colour}[o${i}]`,
    `${head}trim=start_frame=${half},setpts=PTS-STARTPTS,fade=t=in:s=0:n=${d - half}:c=${colour}[n${i}]`,
    `[o${i}][n${i}]concat=n=2:v=1:a=0[x${i}]`
  )
  return `[x${i}]`
}

/** The codec configuration this build's encoder writes at a frame size and rate (one frame encoded once per
 *  process): a clip is copied into a mux only when it has exactly this one, so every film part stays joinable. */
const references = new Map<string, string | undefined>()
const referenceConfig = (w: number, h: number, fps: number) =>
  Effect.gen(function* () {
    const key = `${w}x${h}@${fps}`
    if (references.has(key)) return references.get(key)
    const ff = yield* Ffmpeg
    const config = yield* withScratchDir((dir) =>
      ff
        .run(
          [
            ...Encode.graphThreads, "-filter_complex", `color=c=black:s=${w}x${h}:r=${fps},format=yuv420p[v]`,
            "-map", "[v]", "-frames:v", "1", "-r", String(fps), ...Encode.h264, ...Encode.mp4(path.join(dir, "reference.mp4"))
          ],
          { purpose: `the encoder's configuration at ${key}` }
        )
        .pipe(Effect.map(() => Clip.readVideoIndex(path.join(dir, "reference.mp4"))?.config))
    ).pipe(Effect.orElseSucceed(() => undefined))
    references.set(key, config)
    return config
  })

/**
 * The mux without re-encoding the clips, when every clip is one the mux may join packet by packet: H.264 with
 * this encoder's configuration (Encode.h264) at the frame size, exactly its frame count at `fps`, a keyframe
 * where its transition ends, and no more picture than the narration. Ken Burns clips are made so
 * (KenBurns.ts: a keyframe at the transition's length). Each transition's frames are encoded (one ffmpeg for
 * all of them, from the same chains as the full mux), the rest of every clip is copied from that keyframe on
 * (the concat demuxer's `inpoint`), and only the narration is encoded. Undefined when any clip does not
 * qualify: the caller then decodes and encodes everything, as before.
 */
const muxByCopy = (
  opts: MuxOptions,
  plan: {
    readonly frames: number
    readonly videoFrames: number
    readonly into: (i: number) => number
    readonly fit: string
    readonly audioChain: (input: number) => string
  }
) =>
  Effect.gen(function* () {
    const { width: w, height: h, fps } = opts
    if (plan.videoFrames !== plan.frames || [opts.audio, ...opts.clips.map((c) => c.path)].some((p) => /[\r\n]/.test(p))) return undefined
    const indexes = opts.clips.map((c) => Clip.readVideoIndex(path.resolve(c.path)))
    const fits = indexes.every((x, i) => {
      const d = plan.into(i)
      return (
        x !== undefined && x.tracks === 1 && x.samples === opts.clips[i]!.frames && x.delta !== undefined && x.delta * fps === x.timescale &&
        (d === 0 || d >= x.samples || Clip.isKeyframe(x, d))
      )
    })
    if (!fits || new Set(indexes.map((x) => x!.config)).size !== 1) return undefined
    const reference = yield* referenceConfig(w, h, fps)
    if (reference === undefined || indexes[0]!.config !== reference) return undefined

    const ff = yield* Ffmpeg
    return yield* withScratchDir((dir) =>
      Effect.gen(function* () {
        // The transitions: d frames each, from the outgoing picture and the clip's first d frames.
        const inputs: Array<string> = []
        const chains: Array<string> = []
        const outputs: Array<string> = []
        const segments = new Map<number, string>()
        let n = 0
        const input = (file: string, frames: number) => {
          inputs.push(...Encode.inputThreads(), "-t", (frames / fps + 1).toFixed(3), "-i", path.resolve(file))
          return n++
        }
        opts.clips.forEach((clip, i) => {
          const d = plan.into(i)
          if (d === 0 || clip.into === undefined) return
          const head = input(clip.path, d)
          chains.push(`[${head}:v]${plan.fit},tpad=stop_mode=clone:stop=${d},trim=end_frame=${d},setpts=PTS-STARTPTS,format=yuv420p[hh${i}]`)
          let from: string | undefined
          if (i > 0) {
            const before = opts.clips[i - 1]!.frames
            const k = input(opts.clips[i - 1]!.path, before + d)
            chains.push(
              `[${k}:v]${plan.fit},tpad=stop_mode=clone:stop=${before + d},trim=start_frame=${before}:end_frame=${before + d},setpts=PTS-STARTPTS,format=yuv420p[c${i}]`
            )
            from = `[c${i}]`
          } else if (clip.into.from !== undefined) {
            const k = input(clip.into.from, d)
            chains.push(`[${k}:v]${plan.fit},tpad=stop_mode=clone:stop=${d},trim=end_frame=${d},setpts=PTS-STARTPTS,format=yuv420p[c${i}]`)
            from = `[c${i}]`
          }
          const shown = transition(chains, i, clip.into.kind, d, from, `[hh${i}]`)
          const file = path.join(dir, `transition-${i}.mp4`)
          chains.push(`${shown}null[t${i}]`)
          outputs.push("-map", `[t${i}]`, "-frames:v", String(d), "-r", String(fps), ...Encode.h264, ...Encode.mp4(file))
          segments.set(i, file)
        })
        if (segments.size > 0) {
          yield* ff.run([...Encode.graphThreads, ...inputs, "-filter_complex", chains.join(";"), ...outputs], {
            purpose: `encode ${segments.size} transition(s) for ${opts.out}`
          })
          for (const [i, file] of segments) {
            const x = Clip.readVideoIndex(file)
            if (x === undefined || x.config !== reference || x.samples !== plan.into(i)) return undefined
          }
        }
        // The picture: each transition, then its clip from the keyframe where the transition ends.
        const lines = ["ffconcat version 1.0"]
        opts.clips.forEach((clip, i) => {
          const d = plan.into(i)
          const segment = segments.get(i)
          // Each entry's exact length: from the file the demuxer takes a length that counts the B-frame delay
          // of a short part (measured: +0.65 ms after a 4-frame transition at 12 fps), which drifts the rest.
          const length = (n: number) => `duration ${(n / fps).toFixed(6)}`
          if (segment !== undefined) lines.push(concatListLine(segment), length(d))
          const skip = segment === undefined ? 0 : d
          if (skip >= clip.frames) return
          lines.push(concatListLine(path.resolve(clip.path)), length(clip.frames - skip))
          // At the keyframe, rounded up to the demuxer's microseconds: it starts at the keyframe at or before.
          if (skip > 0) lines.push(`inpoint ${(Math.ceil((skip / fps) * 1e6) / 1e6).toFixed(6)}`)
        })
        const list = path.join(dir, "pictures.txt")
        yield* io(list, "write the mux's list", () => fs.writeFileSync(list, lines.join("\n") + "\n", "utf8"))
        const out = yield* writeAtomically(opts.out, (tmp) =>
          ff.run(
            [
              "-f", "concat", "-safe", "0", "-i", list, "-i", path.resolve(opts.audio),
              "-filter_complex", plan.audioChain(1),
              "-map", "0:v", "-map", "[a]", "-c:v", "copy", ...Encode.aac, ...Encode.mp4(tmp)
            ],
            { purpose: `mux ${opts.clips.length} clip(s) with ${opts.audio} into ${opts.out} (pictures copied)` }
          )
        )
        // The copy is exact or it is not used: a part with another frame count would drift the film.
        const made = Clip.readVideoIndex(out)
        return made !== undefined && made.samples === plan.frames ? out : undefined
      })
    )
  })

/**
 * A sentence's lead-in: `frames` frames of the previous sentence's last clip from frame `from` on (where the mux
 * cut it), fitted to width×height at `fps`, its last frame held when the clip ends sooner. The next sentence's
 * mux fades or blends out of it, so it never needs the previous sentence's mux.
 */
export const renderLeadIn = Effect.fn("Assemble.renderLeadIn")(function* (opts: {
  readonly clip: string
  readonly from: number
  readonly frames: number
  readonly fps: number
  readonly width: number
  readonly height: number
  readonly out: string
}) {
  yield* requireFrame("Assemble.renderLeadIn", opts.width, opts.height, opts.fps)
  const ff = yield* Ffmpeg
  const { width: w, height: h, fps } = opts
  const graph =
    `[0:v]scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${fps},` +
    `tpad=stop_mode=clone:stop=${opts.from + opts.frames},trim=start_frame=${opts.from}:end_frame=${opts.from + opts.frames},setpts=PTS-STARTPTS,format=yuv420p[v]`
  return yield* writeAtomically(opts.out, (tmp) =>
    ff.run(
      [
        ...Encode.graphThreads,
        "-t", ((opts.from + opts.frames) / fps + 1).toFixed(3), "-i", path.resolve(opts.clip),
        "-filter_complex", graph, "-map", "[v]", "-frames:v", String(opts.frames), "-r", String(fps),
        ...Encode.h264, ...Encode.mp4(tmp)
      ],
      { purpose: `lead-in of ${opts.frames} frames from ${opts.clip}` }
    )
  )
})

// ---------------------------------------------------------------------------------------------------------
// Final concat

/** How the final cut joins its parts: laying their sample tables end to end (the default), or ffmpeg's concat. */
export type FinalJoin = "tables" | "ffmpeg"

export interface ConcatOptions {
  readonly parts: ReadonlyArray<string>
  readonly out: string
  /** Where the concat demuxer's list file is written (and removed afterwards). */
  readonly listDir: string
  /** "tables" when absent. */
  readonly join?: FinalJoin | undefined
}

/**
 * A part's exact length for the list's `duration` line. Without it the demuxer spaces parts by their container
 * duration, which counts the AAC encoder delay: every boundary would add ~21 ms of drift to the picture.
 */
const partDuration = (info: ProbeResult): number =>
  info.streams.find((s) => s.type === "video")?.durationSec ?? info.durationSec

const signature = (info: ProbeResult): string | undefined => {
  const video = info.streams.filter((s) => s.type === "video")
  const audio = info.streams.filter((s) => s.type === "audio")
  if (video.length !== 1 || audio.length !== 1) return undefined
  const v = video[0]!
  const a = audio[0]!
  return [v.codec, v.width, v.height, v.fps?.toFixed(4), v.pixelFormat, a.codec, a.sampleRate, a.channels].join("|")
}

/**
 * The join without ffmpeg (`Mp4.ts`), written whole or not at all; undefined when the parts are not all of
 * the mux's one shape (the caller joins them with ffmpeg then).
 */
const joinIndexed = (opts: ConcatOptions) =>
  Effect.gen(function* () {
    let declined = false
    const out = yield* writeAtomically(opts.out, (tmp) =>
      io(path.dirname(tmp), "join the film in", () => {
        try {
          Mp4.join(opts.parts.map((p) => path.resolve(p)), tmp)
        } catch (e) {
          // Declined: nothing is renamed into place, and the temporary file goes with the failure.
          if (e instanceof Mp4.Declined) declined = true
          throw e
        }
      })
    ).pipe(Effect.catchIf(() => declined, () => Effect.succeed(undefined)))
    if (declined || out === undefined) return undefined
    return { out, mode: "copy" as const }
  })

/**
 * Joins the sentence muxes. When every part has the same codecs, size, rate and audio format the streams are
 * copied (fast, lossless): by `Mp4.join` when the parts are the mux's own MP4s, else by ffmpeg's concat
 * demuxer; otherwise everything is re-encoded to the first part's size and rate.
 */
export const concatFinal = Effect.fn("Assemble.concatFinal")(function* (opts: ConcatOptions) {
  if (opts.parts.length === 0) return yield* Effect.dieMessage("Assemble.concatFinal: no parts")
  const joined = opts.join !== "ffmpeg" ? yield* joinIndexed(opts) : undefined
  if (joined !== undefined) return joined
  const ff = yield* Ffmpeg
  const infos: Array<ProbeResult> = []
  for (const part of opts.parts) {
    const info = yield* ff.probe(part)
    if (!info.streams.some((s) => s.type === "video") || !info.streams.some((s) => s.type === "audio")) {
      const file = path.resolve(part)
      return yield* Effect.fail(
        new MediaInvalid({
          path: file,
          reason: "it needs one video and one audio stream",
          message: `${file} cannot be joined into the film: it needs one video and one audio stream.`
        })
      )
    }
    infos.push(info)
  }
  const signatures = infos.map(signature)
  // A newline cannot be written into a list file line; such a path takes the re-encoding road.
  const copyable =
    signatures[0] !== undefined && signatures.every((s) => s === signatures[0]) && !opts.parts.some((p) => /[\r\n]/.test(p))

  if (copyable) {
    const listDir = path.resolve(opts.listDir)
    const out = yield* Effect.acquireUseRelease(
      io(listDir, "write the concat list in", () => {
        fs.mkdirSync(listDir, { recursive: true })
        const list = path.join(listDir, `concat-${crypto.randomBytes(4).toString("hex")}.txt`)
        const entries = opts.parts.map((part, i) => `${concatListLine(part)}\nduration ${partDuration(infos[i]!).toFixed(6)}`)
        fs.writeFileSync(list, `ffconcat version 1.0\n${entries.join("\n")}\n`, "utf8")
        return list
      }),
      (list) =>
        writeAtomically(opts.out, (tmp) =>
          ff.run(["-f", "concat", "-safe", "0", "-i", list, "-map", "0", "-c", "copy", ...Encode.mp4(tmp)], {
            purpose: `join ${opts.parts.length} parts into ${opts.out} (stream copy)`
          })
        ),
      (list) => Effect.sync(() => fs.rmSync(list, { force: true }))
    )
    return { out, mode: "copy" as const }
  }

  const first = infos[0]!.streams.find((s) => s.type === "video")!
  const w = first.width! + (first.width! % 2)
  const h = first.height! + (first.height! % 2)
  const fps = first.fps ?? 24
  const inputs = opts.parts.flatMap((p) => ["-i", path.resolve(p)])
  const chains = opts.parts.map(
    (_, i) =>
      `[${i}:v]scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${fps},format=yuv420p[v${i}];` +
      `[${i}:a]aresample=${Encode.SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo[a${i}]`
  )
  chains.push(`${opts.parts.map((_, i) => `[v${i}][a${i}]`).join("")}concat=n=${opts.parts.length}:v=1:a=1[v][a]`)
  const out = yield* writeAtomically(opts.out, (tmp) =>
    ff.run([...Encode.graphThreads, ...inputs, "-filter_complex", chains.join(";"), ...encodeFilm(fps, tmp)], {
      purpose: `join ${opts.parts.length} parts into ${opts.out} (re-encoding: their formats differ)`
    })
  )
  return { out, mode: "reencode" as const }
})
