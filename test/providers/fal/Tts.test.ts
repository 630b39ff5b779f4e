import { expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import * as Tts from "../../../src/providers/fal/Tts.ts"
import { IoLog } from "../../../src/providers/IoLog.ts"
import * as Keep from "../../../src/providers/Keep.ts"
import { startFakeFal, type FakeFal } from "../../fakes/fal.ts"
import { apiKey, entryText, settingsFor, testLayer } from "./helpers.ts"

let fal: FakeFal
beforeAll(async () => {
  fal = await startFakeFal({ pollsInQueue: 1, pollsInProgress: 1 })
})
afterAll(() => fal.close())

const text = "The lighthouse keeper counted the ships."

const speak = (model: string, voice?: string, follow: Keep.Follow = Keep.followNothing) =>
  Tts.speak(settingsFor(fal.baseUrl), { model, text, voice }, follow)

describe("fal TTS", () => {
  const cases: ReadonlyArray<readonly [string, string | undefined, Record<string, unknown>]> = [
    ["fal-ai/playai/tts/v3", undefined, { input: text, voice: "Jennifer (English (US)/American)" }],
    ["fal-ai/kokoro/american-english", "af_bella", { prompt: text, voice: "af_bella" }],
    [
      "fal-ai/minimax/speech-02-hd",
      "Deep_Voice_Man",
      { text, voice_setting: { voice_id: "Deep_Voice_Man", speed: 1, vol: 1, pitch: 0 }, output_format: "url" }
    ],
    ["fal-ai/elevenlabs/tts/multilingual-v2", "Aria", { text, voice: "Aria" }]
  ]
  for (const [model, voice, expected] of cases) {
    it.live(`${model} receives exactly its own field names and the audio comes back`, () =>
      Effect.gen(function*() {
        const speech = yield* speak(model, voice)
        expect(fal.inputs(model).at(-1)).toEqual(expected)
        expect(Buffer.from(speech.bytes).equals(Buffer.from(fal.media.mp3))).toBe(true)
        expect(speech.ext).toBe("mp3")
        expect(speech.record.requestId).toBe(speech.handle.requestId)
      }).pipe(Effect.provide(testLayer)))
  }

  it("minimax asks for a URL, never the default hex", () => {
    const body = Either.getOrThrow(Tts.requestFor("fal-ai/minimax/speech-02-turbo", "hi"))
    expect(body.output_format).toBe("url")
  })

  it.live("an unknown model fails before any request, naming the supported families", () =>
    Effect.gen(function*() {
      const before = fal.submits()
      const error = yield* Effect.flip(speak("fal-ai/some-new/tts"))
      expect(error._tag).toBe("ProviderUnavailable")
      expect(error.message).toContain("fal-ai/some-new/tts")
      for (const family of ["playai", "kokoro", "minimax", "elevenlabs"]) expect(error.message).toContain(family)
      expect(fal.submits()).toBe(before)
    }).pipe(Effect.provide(testLayer)))

  it.live("costs come from the price table where fal's price is known, and are unknown otherwise", () =>
    Effect.gen(function*() {
      const minimax = yield* speak("fal-ai/minimax/speech-02-hd")
      expect(minimax.cost.source).toBe("table")
      expect(minimax.cost.usd).toBeCloseTo((0.1 * text.length) / 1000, 8)
      const playai = yield* speak("fal-ai/playai/tts/v3")
      expect(playai.cost).toEqual({ usd: undefined, source: "unknown" })
    }).pipe(Effect.provide(testLayer)))

  it.live("a download cut short is fetched again in place, without paying for a new request", () =>
    Effect.gen(function*() {
      const model = "fal-ai/kokoro/american-english"
      const before = fal.submits(model)
      fal.inject({ kind: "truncated-download" }, model)
      const speech = yield* speak(model)
      expect(Buffer.from(speech.bytes).equals(Buffer.from(fal.media.mp3))).toBe(true)
      expect(fal.submits(model) - before).toBe(1)
      const fetches = fal.received.filter((r) => r.method === "GET" && r.path.startsWith(`/files/${speech.handle.requestId}/`))
      expect(fetches).toHaveLength(2)
    }).pipe(Effect.provide(testLayer)))

  it.live("the audio is kept as it arrives: a run that resumes uses it without asking fal anything", () =>
    Effect.gen(function*() {
      const model = "fal-ai/kokoro/american-english"
      const journal = Keep.memory()
      const first = yield* speak(model, undefined, { journal })
      expect(Buffer.from(journal.entries.get("file")!).equals(Buffer.from(first.bytes))).toBe(true)
      const before = fal.received.length
      const again = yield* speak(model, undefined, { journal })
      expect(again.resumed).toBe(true)
      expect(again.ext).toBe("mp3")
      expect(Buffer.from(again.bytes).equals(Buffer.from(first.bytes))).toBe(true)
      expect(fal.received.length).toBe(before)
    }).pipe(Effect.provide(testLayer)))

  it.live("the key never reaches the IoLog, the audio download included", () =>
    Effect.gen(function*() {
      yield* speak("fal-ai/elevenlabs/tts/multilingual-v2")
      const entries = yield* IoLog.entries
      expect(entries.some((e) => e.url.includes("/files/"))).toBe(true)
      for (const entry of entries) expect(entryText(entry)).not.toContain(apiKey)
    }).pipe(Effect.provide(testLayer)))
})
