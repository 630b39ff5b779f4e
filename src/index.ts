/**
 * What a workspace's `storyshot.config.ts` imports: `import { defineConfig } from "storyshot"`.
 * Type-only imports keep this file free of run-time dependencies, so a config loads in milliseconds.
 */
import type { ConfigInput } from "./Config.ts"

export type { ConfigInput }

/** Identity, for types and editor help in `storyshot.config.ts`. */
export const defineConfig = (config: ConfigInput): ConfigInput => config
