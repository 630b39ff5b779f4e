/**
 * The fal video models beyond Kling 1.6 (issue 17): the exact bodies sent (what a bill is computed from and
 * what the fingerprint must follow) and their prices, known before paying.
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import * as Video from "../../../src/providers/fal/Video.ts"
import * as Config from "../../../src/Config.ts"
import * as ProviderConfig from "../../../src/providers/ProviderConfig.ts"
import * as FalVideoImpl from "../../../targets/video/fal.ts"
import { takesTailImage } from "../../../targets/Rule.ts"

const body = (model: string, over: Partial<Video.ClipRequest> = {}) => {
  const r = Video.requestFor(model, { prompt: "a fox", imageUrl: "https://x/still.png", ...over })
  if (Either.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

describe("fal video models", () => {
  it("Kling 1.6 standard sends what it always sent (no re-payment on upgrade)", () => {
    expect(body("fal-ai/kling-video/v1.6/standard/image-to-video")).toEqual({
      prompt: "a fox", image_url: "https://x/still.png", duration: "5", negative_prompt: "blur, distort, and low quality", cfg_scale: 0.5
    })
  })

  it("Kling 2.6 / v3 take start_image_url and get generate_audio: false (it defaults to true, at twice the price)", () => {
    for (const m of ["fal-ai/kling-video/v2.6/pro/image-to-video", "fal-ai/kling-video/v3/pro/image-to-video"]) {
      const b = body(m)
      expect(b.start_image_url).toBe("https://x/still.png")
      expect(b.image_url).toBeUndefined()
      expect(b.generate_audio).toBe(false)
    }
    expect(Video.estimate("fal-ai/kling-video/v2.6/pro/image-to-video", { prompt: "" })).toMatchObject({ usd: 0.35, source: "table" })
  })

  it("end frames only where the model has the field: tail_image_url (1.6/2.1/2.5 pro), end_image_url (2.6, v3, Hailuo-02)", () => {
    expect(body("fal-ai/kling-video/v2.1/pro/image-to-video", { tailImageUrl: "https://x/end.png" }).tail_image_url).toBe("https://x/end.png")
    expect(body("fal-ai/kling-video/v2.6/pro/image-to-video", { tailImageUrl: "https://x/end.png" }).end_image_url).toBe("https://x/end.png")
    expect(body("fal-ai/minimax/hailuo-02/standard/image-to-video", { tailImageUrl: "https://x/end.png" }).end_image_url).toBe("https://x/end.png")
    expect(body("fal-ai/kling-video/v2.1/standard/image-to-video", { tailImageUrl: "https://x/end.png" }).tail_image_url).toBeUndefined()
    expect(Video.takesTailImage("fal-ai/kling-video/v1.6/standard/image-to-video")).toBe(false)
    expect(Video.takesTailImage("fal-ai/kling-video/v1.6/pro/image-to-video")).toBe(true)
  })

  it("Hailuo: 6 s clips, its prompt optimizer off (a rewritten prompt would not reproduce a take)", () => {
    const b = body("fal-ai/minimax/hailuo-2.3/standard/image-to-video")
    expect(b).toMatchObject({ duration: "6", prompt_optimizer: false })
    expect(Video.estimate("fal-ai/minimax/hailuo-2.3/standard/image-to-video", { prompt: "" })).toMatchObject({ usd: 0.28 })
    expect(Video.estimate("fal-ai/minimax/hailuo-02/standard/image-to-video", { prompt: "" })).toMatchObject({ usd: 0.27 })
  })

  it("Kling 2.1 / 2.5: a price for 5 s; Wan 2.5: prompt expansion off; every model's clip holds a 3.99 s shot", () => {
    expect(Video.estimate("fal-ai/kling-video/v2.1/master/image-to-video", { prompt: "" })).toMatchObject({ usd: 1.4 })
    expect(Video.estimate("fal-ai/kling-video/v2.5-turbo/pro/image-to-video", { prompt: "" })).toMatchObject({ usd: 0.35 })
    expect(body("fal-ai/wan-25-preview/image-to-video")).toMatchObject({ enable_prompt_expansion: false, duration: "5", resolution: "480p" })
    for (const [, spec] of Object.entries(Video.models)) expect(spec.clipSeconds).toBeGreaterThanOrEqual(4)
  })

  it("a model fal does not have here is refused with the list, not sent", () => {
    expect(Either.isLeft(Video.requestFor("fal-ai/kling-video/v9/image-to-video", { prompt: "", imageUrl: "" }))).toBe(true)
  })

  it("contract 8: the video impl says which models take an end frame, and only those get it in their fingerprint", () => {
    const plan = (model: string) => ({
      config: Config.resolve({ profile: "cloud", continuity: "end-frames" } as any),
      providers: ProviderConfig.fromEnv({ FAL_KEY: "k", FALAI_VIDEO_MODEL: model }),
      storeDir: "/tmp/x",
      director: { bible: undefined, edits: { version: 1, shots: [] } }
    })
    const shot = { n: 1, j: 1, k: 1 }
    const tail = { n: 1, j: 2, k: 2 }
    const pro = plan("fal-ai/kling-video/v1.6/pro/image-to-video")
    expect(takesTailImage(FalVideoImpl.impl, pro as any)).toBe(true)
    const withTail = FalVideoImpl.impl.node({ shot, tail }, pro as any)
    expect(withTail.recipe).toMatchObject({ tail: true })
    expect(withTail.deps.map((d) => d.id)).toContain("shot:2:image")
    const std = plan("fal-ai/kling-video/v1.6/standard/image-to-video")
    expect(takesTailImage(FalVideoImpl.impl, std as any)).toBe(false)
    const ignored = FalVideoImpl.impl.node({ shot, tail }, std as any)
    // Unchanged from a node without one: nothing re-bought for a model that cannot use it.
    expect(ignored).toEqual(FalVideoImpl.impl.node({ shot }, std as any))
  })
})
