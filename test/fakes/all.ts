/**
 * All three fake providers at once, for end-to-end builds of the `cloud` profile (and for crash tests,
 * benchmarks and cost accounting): fal (queue + storage), OpenAI Images and OpenRouter, each on its own
 * 127.0.0.1 port.
 *
 *   const fakes = await startFakes()
 *   await runBuild(dir, {}, fakes.env)          // or cli([...], { cwd: dir, env: fakes.env })
 *   fakes.counts()                              // { total: 0, ttsSubmits: 0, ... } since start or reset()
 *   fakes.fal.inject({ kind: "completed-with-error", message: "..." })   // faults: see each fake
 *   await fakes.close()
 *
 * `env` is everything a build needs: the three keys, the four base URLs and the four model names, plus the
 * speed settings a user could also set (`STORYSHOT_FAL_POLL_MS`, `STORYSHOT_HTTP_TIMEOUT_MS`,
 * `STORYSHOT_RETRY_BASE_MS`) turned down so that fault tests stay fast. Override any of them with `env`.
 *
 * `latency` gives each kind of endpoint a delay (ms) before it answers, and `workMs` how long fal works on
 * a request of each kind before it completes, so a benchmark can give the stages realistic proportions
 * (e.g. video ≫ image ≫ narration > shot list). Both default to 0.
 */
import { randomBytes } from "node:crypto"
import * as Fal from "./fal.ts"
import * as OpenAI from "./openai.ts"
import * as OpenRouter from "./openrouter.ts"
import * as Replicate from "./replicate.ts"
import type { FakeRequest } from "./server.ts"

export const models = {
  tts: "fal-ai/minimax/speech-02-turbo",
  video: "fal-ai/kling-video/v1.6/standard/image-to-video",
  image: "gpt-image-1.5",
  /** fal's stills (`providers: { image: "fal" }`): FLUX.1 Kontext [pro], seeded */
  falImage: "fal-ai/flux-pro/kontext/text-to-image",
  chat: "openai/gpt-4o-mini"
} as const

/** Keys that look real enough to be grepped for: none of them may ever reach a file or the output. */
export const keys = {
  fal: "fal-key-e2e-5f0c1a9b7d3e42c8:9a7b6c5d4e3f2a1b",
  openai: OpenAI.defaultKey,
  openrouter: OpenRouter.defaultKey
} as const

/** Per-endpoint delays before the answer, in ms. */
export interface Latency {
  /** fal: submit (POST to a model) */
  readonly falSubmit?: number
  /** fal: status polls, result fetches and cancels */
  readonly falQueue?: number
  /** fal: storage initiate and upload */
  readonly falStorage?: number
  /** fal: downloads of output files */
  readonly falFiles?: number
  /** OpenAI: one image generation */
  readonly image?: number
  /** OpenRouter: one chat completion */
  readonly chat?: number
  /** OpenRouter: the model list */
  readonly models?: number
}

export interface FakesOptions {
  readonly latency?: Latency
  /** How long fal works on a request before it completes, in ms from its submit. */
  readonly workMs?: { readonly tts?: number; readonly video?: number; readonly image?: number }
  /** fal status polls answering IN_QUEUE / IN_PROGRESS before a request completes (defaults 1 and 1). */
  readonly pollsInQueue?: number
  readonly pollsInProgress?: number
  /** Extra or overriding variables for the build's environment. */
  readonly env?: Record<string, string>
}

/** Requests the fakes received, by kind. */
export interface Counts {
  /** every HTTP request to any of the three fakes */
  readonly total: number
  readonly ttsSubmits: number
  readonly videoSubmits: number
  /** fal storage upload initiations (one per clip whose image is uploaded) */
  readonly uploads: number
  /** PUT cancel_url */
  readonly cancels: number
  readonly images: number
  /** fal image submits (`providers: { image: "fal" }`), any image model */
  readonly falImages: number
  /** Replicate prediction creates (`providers: { video: "replicate" }`) */
  readonly predictions: number
  /** OpenAI `/images/edits`: images made with character sheets as references (issue 16). */
  readonly imageEdits: number
  readonly chats: number
  /** GET /models */
  readonly modelLists: number
}

export interface Fakes {
  readonly fal: Fal.FakeFal
  readonly openai: OpenAI.OpenAIFake
  readonly openrouter: OpenRouter.OpenRouterFake
  readonly replicate: Replicate.ReplicateFake
  /** The environment for a build against these fakes. */
  readonly env: Record<string, string>
  /** Requests received since start or the last `reset()`. */
  readonly counts: () => Counts
  /** Starts counting from zero and clears every queued fault. */
  readonly reset: () => void
  readonly close: () => Promise<void>
}

const path = (req: FakeRequest) => req.path.split("?")[0]!

export const startFakes = async (options: FakesOptions = {}): Promise<Fakes> => {
  // Each set of fakes takes its own fal key (the shared one plus a suffix, so a leak of it still contains
  // `keys.fal`): requests from a build of another test file that outlived its fakes are refused here.
  const falKey = `${keys.fal}${randomBytes(4).toString("hex")}`
  const [fal, openai, openrouter] = await Promise.all([
    Fal.startFakeFal({
      apiKey: falKey,
      pollsInQueue: options.pollsInQueue ?? 1,
      pollsInProgress: options.pollsInProgress ?? 1,
      // Real providers answer each request with its own media: narration as long as its text, clips that
      // differ, so an edit reaches the mux and the final cut, and long sentences get several shots.
      varyMedia: true,
      workMs: (model) =>
        /video|i2v/.test(model) ? options.workMs?.video ?? 0 : Fal.isImageModel(model) ? options.workMs?.image ?? 0 : options.workMs?.tts ?? 0
    }),
    OpenAI.start(),
    OpenRouter.start()
  ])
  const replicate = await Replicate.start({ workMs: options.workMs?.video ?? 0 })
  const l = options.latency ?? {}
  fal.setLatency((req) => {
    const p = path(req)
    if (p.startsWith("/storage/") || p.startsWith("/upload/")) return l.falStorage ?? 0
    if (p.startsWith("/files/")) return l.falFiles ?? 0
    if (p.includes("/requests/")) return l.falQueue ?? 0
    return l.falSubmit ?? 0
  })
  openai.setLatency(() => l.image ?? 0)
  openrouter.setLatency((req) => (path(req).endsWith("/models") ? l.models ?? 0 : l.chat ?? 0))

  const env: Record<string, string> = {
    FAL_KEY: falKey,
    OPENAI_KEY: openai.apiKey,
    OPENROUTER_KEY: openrouter.apiKey,
    FAL_BASE_URL: fal.baseUrl,
    FAL_STORAGE_URL: fal.baseUrl,
    OPENAI_BASE_URL: openai.baseUrl,
    OPENROUTER_BASE_URL: openrouter.baseUrl,
    FALAI_TTS_MODEL: models.tts,
    FALAI_VIDEO_MODEL: models.video,
    OPENAI_IMAGE_MODEL: models.image,
    FALAI_IMAGE_MODEL: models.falImage,
    OPENROUTER_MODEL: models.chat,
    REPLICATE_API_TOKEN: replicate.apiToken,
    REPLICATE_BASE_URL: replicate.baseUrl,
    STORYSHOT_FAL_POLL_MS: "20",
    STORYSHOT_HTTP_TIMEOUT_MS: "3000",
    STORYSHOT_RETRY_BASE_MS: "20",
    ...options.env
  }

  let mark = { fal: 0, openai: 0, openrouter: 0, replicate: 0 }
  const since = <T>(all: ReadonlyArray<T>, from: number) => all.slice(from)
  const counts = (): Counts => {
    const f = since(fal.received, mark.fal)
    const o = since(openai.requests, mark.openai)
    const r = since(openrouter.requests, mark.openrouter)
    const rep = since(replicate.requests, mark.replicate)
    const isSubmit = (req: FakeRequest) =>
      req.method === "POST" && !path(req).startsWith("/storage/") && !path(req).includes("/requests/")
    return {
      total: f.length + o.length + r.length + rep.length,
      predictions: rep.filter((q) => q.method === "POST" && /\/predictions$/.test(path(q))).length,
      ttsSubmits: f.filter((q) => isSubmit(q) && path(q) === `/${models.tts}`).length,
      videoSubmits: f.filter((q) => isSubmit(q) && /video|i2v/.test(path(q))).length,
      uploads: f.filter((q) => q.method === "POST" && path(q).startsWith("/storage/upload/initiate")).length,
      cancels: f.filter((q) => q.method === "PUT" && path(q).endsWith("/cancel")).length,
      falImages: f.filter((q) => isSubmit(q) && Fal.isImageModel(path(q).slice(1))).length,
      images: o.filter((q) => q.method === "POST" && path(q).endsWith("/images/generations")).length,
      imageEdits: o.filter((q) => q.method === "POST" && path(q).endsWith("/images/edits")).length,
      chats: r.filter((q) => q.method === "POST" && path(q).endsWith("/chat/completions")).length,
      modelLists: r.filter((q) => q.method === "GET" && path(q).endsWith("/models")).length
    }
  }

  return {
    fal,
    openai,
    openrouter,
    replicate,
    env,
    counts,
    reset: () => {
      mark = { fal: fal.received.length, openai: openai.requests.length, openrouter: openrouter.requests.length, replicate: replicate.requests.length }
      fal.clearFaults()
      openai.clearFaults()
      openrouter.clearFaults()
      replicate.clearFaults()
    },
    close: async () => {
      await Promise.all([fal.close(), openai.close(), openrouter.close(), replicate.close()])
    }
  }
}
