/**
 * How the draft renders encode, so that the same inputs give the same bytes, run after run and machine after
 * machine: a remade clip then has the same hash, and early cutoff keeps everything downstream.
 *
 * Why each flag (each was seen to change the bytes of a Ken Burns clip, see test/media/KenBurns.test.ts):
 * - `-threads`: libx264 sizes its thread pool from the CPUs it may use (1.5 per core) when left on auto, and
 *   the count changes its decisions and is written into the stream (the SEI "threads=3"): a clip made under
 *   `taskset -c 0`, in a container with another CPU quota, or on another machine, differs. A fixed count keeps
 *   it. One thread per encode: the draft's `ffmpeg` pool already runs one job per core, so jobs do not fight.
 * - `-filter_complex_threads 1`: slice threads split filters by rows; `geq`'s `st()`/`ld()` registers are
 *   shared between slices (a race that scribbles on the picture), and row splits depend on the CPU count.
 * - `-fflags +bitexact`, `-flags:v +bitexact`, `-map_metadata -1`: no muxer/encoder version strings or
 *   inherited tags in the file, so a different ffmpeg build that encodes the same pictures writes the same file.
 */

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
