/**
 * What a shot is, wherever it is written (the draft planner, an LLM's shot list) or drawn (Ken Burns):
 * a still-image prompt, a framing, and one of the camera moves the draft renderer and the shot-list schema
 * both know. One list, so the schema an LLM must follow and the moves ffmpeg can draw never drift apart.
 */
export const cameraMoves = ["push-in", "pull-out", "pan-left", "pan-right", "tilt-up", "tilt-down"] as const
export type CameraMove = (typeof cameraMoves)[number]

export interface Shot {
  readonly prompt: string
  readonly shotType: string
  readonly camera: CameraMove
}
