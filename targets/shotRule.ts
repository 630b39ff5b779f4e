/**
 * The shot rule (DESIGN.md, "The job", step 3): how a sentence's narration is cut into shots.
 *
 * A new shot every `shotSec` (2 s) seconds of narration, so the picture changes at a steady pace a
 * viewer can follow. A remainder shorter than a full shot would flash by, so it is not a shot of its
 * own: the last shot takes it and lasts from `shotSec` up to just under `2 * shotSec` (2–3.99 s). A
 * sentence shorter than `shotSec` gets one shot of its own length.
 *
 *     shots = max(1, floor(d / shotSec))
 *
 * Durations come from ffprobe and from sums of floats, so a value a hair under a whole number of
 * shots (5.999999999 s) counts as that number; a value visibly under it (3.9999999 s) does not.
 *
 * Only the count feeds the prompts and clips (paid); the exact durations and frame counts belong to
 * the mux, so re-voicing a sentence that keeps its shot count re-buys no image and no clip.
 */

import { defaultShotSeconds } from "../src/Film.ts"

/** Ratio noise forgiven by `shotCount`: 5.999999999 / 2 counts as 3, 3.9999999 / 2 stays under 2. */
const epsilon = 1e-9

const check = (durationSec: number, shotSec: number): void => {
  if (!Number.isFinite(durationSec) || durationSec < 0) {
    throw new RangeError(`shot rule: duration must be a finite number of seconds >= 0, got ${durationSec}`)
  }
  if (!Number.isFinite(shotSec) || shotSec <= 0) {
    throw new RangeError(`shot rule: shot length must be a finite number of seconds > 0, got ${shotSec}`)
  }
}

/** How many shots a sentence of `durationSec` seconds gets. */
export const shotCount = (durationSec: number, shotSec = defaultShotSeconds): number => {
  check(durationSec, shotSec)
  return Math.max(1, Math.floor(durationSec / shotSec + epsilon))
}

/** Each shot's length in seconds: `shotSec` each, the last one the remainder; they add up to `durationSec`. */
export const shotDurations = (durationSec: number, shotSec = defaultShotSeconds): ReadonlyArray<number> => {
  const count = shotCount(durationSec, shotSec)
  const durations = Array.from({ length: count }, () => shotSec)
  durations[count - 1] = durationSec - (count - 1) * shotSec
  return durations
}

/**
 * Each shot's length in whole frames at `fps`. Cut points fall at `round(i * shotSec * fps)` and the
 * end at `round(durationSec * fps)`, so rounding never drifts along a sentence and the frames add up
 * to `round(durationSec * fps)`. Every shot has at least one frame (a sentence shorter than half a
 * frame still gets one).
 */
export const shotFrames = (durationSec: number, fps: number, shotSec = defaultShotSeconds): ReadonlyArray<number> => {
  if (!Number.isFinite(fps) || fps <= 0) {
    throw new RangeError(`shot rule: frame rate must be a finite number > 0, got ${fps}`)
  }
  const count = shotCount(durationSec, shotSec)
  const end = Math.round(durationSec * fps)
  if (count === 1) return [Math.max(1, end)]
  const cuts = Array.from({ length: count }, (_, i) => Math.round(i * shotSec * fps))
  cuts.push(end)
  return Array.from({ length: count }, (_, i) => Math.max(1, cuts[i + 1]! - cuts[i]!))
}
