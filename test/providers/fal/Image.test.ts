/**
 * fal stills (`src/providers/fal/Image.ts`) against the fake fal: each family's body, reference images
 * (contract 6) uploaded through fal storage and sent as `image_urls` to the edit member of the pair, a
 * re-attached request that uploads nothing again, seeds echoed, and the models' limits said before paying.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import * as FalImage from "../../../src/providers/fal/Image.ts"
import * as Queue from "../../../src/providers/fal/Queue.ts"
import * as Keep from "../../../src/providers/Keep.ts"
import { startFakeFal, type FakeFal } from "../../fakes/fal.ts"
import { seededPng } from "../../fakes/png.ts"
import { settingsFor, testLayer } from "./helpers.ts"

let fal: FakeFal
beforeAll(async () => {
  fal = await startFakeFal({ pollsInQueue: 1, pollsInProgress: 1 })
})
afterAll(() => fal.close())

const sheet = (name: string) => ({ name, bytes: seededPng(name, 16, 16), contentType: "image/png" })
const still = (req: Partial<FalImage.StillRequest>, refs: ReadonlyArray<FalImage.Reference> = [], follow: Keep.Follow = Keep.followNothing) =>
  FalImage.generate(settingsFor(fal.baseUrl), { model: "fal-ai/flux-pro/kontext/text-to-image", prompt: "a lighthouse at dawn", size: "1536x1024", quality: "medium", seed: 7, ...req }, refs, follow).pipe(
    Effect.provide(testLayer)
  )

describe("fal stills", () => {
  it.live("Kontext text-to-image: aspect ratio, the seed sent and echoed, no sync_mode, priced $0.04", () =>
    Effect.gen(function*() {
      const s = yield* still({})
      expect(s.seed).toBe(7)
      expect(s.contentType).toMatch(/png/)
      const input = fal.inputs("fal-ai/flux-pro/kontext/text-to-image").at(-1)
      expect(input).toMatchObject({ prompt: "a lighthouse at dawn", aspect_ratio: "3:2", seed: 7 })
      expect(input.sync_mode).toBeUndefined()
      expect(s.record.cost).toMatchObject({ usd: 0.04, source: "table" })
    }))

  it.live("references go to the edit member: uploaded through fal storage, sent as image_urls in the shot's order", () =>
    Effect.gen(function*() {
      const uploadsBefore = fal.uploads.size
      const edit = FalImage.modelFor("fal-ai/flux-pro/kontext/text-to-image", true)!
      expect(edit).toBe("fal-ai/flux-pro/kontext/multi")
      yield* still({ model: edit }, [sheet("Mara"), sheet("the keeper")])
      expect(fal.uploads.size - uploadsBefore).toBe(2)
      const input = fal.inputs(edit).at(-1)
      expect(input.image_urls).toHaveLength(2)
      const names = input.image_urls.map((u: string) => [...fal.uploads.values()].find((up) => u.includes(up.id))?.fileName)
      expect(names).toEqual(["reference-1.png", "reference-2.png"])
    }))

  it.live("a re-attached request uploads nothing again and submits nothing again", () =>
    Effect.gen(function*() {
      const journal = Keep.memory()
      const model = "fal-ai/bytedance/seedream/v4/edit"
      yield* Queue.submit(settingsFor(fal.baseUrl), model, { prompt: "kept", image_urls: ["https://x/1.png"], seed: 3 }, { journal }).pipe(Effect.provide(testLayer))
      const submits = fal.submits(model)
      const uploads = fal.uploads.size
      const s = yield* still({ model }, [sheet("Mara")], { journal })
      expect(fal.submits(model)).toBe(submits)
      expect(fal.uploads.size).toBe(uploads)
      expect(s.resumed).toBe(true)
    }))

  it.live("limits are said before paying: too many references, an edit model with none, an unknown model", () =>
    Effect.gen(function*() {
      const before = fal.submits()
      const many = yield* Effect.either(still({ model: "fal-ai/flux-pro/kontext" }, [sheet("a"), sheet("b")]))
      expect(Either.isLeft(many) && many.left.message).toMatch(/takes at most 1 reference image and this shot shows 2 \(a, b\)/)
      const none = yield* Effect.either(still({ model: "fal-ai/nano-banana/edit" }, []))
      expect(Either.isLeft(none) && none.left.message).toMatch(/edits reference images and this shot has none; use fal-ai\/nano-banana/)
      const unknown = yield* Effect.either(still({ model: "fal-ai/flux-pro/kontext/maxi" }))
      expect(Either.isLeft(unknown) && unknown.left.message).toMatch(/not supported; set FALAI_IMAGE_MODEL to one of/)
      expect(fal.submits()).toBe(before)
    }))

  it.live("each family's body: gpt-image-1 on fal takes image_size and quality, gpt-image-2 a {width, height}", () =>
    Effect.gen(function*() {
      expect(FalImage.requestFor({ model: "fal-ai/gpt-image-1/text-to-image", prompt: "p", size: "1024x1024", quality: "high", seed: 1 }, [])).toEqual({
        prompt: "p", image_size: "1024x1024", quality: "high", num_images: 1, output_format: "png"
      })
      expect(FalImage.requestFor({ model: "openai/gpt-image-2/edit", prompt: "p", size: "1536x1024", quality: "low", seed: 1 }, ["u"])).toMatchObject({
        image_size: { width: 1536, height: 1024 }, quality: "low", image_urls: ["u"]
      })
      expect(FalImage.estimate({ model: "fal-ai/gpt-image-1/text-to-image", prompt: "x".repeat(400), size: "1536x1024", quality: "medium" })).toMatchObject({ usd: 0.07 })
      expect(FalImage.estimate({ model: "fal-ai/nano-banana/edit", prompt: "p", size: "1024x1024", quality: "medium" })).toMatchObject({ usd: undefined })
    }))
})
