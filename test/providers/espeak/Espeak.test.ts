import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe } from "vitest"
import { Ffmpeg } from "../../../src/media/Ffmpeg.ts"
import * as Espeak from "../../../src/providers/espeak/Espeak.ts"
import * as Lean from "../../../src/providers/espeak/Lean.ts"
import * as Workers from "../../../src/providers/espeak/Workers.ts"

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-espeak-test-"))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const sentence = "The keeper climbed the narrow stairs one last time, and the lamp came alive."

const probeSeconds = (file: string) =>
  Effect.flatMap(Ffmpeg, (ff) => ff.probe(file)).pipe(
    Effect.map((info) => info.durationSec),
    Effect.provide(Ffmpeg.layer)
  )

describe("Espeak.synthesize", () => {
  it.live("speaks a sentence into a WAV that ffprobe measures at more than half a second", () =>
    Effect.gen(function*() {
      const out = path.join(dir, "audio", "001.wav")
      const result = yield* Espeak.synthesize({ text: sentence, voice: "en-us", wordsPerMinute: 175, out })
      expect(result.out).toBe(out)
      const seconds = yield* probeSeconds(out)
      expect(seconds).toBeGreaterThan(0.5)
      expect(result.durationSec).toBeCloseTo(seconds, 1)
      // Only the WAV is left: the temporary name was renamed away.
      expect(fs.readdirSync(path.dirname(out))).toEqual(["001.wav"])
    }))

  it.live("idle workers stop (their memory is given back), and the next narration starts one again and sounds the same", () =>
    Effect.gen(function*() {
      const before = Workers.retiring.afterMs
      Workers.retiring.afterMs = 50
      try {
        const first = yield* Espeak.synthesize({ text: sentence, voice: "en-us", wordsPerMinute: 175, out: path.join(dir, "first.wav") })
        const deadline = Date.now() + 5000
        while (Workers.workersAlive() > 0 && Date.now() < deadline) yield* Effect.sleep("20 millis")
        expect(Workers.workersAlive()).toBe(0)
        Workers.retiring.afterMs = before
        const again = yield* Espeak.synthesize({ text: sentence, voice: "en-us", wordsPerMinute: 175, out: path.join(dir, "again.wav") })
        expect(Workers.workersAlive()).toBe(1)
        expect(again.durationSec).toBe(first.durationSec)
        expect(fs.readFileSync(again.out).equals(fs.readFileSync(first.out))).toBe(true)
      } finally {
        Workers.retiring.afterMs = before
      }
    }))

  it.live("a slower rate gives a longer narration", () =>
    Effect.gen(function*() {
      const fast = yield* Espeak.synthesize({ text: sentence, voice: "en-us", wordsPerMinute: 260, out: path.join(dir, "fast.wav") })
      const slow = yield* Espeak.synthesize({ text: sentence, voice: "en-us", wordsPerMinute: 120, out: path.join(dir, "slow.wav") })
      expect(slow.durationSec).toBeGreaterThan(fast.durationSec * 1.5)
    }))

  it.live("text that starts with a dash is spoken, not read as an option", () =>
    Effect.gen(function*() {
      const plain = yield* Espeak.synthesize({ text: "v fr hello there", voice: "en", wordsPerMinute: 175, out: path.join(dir, "plain.wav") })
      const dashed = yield* Espeak.synthesize({ text: "-v fr hello there", voice: "en", wordsPerMinute: 175, out: path.join(dir, "dashed.wav") })
      expect(dashed.durationSec).toBeGreaterThan(0.5)
      expect(Math.abs(dashed.durationSec - plain.durationSec)).toBeLessThan(0.5)
    }))

  it.live("quotes, percent signs, emoji and CJK do not break it", () =>
    Effect.gen(function*() {
      const result = yield* Espeak.synthesize({
        text: `it's 50% "done": a\\b; [x], y 🎬 日本語`,
        voice: "en-us",
        wordsPerMinute: 175,
        out: path.join(dir, "hostile.wav")
      })
      expect(yield* probeSeconds(result.out)).toBeGreaterThan(0.5)
    }))

  it.live("an unknown voice is a clear error that suggests real voices, and leaves the exit code alone", () =>
    Effect.gen(function*() {
      const before = process.exitCode
      const out = path.join(dir, "never.wav")
      const error = yield* Effect.flip(Espeak.synthesize({ text: "hello", voice: "zz-nowhere", wordsPerMinute: 175, out }))
      expect(error._tag).toBe("EspeakUnknownVoice")
      if (error._tag !== "EspeakUnknownVoice") return
      expect(error.message).toContain(`"zz-nowhere"`)
      expect(error.suggestions).toContain("en-us")
      expect(error.message).toContain("en-gb")
      expect(process.exitCode).toBe(before)
      expect(fs.existsSync(out)).toBe(false)
    }))

  it.live("empty text is an error, not a silent narration", () =>
    Effect.gen(function*() {
      const out = path.join(dir, "empty.wav")
      const error = yield* Effect.flip(Espeak.synthesize({ text: "", voice: "en-us", wordsPerMinute: 175, out }))
      expect(error._tag).toBe("EspeakFailed")
      if (error._tag === "EspeakFailed") expect(error.reason).toBe("empty-audio")
      expect(fs.existsSync(out)).toBe(false)
    }))
})

describe("the lean module (dictionaries written only when opened)", () => {
  // The module as shipped, in this thread: every dictionary written into its memory before main runs.
  const shipped = (args: ReadonlyArray<string>) =>
    Effect.promise(async () => {
      const glue = createRequire(import.meta.url).resolve("espeak-ng")
      const factory = (await import(pathToFileURL(glue).href)).default
      const stdout: Array<string> = []
      const stderr: Array<string> = []
      const exitCode = process.exitCode
      const instance = await factory({ arguments: [...args], print: (l: string) => stdout.push(l), printErr: (l: string) => stderr.push(l) })
      process.exitCode = exitCode
      let bytes: Uint8Array | undefined
      try {
        bytes = instance.FS.readFile("/o.wav")
      } catch {}
      return { stdout, stderr, bytes }
    })

  it("leaves out the 113 dictionaries (17 MB) and nothing else", () => {
    const wasm = fs.readFileSync(path.join(path.dirname(createRequire(import.meta.url).resolve("espeak-ng")), "espeak-ng.wasm"))
    const lean = Lean.lean(wasm)
    expect(lean).toBeDefined()
    expect(lean!.deferred.every((d) => d.name.endsWith("_dict"))).toBe(true)
    expect(lean!.deferred.map((d) => path.posix.basename(d.name))).toContain("en_dict")
    expect(lean!.deferred.length).toBe(113)
    const left = lean!.deferred.reduce((n, d) => n + d.length, 0)
    expect(lean!.bytes.length).toBeLessThan(wasm.length - left + 1000)
    expect(Lean.lean(wasm.subarray(0, 1000))).toBeUndefined()
  })

  it.live("speaks every text byte for byte as the module as shipped: English, another script in it, other languages", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["en-us", sentence],
        ["en-gb", "Привет мир and Γειά σου κόσμε, then 你好 and مرحبا."],
        ["ru", "Привет, как дела?"],
        ["de", "Guten Tag, wie geht es Ihnen?"]
      ]
      for (const [voice, text] of cases) {
        const args = ["-b", "1", "-v", voice, "-s", "175", "-w", "/o.wav", "--", text]
        const expected = yield* shipped(args)
        const got = yield* Workers.run(args, "/o.wav")
        expect(got.stderr).toEqual(expected.stderr)
        expect(got.bytes).toBeDefined()
        expect(Buffer.from(got.bytes!).equals(Buffer.from(expected.bytes!))).toBe(true)
      }
    }), 60_000)
})

describe("Espeak.listVoices", () => {
  it.live("lists the bundled voices", () =>
    Effect.gen(function*() {
      const voices = yield* Espeak.listVoices()
      expect(voices.length).toBeGreaterThan(50)
      expect(voices.map((v) => v.language)).toContain("en-us")
    }))
})
