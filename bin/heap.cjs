// The V8 heap settings storyshot runs with, set as the process starts (bin/storyshot.cjs; bench/child.ts
// measures the engine with the same). A build holds tens of megabytes for as long as it runs (the graph, the
// state, the reporters) and makes a lot of short-lived garbage; V8's defaults, tuned for pages that want
// speed, let such a process keep three or four times what it uses. Measured on a cold draft build of a
// 433-sentence text (bench/transcript-10k.txt), peak memory:
// - `--heap-growing-percent=15`: the heap grows 15% over what survives a full collection, not up to 4×
//   (at 30%: 570 → 532 MB, the 10,000-node graph 389 → 242 MB, for 20% more CPU in that engine-only build;
//   15% took the cold build's main heap from about 115 to 90 MB at its peak, and a no-op build of that text
//   kept its 0.64 s);
// - `--optimize-for-size`: V8 collects to give memory back. It costs CPU (a no-op build of that text took
//   0.95 s instead of 0.70 s), so the engine turns it on only when a build's first node runs
//   (src/engine/scheduler/Run.ts): a no-op or a dry run never has it, a build that makes things has it from
//   before its first espeak worker starts (turned on 2 s in, the cold build peaked 40 MB higher);
// - `--semi-space-growth-factor=1`: the young generation stays at its first size (1 MB) instead of growing to
//   16 MB in the main thread and in each worker.
// With the espeak workers' own fixes (src/providers/espeak/Workers.ts), that build peaked at 386 MB with the
// first and the last, and at 318 MB with all three, for 7% more CPU in the process (213 s against 199 s) and
// the same wall time (249 s against 248 s: ffmpeg's jobs set its pace). STORYSHOT_HEAP_GROWTH=0 keeps all of
// V8's defaults; another number is the percentage.
"use strict"
const v8 = require("node:v8")

const asked = process.env.STORYSHOT_HEAP_GROWTH
const growth = asked !== undefined && /^\d{1,3}$/.test(asked) ? asked : "15"
if (growth !== "0") {
  v8.setFlagsFromString(`--heap-growing-percent=${growth}`)
  v8.setFlagsFromString("--semi-space-growth-factor=1")
}
