/**
 * The music bed (`music` in the config, src/media/Music.ts, the final cut in targets/final.ts), measured from
 * outside on a draft film narrated by espeak:
 * - the music under speech sits at least 10 dB below its level in the pauses (astats, 50 ms windows, classed
 *   by the voice's own level in the film without music);
 * - the film's duration is unchanged (within a frame), its picture copied (same packets), the voice's level
 *   unchanged, the bed faded in and out and looped when shorter than the film, and `out/sentences/` voice-only;
 * - changing `music.volume` rebuilds `final` only, and pays for nothing (the cloud profile, requests counted at
 *   the fake providers);
 * - a wrong `music` setting is one line naming the field, exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { Ffmpeg } from "../../src/media/Ffmpeg.ts"
import * as Music from "../../src/media/Music.ts"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { ffprobe, makeWorkspace, repoRoot, runBuild, smallConfig } from "../e2e/harness.ts"
import { storyshot } from "./run.ts"
import { ffmpegPath, meanDb, windowLevels } from "./loudness.ts"

const story = [
  "The lighthouse keeper woke before dawn.",
  "She climbed the spiral stairs with a lantern.",
  "Out on the water, a small boat was drifting towards the rocks.",
  "She rang the bell, and the boat turned just in time."
].join("\n")

const bed = path.join(repoRoot, "music", "bed.mp3")
const fps = 12
const withMusic = (music: string, extra = "") => smallConfig(`music: ${music}${extra ? `,\n  ${extra}` : ""}`)

const durations = (file: string) => {
  const p = ffprobe(file)
  return {
    format: Number(p.format.duration),
    video: Number(p.streams.find((s) => s.codec_type === "video")!.duration),
    audio: Number(p.streams.find((s) => s.codec_type === "audio")!.duration)
  }
}

describe("music bed (draft film, espeak narration)", () => {
  it("ducks ≥ 10 dB under speech, keeps the film's length and the voice, leaves out/sentences/ voice-only", async () => {
    const dir = makeWorkspace(story)
    fs.copyFileSync(bed, path.join(dir, "bed.mp3"))
    const plain = await runBuild(dir)
    expect(plain.summary.failed).toEqual([])
    const voiceOnly = path.join(dir, "voice-only.mp4")
    fs.copyFileSync(path.join(dir, "out", "final.mp4"), voiceOnly)

    fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), withMusic(`{ file: "bed.mp3", volume: -18, duck: true, fadeIn: 1, fadeOut: 2 }`))
    const mixed = await runBuild(dir)
    expect(mixed.summary.failed).toEqual([])
    expect(mixed.summary.built).toEqual(["final"])
    const film = path.join(dir, "out", "final.mp4")

    // The length: the picture is copied (same frames), the sound ends within a frame of where it did.
    const before = durations(voiceOnly)
    const after = durations(film)
    expect(after.video).toBe(before.video)
    expect(Math.abs(after.format - before.format)).toBeLessThan(1 / fps)
    expect(Math.abs(after.audio - before.audio)).toBeLessThan(1 / fps)

    // The ducking, measured on the bed as the mix lays it (the same graph, the bed alone), window by window,
    // where the voice speaks and where it pauses (the voice's own level, from the film without music).
    const ff = (e: Effect.Effect<any, any, Ffmpeg>) => Effect.runPromise(e.pipe(Effect.provide(Ffmpeg.layer)))
    const scratch = fs.mkdtempSync(path.join(dir, "measure-"))
    const pauses: ReadonlyArray<Music.Pause> = await ff(Music.pauses(voiceOnly, scratch, before.video))
    const settings: Music.MusicSettings = { volumeDb: -18, duckDb: -18, fadeInSec: 1, fadeOutSec: 2 }
    fs.writeFileSync(path.join(scratch, "bed.graph"), Music.graph({ durationSec: before.video, pauses, settings, bedOnly: true }))
    const bedAlone = path.join(scratch, "bed.wav")
    const r = spawnSync(ffmpegPath(), ["-hide_banner", "-loglevel", "error", "-y", ...Music.inputs(voiceOnly, bed), "-filter_complex_script", path.join(scratch, "bed.graph"), "-map", "[aout]", "-c:a", "pcm_s16le", bedAlone], { encoding: "utf8" })
    expect(r.stderr).toBe("")
    const window = 0.05
    const voice = windowLevels(voiceOnly, window)
    const music = windowLevels(bedAlone, window)
    const mix = windowLevels(film, window)
    const under: Array<number> = []
    const gaps: Array<number> = []
    const speechInMix: Array<number> = []
    const speechAlone: Array<number> = []
    const gapsInMix: Array<number> = []
    voice.forEach((v, i) => {
      const t = i * window
      // Leave out the fades, which are not the ducking.
      if (t < settings.fadeInSec || t + window > before.video - settings.fadeOutSec || i >= music.length) return
      if (v > -40) {
        under.push(music[i]!)
        speechAlone.push(v)
        speechInMix.push(mix[i]!)
      } else if (v < -60) {
        gaps.push(music[i]!)
        gapsInMix.push(mix[i]!)
      }
    })
    const underDb = meanDb(under)
    const gapsDb = meanDb(gaps)
    console.log(
      `music: ${pauses.length} pauses found; bed under speech ${underDb.toFixed(1)} dBFS (${under.length} windows of 50 ms), ` +
        `in the pauses ${gapsDb.toFixed(1)} dBFS (${gaps.length} windows): ${(gapsDb - underDb).toFixed(1)} dB of ducking; ` +
        `voice ${meanDb(speechAlone).toFixed(1)} dBFS alone, ${meanDb(speechInMix).toFixed(1)} in the mix; pauses ${meanDb(gapsInMix).toFixed(1)} dBFS in the mix; ` +
        `film ${before.format.toFixed(3)} s → ${after.format.toFixed(3)} s (video ${before.video.toFixed(3)} → ${after.video.toFixed(3)})`
    )
    expect(pauses.length).toBeGreaterThanOrEqual(3)
    expect(under.length).toBeGreaterThan(40)
    expect(gaps.length).toBeGreaterThan(5)
    expect(gapsDb - underDb).toBeGreaterThanOrEqual(10)
    // The voice keeps its level in the mix; the pauses are no longer silent.
    expect(Math.abs(meanDb(speechInMix) - meanDb(speechAlone))).toBeLessThan(1)
    expect(meanDb(gapsInMix)).toBeGreaterThan(-50)
    // Faded in and out: the bed starts and ends in silence.
    expect(music[0]!).toBeLessThan(-60)
    expect(music.at(-1)!).toBeLessThan(-60)
    // The picture is copied, not encoded again: its packets are the same bytes.
    const pictureMd5 = (file: string) =>
      spawnSync(ffmpegPath(), ["-hide_banner", "-loglevel", "error", "-i", file, "-map", "0:v", "-c", "copy", "-f", "md5", "-"], { encoding: "utf8" }).stdout.trim()
    expect(pictureMd5(film)).toMatch(/^MD5=[0-9a-f]{32}$/)
    expect(pictureMd5(film)).toBe(pictureMd5(voiceOnly))
    // A bed shorter than the film is looped: a 3 s cut of it still plays in the pauses after 3 s.
    const short = path.join(scratch, "short.wav")
    spawnSync(ffmpegPath(), ["-hide_banner", "-loglevel", "error", "-y", "-i", bed, "-t", "3", short])
    fs.writeFileSync(path.join(scratch, "short.graph"), Music.graph({ durationSec: before.video, pauses, settings, bedOnly: true }))
    const looped = path.join(scratch, "looped.wav")
    spawnSync(ffmpegPath(), ["-hide_banner", "-loglevel", "error", "-y", ...Music.inputs(voiceOnly, short), "-filter_complex_script", path.join(scratch, "short.graph"), "-map", "[aout]", "-c:a", "pcm_s16le", looped])
    const late = windowLevels(looped, window).filter((_, i) => i * window > 3.5 && i * window < before.video - settings.fadeOutSec && voice[i]! < -60)
    expect(late.length).toBeGreaterThan(3)
    expect(meanDb(late)).toBeGreaterThan(-45)
    expect(Math.abs(Number(ffprobe(looped).streams.find((x) => x.codec_type === "audio")!.duration) - before.video)).toBeLessThan(1 / fps)
    // The sentence files are the voice alone: their pauses are still silent.
    const sentence = windowLevels(path.join(dir, "out", "sentences", "001.mp4"), window)
    expect(Math.min(...sentence)).toBeLessThan(-80)
    expect(Math.min(...gapsInMix)).toBeGreaterThan(-70)
  })

  it("a wrong music setting is one line that names the field, exit 2", async () => {
    const dir = makeWorkspace(story)
    fs.copyFileSync(bed, path.join(dir, "bed.mp3"))
    const cases: Array<[string, RegExp]> = [
      [`{ file: "missing.mp3" }`, /^storyshot: music\.file: missing\.mp3 does not exist \(the path is relative to the workspace, .*\): put the music file there or fix the path$/],
      [`{ file: "bed.mp3", volume: "loud" }`, /^storyshot: storyshot\.config\.mjs: field "music\.volume": Expected number, actual "loud"$/],
      [`{ file: "bed.mp3", volume: 40 }`, /^storyshot: storyshot\.config\.mjs: field "music\.volume": Expected a number between -60 and 12, actual 40$/],
      [`{ file: "bed.mp3", duck: 6 }`, /^storyshot: storyshot\.config\.mjs: field "music\.duck": Expected true, false or a number of dB between -40 and -3, actual 6$/],
      [`{ file: "bed.mp3", duck: "yes" }`, /^storyshot: storyshot\.config\.mjs: field "music\.duck": Expected boolean \| number, actual "yes"$/],
      [`{ file: "bed.mp3", fadeIn: -1 }`, /^storyshot: storyshot\.config\.mjs: field "music\.fadeIn": Expected a number between 0 and 30, actual -1$/],
      [`{ volume: -10 }`, /^storyshot: storyshot\.config\.mjs: field "music\.file": is missing$/],
      [`{ file: "bed.mp3", volum: -10 }`, /^storyshot: storyshot\.config\.mjs: unknown field "music\.volum" \(check its spelling/]
    ]
    for (const [music, message] of cases) {
      fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), withMusic(music))
      const r = await storyshot(["build", "--dry-run"], { cwd: dir })
      expect(r.code, music).toBe(2)
      expect(r.stderr.trim().split("\n"), music).toHaveLength(1)
      expect(r.stderr.trim(), music).toMatch(message)
    }
  })
})

describe("music bed (cloud profile, fake providers)", () => {
  let fakes: Fakes
  beforeAll(async () => {
    fakes = await startFakes()
  })
  afterAll(() => fakes.close())

  it("changing music.volume rebuilds final only, with 0 paid requests; music off finds the plain cut again", async () => {
    const cloud = (music?: string) => smallConfig(`profile: "cloud", voice: { fal: "Calm_Woman" }${music ? `,\n  music: ${music}` : ""}`)
    const dir = makeWorkspace(story, { config: cloud() })
    fs.copyFileSync(bed, path.join(dir, "bed.mp3"))
    fakes.reset()
    const first = await runBuild(dir, {}, fakes.env)
    expect(first.summary.failed).toEqual([])
    const paidFirst = fakes.counts().total
    expect(paidFirst).toBeGreaterThan(0)
    const plain = fs.readFileSync(path.join(dir, "out", "final.mp4"))

    fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), cloud(`{ file: "bed.mp3", volume: -18 }`))
    fakes.reset()
    const added = await runBuild(dir, {}, fakes.env)
    expect(added.summary.built).toEqual(["final"])
    expect(fakes.counts().total).toBe(0)
    expect(added.summary.cost).toEqual({ usd: 0, known: true })
    const loud = fs.readFileSync(path.join(dir, "out", "final.mp4"))

    fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), cloud(`{ file: "bed.mp3", volume: -24 }`))
    fakes.reset()
    const quieter = await runBuild(dir, {}, fakes.env)
    console.log(
      `music.volume -18 → -24: built ${JSON.stringify(quieter.summary.built)}, ${quieter.summary.cached.length} cached, ` +
        `${fakes.counts().total} requests to the providers, spent $${quieter.summary.cost.usd}`
    )
    expect(quieter.summary.built).toEqual(["final"])
    expect(fakes.counts().total).toBe(0)
    expect(quieter.summary.cost).toEqual({ usd: 0, known: true })
    expect(fs.readFileSync(path.join(dir, "out", "final.mp4")).equals(loud)).toBe(false)

    // Taking the music out finds the stored plain cut: nothing is built at all.
    fs.writeFileSync(path.join(dir, "storyshot.config.mjs"), cloud())
    fakes.reset()
    const off = await runBuild(dir, {}, fakes.env)
    expect(off.summary.built).toEqual([])
    expect(fakes.counts().total).toBe(0)
    expect(fs.readFileSync(path.join(dir, "out", "final.mp4")).equals(plain)).toBe(true)
  })
})
