// Makes music/bed.mp3, the example's music bed, from nothing but arithmetic: a soft pad of four chords
// (C, A minor, F, G), 4 s each, crossfaded with sin² windows that sum to one, so the 16 s loop has no seam.
// Each note is a sine with a quieter octave; the right channel is detuned by 0.2 % for width; a low-pass and
// two short echoes soften it. Two cycles are rendered and the second kept, so the echoes of the loop's end
// are already in its start and the loop point cannot be heard.
//
//   node music/make-bed.mjs            (uses @ffmpeg-installer's ffmpeg, or FFMPEG_PATH)
//
// The output is our own (no samples, no third-party audio): it is released with the project under its licence.
import { spawnSync } from "node:child_process"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const ffmpeg = process.env.FFMPEG_PATH ?? createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg").path
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), "bed.mp3")

const chords = [
  [130.81, 261.63, 329.63, 392.0], // C: C3 C4 E4 G4
  [110.0, 220.0, 261.63, 329.63], // A minor: A2 A3 C4 E4
  [87.31, 174.61, 220.0, 261.63], // F: F2 F3 A3 C4
  [98.0, 196.0, 246.94, 293.66] // G: G2 G3 B3 D4
]
const weights = [0.8, 1, 1, 0.7]
const note = (f) => `(sin(2*PI*${f.toFixed(3)}*t)+0.25*sin(4*PI*${f.toFixed(3)}*t))`
const channel = (detune) =>
  "0.24*(" +
  chords
    .map((chord, k) => {
      const u = `mod(t+18-4*${k},16)` // seconds into chord k's 8 s window, which starts 2 s before its slot
      return `if(lt(${u},8),pow(sin(PI*${u}/8),2),0)*(${chord.map((f, i) => `${note(f * detune)}*${weights[i]}`).join("+")})`
    })
    .join("+") +
  ")"

const r = spawnSync(
  ffmpeg,
  [
    "-hide_banner", "-loglevel", "error", "-y",
    "-f", "lavfi", "-i", `aevalsrc=exprs='${channel(1)}|${channel(1.002)}':s=44100:d=32`,
    "-af", "lowpass=f=1800,aecho=0.8:0.6:90|140:0.25|0.18,atrim=16:32,asetpts=N/SR/TB",
    "-c:a", "libmp3lame", "-b:a", "96k", "-fflags", "+bitexact", "-map_metadata", "-1",
    out
  ],
  { stdio: "inherit" }
)
process.exit(r.status ?? 1)
