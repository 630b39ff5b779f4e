/**
 * `storyshot init`: a workspace to start from — a commented config, an example transcript and
 * `.env.example`. Never overwrites a file that exists.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Option } from "effect"
import { root } from "./Root.ts"

export const configTemplate = `// storyshot workspace configuration. Every field is optional; these are the defaults.
import { defineConfig } from "storyshot"

export default defineConfig({
  // The transcript, relative to this folder.
  transcript: "transcript.txt",
  // "draft": offline and free (espeak-ng narration, planned shots, storyboard cards, Ken Burns motion).
  // "cloud": fal.ai narration and image-to-video, OpenRouter shot prompts, OpenAI images (paid; keys in .env).
  profile: "draft",
  // Mix providers per stage, e.g. draft cards with cloud narration:
  // providers: { audio: "fal", prompts: "planner", image: "card", video: "kenburns" },
  // With FAL_KEY, stills through fal's queue are recommended (a crash re-attaches, nothing is bought twice):
  // providers: { image: "fal" }, and FALAI_IMAGE_MODEL in .env. \`storyshot providers\` lists every choice.
  aspect: "16:9", // "16:9" | "9:16" | "1:1"
  height: 360, // frame height in pixels; the width follows the aspect ratio
  fps: 24,
  shotSeconds: 2, // a shot every 2 s; the last shot of a sentence takes the remainder (2–3.99 s)
  style: "cinematic storyboard, soft light, consistent characters",
  voice: { espeak: "en-us", wordsPerMinute: 165 },
  image: { quality: "medium" }, // OpenAI Images: low | medium | high
  // How many nodes may run at once per provider or resource.
  pools: { fal: 4, openai: 3, openrouter: 4 },
  retries: 3, // tries again when a provider refused a paid request before accepting it (429, 5xx: not billed)
  // maxCostUsd: 5, // no new paid request starts once a build would pass this
})
`

export const transcriptTemplate = `The lighthouse keeper woke before dawn, as she had every day for forty years.
She climbed the spiral stairs with a lantern in one hand and a cup of tea in the other.
Out on the water, a small boat was drifting towards the rocks.
She rang the bell, and the boat turned just in time.
`

export const envTemplate = `# Secrets and model names for the cloud profile. Copy to .env (which git ignores) and fill in.
FAL_KEY=
OPENAI_KEY=
OPENROUTER_KEY=
FALAI_TTS_MODEL=fal-ai/minimax/speech-02-turbo
FALAI_VIDEO_MODEL=fal-ai/kling-video/v1.6/standard/image-to-video
OPENAI_IMAGE_MODEL=gpt-image-1.5
# fal stills (providers: { image: "fal" }): re-attachable after a crash, $0.04 a still for Kontext
FALAI_IMAGE_MODEL=fal-ai/flux-pro/kontext/text-to-image
OPENROUTER_MODEL=openai/gpt-4o-mini
# Base URLs, for a gateway, a proxy or a local fake:
# FAL_BASE_URL=https://queue.fal.run
# FAL_STORAGE_URL=https://rest.fal.ai
# OPENAI_BASE_URL=https://api.openai.com/v1
# OPENROUTER_BASE_URL=https://openrouter.ai/api/v1
`

export const run = (dir: string, say: (line: string) => void) =>
  Effect.sync(() => {
    fs.mkdirSync(dir, { recursive: true })
    const files: Array<[string, string]> = [
      ["storyshot.config.ts", configTemplate],
      ["transcript.txt", transcriptTemplate],
      [".env.example", envTemplate],
      [".gitignore", ".storyshot/\nout/\n.env\n"]
    ]
    for (const [name, text] of files) {
      const file = path.join(dir, name)
      if (fs.existsSync(file)) say(`kept    ${name} (exists)`)
      else {
        fs.writeFileSync(file, text)
        say(`wrote   ${name}`)
      }
    }
    say("Next: edit transcript.txt, then run `storyshot build` (`npx storyshot build` in a project that has storyshot as a dependency); the film lands in out/final.mp4.")
  })

/** `storyshot init` (described in Commands.ts). */
export const handler = () =>
  Effect.gen(function* () {
    const g = yield* root
    yield* run(path.resolve(Option.getOrElse(g.cwd, () => process.cwd())), (l) => process.stdout.write(l + "\n"))
  })
