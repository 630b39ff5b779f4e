/**
 * The film's concurrency pools, their default sizes, and how long each stage typically takes. The engine
 * only knows pools by name; which ones exist is the film's business (the rules in `targets/` name them), so
 * their defaults live here. `pools` in storyshot.config.ts overrides any of them.
 *
 *   local    small pure-JS nodes (shot counts and timing, the shot planner, subtitles, the storyboard page):
 *            milliseconds each, so they never wait behind heavy work
 *   espeak   offline narration, one WASM worker thread per core (src/providers/espeak/)
 *   ffmpeg   cards, Ken Burns clips, muxes and the final cut: one job per core, each with one thread
 *            (src/media/Encode.ts), so two jobs never fight over a core
 *   transfer the nodes that follow a provider's request (fal's narrations and clips: upload, wait, download,
 *            measure). Each holds one of these throughout and a `fal` slot only while fal works on the request
 *            (submit → COMPLETED), an ffmpeg slot only to measure; so this pool is wide: a node waiting here
 *            for a `fal` or an ffmpeg slot must never keep the next request from its own (at 8, the 40-sentence
 *            cloud build's narrations held all eight while they waited for ffmpeg, and fal sat idle for 30 s)
 *   fal, openai, openrouter   the providers' rate limits (their defaults are in src/Config.ts)
 */
import * as os from "node:os"
import type { NodeSpec } from "./engine/Node.ts"

export const cores = (): number => Math.max(1, typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length)

/** Default pool sizes: local media work by cores, providers by what their rate limits tolerate. */
export const defaultPools = (): Record<string, number> => ({
  ffmpeg: cores(),
  espeak: cores(),
  local: 64,
  transfer: 64
})

/**
 * A first run's guess at how long a node works once it has its slot, in ms, by kind and pool (later runs use
 * the last build's records: `Scheduler.build` takes these only where it has none). Only the proportions
 * matter: they order the critical path (a clip takes minutes, an image about a minute, a narration seconds).
 */
const typical: Readonly<Record<string, number>> = {
  "transcript/local": 1,
  "audio/espeak": 400,
  "audio/transfer": 6_000,
  "shots/local": 1,
  "timing/local": 1,
  "prompts/local": 2,
  "prompts/openrouter": 8_000,
  "image/ffmpeg": 400,
  "image/openai": 45_000,
  "video/ffmpeg": 400,
  "video/transfer": 120_000,
  "mux/ffmpeg": 900,
  "final/ffmpeg": 300,
  "subtitles/local": 20,
  "storyboard/local": 50
}

export const typicalMs = (node: NodeSpec, pool: string): number | undefined => typical[`${node.kind}/${pool}`]
