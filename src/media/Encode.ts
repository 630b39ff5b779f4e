/**
 * How the draft renders encode, so that the same inputs give the same bytes, run after run and machine after
 * machine: a remade clip then has the same hash, and early cutoff keeps everything downstream.
 *
 * Why each flag:
 * - `-threads 1`: libx264 on auto sizes its thread pool from the CPUs it may use (1.5 per core), and the count
 *   changes the stream (at least its SEI, "threads=3"): the same clip made with one CPU available (taskset, a
 *   container's quota, another machine) had other bytes than with two (test/media/KenBurns.test.ts). One
 *   thread per encode: the draft's `ffmpeg` pool already runs one job per core, so jobs do not fight either.
 * - `-filter_complex_threads 1`: slice threads split filters by rows; `geq`'s `st()`/`ld()` registers are
 *   shared between slices (a race that scribbles streaks on a card's picture), and row splits follow the CPUs.
 * - `-fflags +bitexact`, `-flags:v +bitexact`, `-map_metadata -1`: no muxer or encoder version strings and no
 *   inherited tags in the file, so nothing but the pictures and the sound decides the bytes.
 * - Decoders (`-threads` before an input) take the cores the machine has over the jobs the `ffmpeg` pool runs
 *   at once: by default one job per core, so one decoding thread each. On auto, each H.264 decoder started a
 *   thread per core, and two muxes on two cores ran eight threads that fought for them. Decoding threads do
 *   not change what is decoded, so the output stays byte-identical.
 */
import * as os from "node:os"

let decoders = 1

/**
 * How many ffmpeg jobs run at once (the `ffmpeg` pool's size): each decoder gets its share of the cores.
 * Called by the build before it starts; the default assumes one job per core.
 */
export const sizeFor = (jobs: number) => {
  const cores = Math.max(1, typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length)
  decoders = Math.max(1, Math.floor(cores / Math.max(1, Math.floor(jobs))))
}

/** Goes before each input that is decoded (a clip): its decoder's threads. */
export const inputThreads = (): ReadonlyArray<string> => ["-threads", String(decoders)]

/** Goes before the first input: the filtergraph runs in one thread. */
export const graphThreads: ReadonlyArray<string> = ["-filter_complex_threads", "1"]

/** H.264 for draft clips and film parts (yuv420p, one encoder thread, no version strings). */
export const h264: ReadonlyArray<string> = [
  "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-threads", "1", "-flags:v", "+bitexact"
]

/** The container: MP4 with its index up front, no tags, no version string. */
export const mp4 = (out: string): ReadonlyArray<string> => [
  "-map_metadata", "-1", "-fflags", "+bitexact", "-movflags", "+faststart", "-f", "mp4", out
]

export const SAMPLE_RATE = 48000

/** AAC 48 kHz stereo, the same in every film part so the final concat can copy streams. */
export const aac: ReadonlyArray<string> = [
  "-c:a", "aac", "-b:a", "128k", "-ar", String(SAMPLE_RATE), "-ac", "2", "-flags:a", "+bitexact"
]
