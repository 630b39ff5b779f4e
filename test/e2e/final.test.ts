/// <reference lib="dom" />
// (the callbacks given to page.evaluate run in the browser)
/**
 * The final cut as a person gets it, with the default join (real draft build, 160x90 @ 12 fps): out/final.mp4
 * lasts its sentences to the frame; its sound lasts its picture for every tool, whether it reads MP4 edit lists
 * or not (ffmpeg's decoder, a `-c copy` remux, a decode that ignores edit lists, Chromium's decodeAudioData);
 * each sentence is heard where its picture is; it decodes without an error and plays to its end in Chromium's
 * <video>; it is made again from the store with the same bytes; an edit of one sentence rebuilds that sentence
 * and the cut, nothing else; `STORYSHOT_FINAL_JOIN=ffmpeg` joins with ffmpeg's concat instead.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { hasChromium, launch } from "./browser.ts"
import { ffprobe, makeWorkspace, runBuild } from "./harness.ts"

const FPS = 12
const RATE = 48000
/** One picture frame, in samples of sound. */
const FRAME = RATE / FPS

const story = [
  "The keeper climbed the stairs.",
  "Far below, the sea rolled against the rocks, grey and slow, as the light turned above it.",
  "Then the lamp came alive."
]

let dir = ""
beforeAll(async () => {
  dir = makeWorkspace(story.join("\n\n"))
  const first = await runBuild(dir)
  expect(first.summary.failed).toEqual([])
}, 180_000)
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

const ffmpeg = (): string => process.env.FFMPEG_PATH ?? (createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg") as { path: string }).path
const final = () => path.join(dir, "out", "final.mp4")
const sentenceFiles = () =>
  fs
    .readdirSync(path.join(dir, "out", "sentences"))
    .sort()
    .map((f) => path.join(dir, "out", "sentences", f))
const stream = (file: string, type: "video" | "audio") => ffprobe(file).streams.find((s) => s.codec_type === type)!
const pictureSeconds = (file: string) => Number(stream(file, "video").duration)

/** The sound ffmpeg decodes from a file (mono, 48 kHz), with the options given before the input. */
const sound = (file: string, before: ReadonlyArray<string> = []): Int16Array => {
  const r = spawnSync(ffmpeg(), ["-v", "error", ...before, "-i", file, "-map", "0:a", "-ac", "1", "-ar", String(RATE), "-f", "s16le", "-"], {
    maxBuffer: 1 << 28
  })
  expect(r.status).toBe(0)
  return new Int16Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length / 2)
}

/** Where `part`'s sound is found in `film` near `at` (in samples, ± `search`): the offset with the least difference. */
const placeOf = (film: Int16Array, part: Int16Array, at: number, search = 3 * 1024) => {
  // Half a second from the part's middle: away from the joins, where both decodes are the same.
  const from = Math.max(0, Math.floor(part.length / 2) - RATE / 4)
  const n = Math.min(RATE / 2, part.length - from)
  let best = { offset: 0, error: Infinity }
  for (let offset = -search; offset <= search; offset++) {
    let error = 0
    const base = at + from + offset
    if (base < 0 || base + n > film.length) continue
    for (let i = 0; i < n && error < best.error; i++) {
      const d = film[base + i]! - part[from + i]!
      error += d * d
    }
    if (error < best.error) best = { offset, error }
  }
  return best.offset
}

/** Plays the film in headless Chromium, fast, to its end: what the element reports, and decodeAudioData's length. */
const play = async (file: string) => {
  const page = path.join(path.dirname(file), "play.html")
  fs.writeFileSync(page, `<!doctype html><video id="v" src="${path.basename(file)}" muted></video>`)
  const { context, close } = await launch()
  try {
    const tab = await context.newPage()
    await tab.goto(`file://${page}`)
    const element = await tab.evaluate(async () => {
      const v = document.getElementById("v") as HTMLVideoElement
      await new Promise((ok, no) => {
        if (v.readyState >= 1) ok(0)
        v.onloadedmetadata = ok
        v.onerror = () => no(new Error(`media error ${v.error?.code}: ${v.error?.message}`))
      })
      v.playbackRate = 4
      await v.play()
      await new Promise((ok) => {
        v.onended = ok
        setTimeout(ok, 30_000)
      })
      return {
        duration: v.duration,
        ended: v.ended,
        width: v.videoWidth,
        height: v.videoHeight,
        frames: (v as unknown as { webkitDecodedFrameCount: number }).webkitDecodedFrameCount,
        audioBytes: (v as unknown as { webkitAudioDecodedByteCount: number }).webkitAudioDecodedByteCount,
        error: v.error?.code ?? null
      }
    })
    // The whole file handed to the Web Audio decoder, which reads the sound's packets as they are.
    const decodedSeconds = await tab.evaluate(async (base64: string) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
      const audio = await new OfflineAudioContext(1, 48000, 48000).decodeAudioData(bytes.buffer)
      return audio.duration
    }, fs.readFileSync(file).toString("base64"))
    return { ...element, decodedSeconds }
  } finally {
    await close()
    fs.rmSync(page, { force: true })
  }
}

/** Everything a user's tools see of the sound's length, against the picture's: within one frame each. */
const expectSoundLastsPicture = (file: string) => {
  const picture = pictureSeconds(file) * RATE
  const decoded = sound(file).length
  expect(Math.abs(decoded - picture)).toBeLessThanOrEqual(FRAME)
  // A decoder that ignores edit lists: at most the first part's priming and one frame of padding more.
  expect(Math.abs(sound(file, ["-ignore_editlist", "1"]).length - picture)).toBeLessThanOrEqual(FRAME)
  // A plain remux, as a user (or an editor's import) would make one.
  const copy = path.join(path.dirname(file), "remux.mp4")
  const remux = spawnSync(ffmpeg(), ["-v", "error", "-y", "-i", file, "-c", "copy", copy], { encoding: "utf8" })
  expect(remux.status).toBe(0)
  try {
    expect(Math.abs(sound(copy).length - decoded)).toBeLessThanOrEqual(FRAME)
    expect(Number(stream(copy, "video").nb_frames)).toBe(Number(stream(file, "video").nb_frames))
  } finally {
    fs.rmSync(copy, { force: true })
  }
}

describe("the final cut (default join)", () => {
  it("lasts its sentences, to the frame: every picture once, sound and picture the same length", () => {
    const v = stream(final(), "video")
    const a = stream(final(), "audio")
    const parts = sentenceFiles()
    expect(Number(v.nb_frames)).toBe(parts.reduce((n, f) => n + Number(stream(f, "video").nb_frames), 0))
    const sum = parts.reduce((acc, f) => acc + pictureSeconds(f), 0)
    expect(Math.abs(Number(v.duration) - sum)).toBeLessThanOrEqual(1 / FPS)
    expect(Math.abs(Number(a.duration) - Number(v.duration))).toBeLessThan(0.001)
  })

  it("its sound lasts its picture for tools with or without edit lists, and after a -c copy remux; it decodes without an error", () => {
    expectSoundLastsPicture(final())
    const decode = spawnSync(ffmpeg(), ["-v", "error", "-xerror", "-i", final(), "-f", "null", "-"], { encoding: "utf8" })
    expect(decode.status).toBe(0)
    expect(decode.stderr).toBe("")
  })

  it("each sentence is heard where its picture starts, within one AAC frame (no drift)", () => {
    const film = sound(final())
    let at = 0
    for (const part of sentenceFiles()) {
      // Half a frame (512 samples) for all but the last sentence, which may start up to a frame late.
      expect(Math.abs(placeOf(film, sound(part), at))).toBeLessThanOrEqual(1024)
      at += Math.round(pictureSeconds(part) * RATE)
    }
  })

  it.skipIf(!hasChromium())("plays to its end in Chromium's <video>, picture and sound; Web Audio decodes the picture's length of sound", async () => {
    const r = await play(final())
    const v = stream(final(), "video")
    expect(r.error).toBeNull()
    expect(r.ended).toBe(true)
    expect(r.width).toBe(160)
    expect(r.height).toBe(90)
    expect(r.duration).toBeCloseTo(pictureSeconds(final()), 2)
    expect(r.frames).toBeGreaterThanOrEqual(Math.floor(Number(v.nb_frames) * 0.9))
    expect(r.audioBytes).toBeGreaterThan(0)
    expect(Math.abs(r.decodedSeconds - pictureSeconds(final()))).toBeLessThanOrEqual(1 / FPS)
  }, 60_000)

  it("is made again from the store without building anything, byte for byte", async () => {
    const before = fs.readFileSync(final())
    fs.rmSync(path.join(dir, "out"), { recursive: true, force: true })
    const again = await runBuild(dir)
    expect(again.summary.built).toEqual([])
    expect(fs.readFileSync(final()).equals(before)).toBe(true)
  }, 120_000)

  it("an edit of one sentence rebuilds that sentence and the cut; the film still plays and keeps its sound on its picture", async () => {
    fs.writeFileSync(path.join(dir, "transcript.txt"), [story[0], story[1], "Then the lamp came alive at last."].join("\n\n"))
    const edit = await runBuild(dir)
    expect(edit.summary.failed).toEqual([])
    const built = new Set(edit.summary.built)
    expect(built.has("final")).toBe(true)
    expect(built.has("sentence:3:mux")).toBe(true)
    expect([...built].filter((id) => /^sentence:[12]:/.test(id))).toEqual([])
    const sum = sentenceFiles().reduce((acc, f) => acc + pictureSeconds(f), 0)
    expect(Math.abs(pictureSeconds(final()) - sum)).toBeLessThanOrEqual(1 / FPS)
    expectSoundLastsPicture(final())
    if (hasChromium()) expect((await play(final())).ended).toBe(true)
  }, 180_000)

  it("STORYSHOT_FINAL_JOIN=ffmpeg joins with ffmpeg's concat: only the cut is made again, and switching back costs nothing", async () => {
    const tables = fs.readFileSync(final())
    const concat = await runBuild(dir, {}, { STORYSHOT_FINAL_JOIN: "ffmpeg" })
    expect(concat.summary.built).toEqual(["final"])
    expect(fs.readFileSync(final()).equals(tables)).toBe(false)
    const sum = sentenceFiles().reduce((acc, f) => acc + pictureSeconds(f), 0)
    expect(Math.abs(pictureSeconds(final()) - sum)).toBeLessThanOrEqual(1 / FPS)
    const back = await runBuild(dir)
    expect(back.summary.built).toEqual([])
    expect(fs.readFileSync(final()).equals(tables)).toBe(true)
  }, 180_000)
})
