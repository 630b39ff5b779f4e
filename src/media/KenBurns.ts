/**
 * Ken Burns motion for the draft profile: the camera moves over a still picture for exactly `frames` frames,
 * and the card's lettering, when there is one, is laid over every frame unmoved. The picture moved is never
 * smaller than the frame (the zoom stays ≥ 1), so the frame is always full; the words stay in the title-safe
 * area where the card put them.
 *
 * Surprises:
 * - zoompan rounds x/y to whole input pixels, which makes slow pans judder; scaling the picture up first makes
 *   each step a fraction of an output pixel.
 * - The lettering is a single PNG frame; overlay repeats its last frame (eof_action=repeat) for the whole clip.
 */
import { Effect } from "effect"
import * as path from "node:path"
import { cameraMoves, type CameraMove } from "../Shot.ts"
import * as Encode from "./Encode.ts"
import { Ffmpeg } from "./Ffmpeg.ts"
import { requireFrame, writeAtomically } from "./Files.ts"

export { cameraMoves, type CameraMove }

export interface KenBurnsOptions {
  /** The picture the camera moves over (a card's plate, or any image). */
  readonly image: string
  /** A transparent PNG of the frame's size laid over every frame, unmoved (a card's lettering). */
  readonly lettering?: string | undefined
  readonly out: string
  readonly frames: number
  readonly fps: number
  readonly width: number
  readonly height: number
  readonly camera: CameraMove
  /** A keyframe here too (0-based frame; besides the first): where the mux's transition into the clip ends,
   *  so the mux can copy the rest of the clip instead of encoding it again (Assemble.muxSentence). */
  readonly keyframe?: number | undefined
}

const ZOOM = 0.25

/** zoompan expressions for a move; `p` runs 0 → 1 over the clip. */
const cameraExpressions = (camera: CameraMove, frames: number) => {
  const p = `(on/${Math.max(1, frames - 1)})`
  const centreX = "(iw-iw/zoom)/2"
  const centreY = "(ih-ih/zoom)/2"
  const panZoom = `${1 + ZOOM * 0.8}`
  switch (camera) {
    case "push-in":
      return { z: `1+${ZOOM}*${p}`, x: centreX, y: centreY }
    case "pull-out":
      return { z: `${1 + ZOOM}-${ZOOM}*${p}`, x: centreX, y: centreY }
    case "pan-left":
      return { z: panZoom, x: `(iw-iw/zoom)*(1-${p})`, y: centreY }
    case "pan-right":
      return { z: panZoom, x: `(iw-iw/zoom)*${p}`, y: centreY }
    case "tilt-up":
      return { z: panZoom, x: centreX, y: `(ih-ih/zoom)*(1-${p})` }
    case "tilt-down":
      return { z: panZoom, x: centreX, y: `(ih-ih/zoom)*${p}` }
  }
}

/** The filtergraph of a move: `[v]` is the clip. Input 0 is the picture, input 1 the lettering (if any). */
export const graph = (opts: Omit<KenBurnsOptions, "image" | "out">): string => {
  const { width: w, height: h, frames, fps } = opts
  // Upscale so zoompan's whole-pixel steps are sub-pixel in the output; capped so large frames stay fast.
  const factor = Math.max(1, Math.min(4, Math.floor(4096 / w)))
  const { z, x, y } = cameraExpressions(opts.camera, frames)
  // In yuv420p from the start: zoompan scales a window of the big picture every frame, and half the bytes of
  // rgb24 make that about four times faster.
  // A pan moves only across and a tilt only up or down: the other axis needs no fractions of a pixel, and
  // zoompan scales every frame from fewer pixels (a pan's window is 4× smaller: about half a clip's CPU).
  const across = opts.camera === "tilt-up" || opts.camera === "tilt-down" ? 1 : factor
  const down = opts.camera === "pan-left" || opts.camera === "pan-right" ? 1 : factor
  const moving = [
    `[0:v]format=yuv420p,scale=${w * factor}:${h * factor}:force_original_aspect_ratio=increase`,
    `crop=${w * factor}:${h * factor}`,
    ...(across !== factor || down !== factor ? [`scale=${w * across}:${h * down}`] : []),
    "setsar=1",
    `zoompan=z=${z}:x=${x}:y=${y}:d=${frames}:s=${w}x${h}:fps=${fps}`
  ].join(",")
  if (opts.lettering === undefined) return `${moving},format=yuv420p[v]`
  return `${moving}[moving];[1:v]format=yuva420p[lettering];[moving][lettering]overlay=0:0:format=yuv420,format=yuv420p[v]`
}

/** An H.264 (yuv420p) MP4 of exactly `frames` frames: the camera moving over a still picture. */
export const renderKenBurns = Effect.fn("KenBurns.render")(function* (opts: KenBurnsOptions) {
  yield* requireFrame("KenBurns.render", opts.width, opts.height, opts.fps)
  if (!Number.isInteger(opts.frames) || opts.frames < 1) {
    return yield* Effect.dieMessage(`KenBurns.render: frames must be a positive integer, got ${opts.frames}`)
  }
  if (!cameraMoves.includes(opts.camera)) {
    return yield* Effect.dieMessage(`KenBurns.render: unknown camera move ${String(opts.camera)}`)
  }
  const ff = yield* Ffmpeg
  return yield* writeAtomically(opts.out, (tmp) =>
    ff.run(
      [
        ...Encode.graphThreads,
        "-i", path.resolve(opts.image),
        ...(opts.lettering !== undefined ? ["-i", path.resolve(opts.lettering)] : []),
        "-filter_complex", graph(opts),
        "-map", "[v]",
        "-frames:v", String(opts.frames),
        "-r", String(opts.fps),
        ...(opts.keyframe !== undefined && opts.keyframe > 0 && opts.keyframe < opts.frames
          ? ["-force_key_frames", `expr:eq(n,${opts.keyframe})`]
          : []),
        ...Encode.h264,
        ...Encode.mp4(tmp)
      ],
      { purpose: `animate ${opts.image} (${opts.camera}, ${opts.frames} frames)` }
    )
  )
})
