/**
 * The film's concurrency pools and their default sizes. The engine only knows pools by name; which ones
 * exist is the film's business (the rules in `targets/` name them), so their defaults live here.
 * `pools` in storyshot.config.ts overrides any of them.
 */
import * as os from "node:os"

/** Default pool sizes: local media work by cores, providers by what their rate limits tolerate. */
export const defaultPools = (): Record<string, number> => ({
  ffmpeg: Math.max(1, os.cpus().length),
  local: Math.max(1, os.cpus().length)
})
