/**
 * Loudness measurements for the music tests, with the bundled ffmpeg: the RMS level of each short window of
 * a file (`astats`, reset every window), and the mean level (power average, in dB) of a set of windows.
 */
import { spawnSync } from "node:child_process"
import { createRequire } from "node:module"

export const ffmpegPath = (): string =>
  process.env.FFMPEG_PATH ?? (createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg") as { path: string }).path

/** RMS level (dBFS) of each `windowSec` window of the file's sound, from the start; -Infinity for silence. */
export const windowLevels = (file: string, windowSec = 0.05, extra: ReadonlyArray<string> = []): Array<number> => {
  const samples = Math.round(48000 * windowSec)
  const r = spawnSync(
    ffmpegPath(),
    ["-hide_banner", "-nostdin", ...extra, "-i", file, "-vn", "-af", `aresample=48000,asetnsamples=n=${samples}:p=0,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level`, "-f", "null", "-"],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }
  )
  if (r.status !== 0) throw new Error(`ffmpeg failed measuring ${file}: ${r.stderr.slice(-2000)}`)
  return [...r.stderr.matchAll(/RMS_level=(-?inf|-?[\d.]+)/g)].map((m) => (m[1]!.endsWith("inf") ? -Infinity : Number(m[1])))
}

/** The mean level of windows, in dB: the average of their powers (silence counts as silence). */
export const meanDb = (levels: ReadonlyArray<number>): number =>
  10 * Math.log10(levels.reduce((sum, db) => sum + (db === -Infinity ? 0 : Math.pow(10, db / 10)), 0) / Math.max(1, levels.length))

/** Integrated loudness (LUFS) of a file, from `ebur128`. */
export const integratedLufs = (file: string): number => {
  const r = spawnSync(ffmpegPath(), ["-hide_banner", "-nostdin", "-i", file, "-vn", "-af", "ebur128", "-f", "null", "-"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
  const m = /Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+) LUFS/.exec(r.stderr)
  if (!m) throw new Error(`no ebur128 summary for ${file}: ${r.stderr.slice(-1000)}`)
  return Number(m[1])
}
