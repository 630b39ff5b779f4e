// The example workspace at the repository root: `npx storyshot build` turns transcript.txt into out/final.mp4.
import { defineConfig } from "./src/index.ts"

export default defineConfig({
  transcript: "transcript.txt",
  profile: "draft",
  aspect: "16:9",
  height: 360,
  fps: 24,
  shotSeconds: 2,
  style: "hand-drawn storyboard, warm dawn light, a lone lighthouse keeper",
  voice: { espeak: "en-us", wordsPerMinute: 165 },
  // A music bed under the narration, in out/final.mp4 only (music/README.md says where it comes from).
  music: { file: "music/bed.mp3", volume: -18, duck: true, fadeIn: 1, fadeOut: 2 }
})
