/**
 * The splitter's speed on prose: MB of UTF-8 text a second through `split` (src/text/Sentences.ts), with the
 * old sbd-based splitter (test/text/fixtures/LegacySentences.ts) as the reference. The prose is a story written
 * for this benchmark (bench/prose.txt: dialogue, times, money, lists, abbreviations, hard-wrapped at 80
 * columns), the example workspace's transcript, this repository's README and the English Golden Rules, repeated
 * to about 4 MB. Best of 3 runs, after a warm-up.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { split } from "../src/text/Sentences.ts"
import { goldenRules } from "../test/text/fixtures/goldenRules.ts"
import { legacySplit } from "../test/text/fixtures/LegacySentences.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "..")

export interface SplitSpeed {
  readonly megabytes: number
  readonly sentences: number
  readonly ms: number
  readonly mbPerSecond: number
  readonly legacyMbPerSecond: number
}

const best = (f: (text: string) => ReadonlyArray<string>, text: string) => {
  f(text.slice(0, 200_000))
  let ms = Infinity
  let sentences = 0
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    sentences = f(text).length
    ms = Math.min(ms, performance.now() - t)
  }
  return { ms, sentences }
}

export const measure = (targetBytes = 4_000_000): SplitSpeed => {
  const sample = [
    fs.readFileSync(path.join(here, "prose.txt"), "utf8"),
    fs.readFileSync(path.join(repo, "transcript.txt"), "utf8"),
    fs.readFileSync(path.join(repo, "README.md"), "utf8"),
    goldenRules.map((c) => c.text).join(" ")
  ].join("\n\n")
  const text = sample.repeat(Math.max(1, Math.ceil(targetBytes / Buffer.byteLength(sample))))
  const megabytes = Buffer.byteLength(text) / 1e6
  const ours = best(split, text)
  const legacy = best(legacySplit, text)
  return {
    megabytes,
    sentences: ours.sentences,
    ms: ours.ms,
    mbPerSecond: megabytes / (ours.ms / 1000),
    legacyMbPerSecond: megabytes / (legacy.ms / 1000)
  }
}
