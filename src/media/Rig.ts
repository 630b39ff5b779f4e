/**
 * The fake command rig behind `Ffmpeg.layerTest`: for tests where real ffmpeg would be too slow, or where what
 * matters is which commands run, with which arguments, in which order (STYLE.md §9).
 *
 * - Every `run` is recorded (`rig.commands`) with its arguments, purpose and outputs.
 * - An output (an argument that follows `-f FORMAT`, as every storyshot command writes its outputs) gets a
 *   stand-in file: a short text header and the JSON of the media it describes (`FakeMedia`). `describe`
 *   decides what that is; by default it is read off the arguments (`-frames:v`, `-r`, `s=WxH`, `-c:a`...).
 * - `probe` reads a stand-in back; any other file is "not media", as ffprobe would say. `rig.media` writes a
 *   stand-in directly (a narration of 2.3 s, a provider's clip).
 * - `onRun` can fail a command (`rig.fail`) or hang it until interrupted, to test the paths around ffmpeg:
 *   atomic writes, clean-up, interruption.
 *
 * The stand-ins are real files, so the store, renames and temporary names behave as they do for real media.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type FfmpegError, type FfmpegFailed, invalid } from "./Errors.ts"
import type { Ffmpeg } from "./Ffmpeg.ts"
import { checkFile, type ProbeResult, type StreamInfo } from "./Probe.ts"
import { failed, type RunOptions, type RunResult } from "./Process.ts"

const MAGIC = "storyshot fake media\n"

export type FakeMedia = ProbeResult

export interface FakeCommand {
  readonly args: ReadonlyArray<string>
  readonly purpose: string
  /** The files the command writes (temporary names, as the renderers pass them). */
  readonly outputs: ReadonlyArray<string>
  /** The inputs (`-i`), and the contents of the text files among the arguments' `textfile=` paths. */
  readonly inputs: ReadonlyArray<string>
  readonly textFiles: ReadonlyArray<{ readonly path: string; readonly text: string }>
}

export interface RigOptions {
  /** What each output of a command holds; the default reads it off the arguments (`describeOutput`). */
  readonly describe?: ((command: FakeCommand, output: string, index: number) => FakeMedia | undefined) | undefined
  /** Runs before the outputs are written: fail, hang (`Effect.never`) or look at the command. */
  readonly onRun?: ((command: FakeCommand) => Effect.Effect<void, FfmpegFailed>) | undefined
}

export interface Rig {
  readonly service: Ffmpeg["Type"]
  readonly commands: ReadonlyArray<FakeCommand>
  /** Writes a stand-in media file (e.g. a narration of 2.3 s) and returns its path. */
  readonly media: (file: string, media: FakeMedia) => string
  /** Reads a stand-in back (undefined for any other file). */
  readonly read: (file: string) => FakeMedia | undefined
}

/** A failure as ffmpeg would report it, for `onRun`. */
export const fail = (purpose: string, stderr: string, exitCode = 1): FfmpegFailed =>
  failed("ffmpeg", purpose, { exitCode, stderr })

export const video = (over: Partial<StreamInfo> & { width: number; height: number; fps: number; frames: number }): StreamInfo => ({
  type: "video",
  codec: "h264",
  pixelFormat: "yuv420p",
  durationSec: over.frames / over.fps,
  ...over
})

export const audio = (durationSec: number, over: Partial<StreamInfo> = {}): StreamInfo => ({
  type: "audio",
  codec: "aac",
  sampleRate: 48000,
  channels: 2,
  durationSec,
  ...over
})

const option = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const i = args.lastIndexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

/** `-f FORMAT OUTPUT` pairs, in order; `-f lavfi -i ...` is an input, and `-f null -` writes nothing. */
const outputsOf = (args: ReadonlyArray<string>): Array<{ file: string; format: string; at: number }> => {
  const out: Array<{ file: string; format: string; at: number }> = []
  for (let i = 0; i + 2 < args.length + 1; i++) {
    if (args[i] !== "-f") continue
    const format = args[i + 1]
    const file = args[i + 2]
    if (format === undefined || file === undefined || file === "-i" || format === "null") continue
    if (file.startsWith("-") && file !== "-") continue
    out.push({ file, format, at: i })
  }
  return out
}

/**
 * The default description of an output, read off the command as storyshot writes it: an image2 output is
 * one PNG frame of the size the graph names last (`s=WxH`, `pad=W:H` or `scale=W:H`); an MP4 has a video
 * stream of `-frames:v` frames (or the graph's last `trim=end_frame=N`, or the inputs' frames for a join)
 * at `-r` fps, and an audio stream when `-c:a` is given (or copied).
 */
export const describeOutput = (rig: Pick<Rig, "read">) => (command: FakeCommand, _output: string, index: number): FakeMedia | undefined => {
  const args = command.args
  const outputs = outputsOf(args)
  const own = outputs[index]
  if (own === undefined) return undefined
  const before = args.slice(index === 0 ? 0 : outputs[index - 1]!.at + 3, own.at)
  const graph = option(args, "-filter_complex") ?? option(args, "-vf") ?? ""
  const sizes = [...graph.matchAll(/(?:s=(\d+)x(\d+))|(?:(?:pad|scale)=(\d+):(\d+))/g)].map((m) =>
    m[1] !== undefined ? [Number(m[1]), Number(m[2])] : [Number(m[3]), Number(m[4])]
  )
  const inputs = command.inputs.map((i) => rig.read(i)).filter((m): m is FakeMedia => m !== undefined)
  const inputVideo = inputs.flatMap((m) => m.streams.filter((s) => s.type === "video"))
  const [width, height] = sizes[sizes.length - 1] ?? [inputVideo[0]?.width ?? 16, inputVideo[0]?.height ?? 16]
  if (own.format === "image2") {
    return { durationSec: 0, formatName: "png_pipe", streams: [{ type: "video", codec: "png", width, height, pixelFormat: "rgb24" }] }
  }
  const fps = Number(option(before, "-r") ?? inputVideo[0]?.fps ?? 24)
  const trims = [...graph.matchAll(/trim=end_frame=(\d+),setpts=PTS-STARTPTS\[v\]/g)]
  const frames = Number(
    option(before, "-frames:v") ??
      trims[trims.length - 1]?.[1] ??
      inputVideo.reduce((n, s) => n + (s.frames ?? Math.round((s.durationSec ?? 0) * (s.fps ?? fps))), 0)
  )
  const streams: Array<StreamInfo> = [video({ width, height, fps, frames })]
  const copies = option(before, "-c") === "copy"
  if (option(before, "-c:a") !== undefined || (copies && inputs.some((m) => m.streams.some((s) => s.type === "audio")))) {
    streams.push(audio(frames / fps, { sampleRate: Number(option(before, "-ar") ?? 48000), channels: Number(option(before, "-ac") ?? 2) }))
  }
  return { durationSec: frames / fps, formatName: "mov,mp4,m4a,3gp,3g2,mj2", streams }
}

/** Inputs of a concat list are the list's `file '...'` lines. */
const listInputs = (args: ReadonlyArray<string>, inputs: ReadonlyArray<string>): Array<string> => {
  if (option(args, "-f") !== "concat" && !args.includes("concat")) return [...inputs]
  return inputs.flatMap((input) => {
    let text: string
    try {
      text = fs.readFileSync(input, "utf8")
    } catch {
      return [input]
    }
    if (!text.startsWith("ffconcat")) return [input]
    return [...text.matchAll(/^file '((?:[^']|'\\'')*)'$/gm)].map((m) => m[1]!.replace(/'\\''/g, "'"))
  })
}

export const make = (options: RigOptions = {}): Rig => {
  const commands: Array<FakeCommand> = []
  const write = (file: string, media: FakeMedia) => {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
    fs.writeFileSync(file, `${MAGIC}${JSON.stringify(media)}\n`)
    return path.resolve(file)
  }
  const read = (file: string): FakeMedia | undefined => {
    try {
      const text = fs.readFileSync(file, "utf8")
      return text.startsWith(MAGIC) ? (JSON.parse(text.slice(MAGIC.length)) as FakeMedia) : undefined
    } catch {
      return undefined
    }
  }
  const rig: Rig = {
    commands,
    media: write,
    read,
    service: {
      run: (args: ReadonlyArray<string>, opts?: RunOptions): Effect.Effect<RunResult, FfmpegError> =>
        Effect.suspend(() => {
          const purpose = opts?.purpose ?? "run ffmpeg"
          const inputs = args.flatMap((a, i) => (a === "-i" && args[i + 1] !== undefined ? [args[i + 1]!] : []))
          const textFiles = args.flatMap((a) =>
            [...a.matchAll(/textfile=((?:\\.|[^:,;[\]\\])+)/g)].map((m) => {
              const file = m[1]!.replace(/\\(.)/g, "$1").replace(/\\(.)/g, "$1")
              let text = ""
              try {
                text = fs.readFileSync(file, "utf8")
              } catch {
                text = ""
              }
              return { path: file, text }
            })
          )
          const command: FakeCommand = {
            args: [...args],
            purpose,
            outputs: outputsOf(args).map((o) => o.file).filter((f) => f !== "-"),
            inputs: listInputs(args, inputs),
            textFiles
          }
          commands.push(command)
          const describe = options.describe ?? describeOutput(rig)
          return (options.onRun?.(command) ?? Effect.void).pipe(
            Effect.zipRight(
              Effect.sync(() => {
                command.outputs.forEach((output, i) => {
                  const media = describe(command, output, i)
                  if (media !== undefined) write(output, media)
                  else fs.writeFileSync(output, "")
                })
                return { stderr: "" }
              })
            )
          )
        }),
      probe: (file: string) =>
        Effect.gen(function* () {
          const absolute = path.resolve(file)
          yield* checkFile(absolute)
          const media = read(absolute)
          if (media === undefined) return yield* Effect.fail(invalid(absolute, "ffprobe cannot read it (the rig made no such media)"))
          return media
        })
    }
  }
  return rig
}
