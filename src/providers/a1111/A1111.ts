/**
 * Stills from a self-hosted AUTOMATIC1111 or Forge server (started with `--api`): `POST {base}/sdapi/v1/txt2img`
 * with the prompt, size, steps, sampler and **seed**; base64 PNGs back. Free: the GPU is the user's.
 *
 * Surprises:
 * - The answer's `info` is a JSON *string*: parse it for the seed actually used (`seed`, `all_seeds[0]`);
 *   a `seed: -1` request draws one at random, and only `info` says which. The seed is sent explicitly
 *   (never -1) and recorded, so the same seed and prompt find the same picture.
 * - `--api-auth user:pass` protects the API with HTTP Basic (`A1111_AUTH`).
 * - One synchronous request that can take minutes on a busy GPU: a long answer time-out, and the answer
 *   kept as it arrives like a paid one (a kill after a minute of GPU work need not redo it).
 * - Sizes must be multiples of 8; the shot's size is rounded down to them.
 */
import { Effect } from "effect"
import { redact } from "../http/Redact.ts"
import type { Follow } from "../Keep.ts"
import * as Once from "../Once.ts"
import { sniff } from "../openai/Images.ts"
import { A1111Error, fromAnswer, fromHttp } from "./A1111Error.ts"

export const provider = "a1111"

export interface A1111Settings {
  readonly baseUrl: string
  /** `user:password` for `--api-auth`, or "". */
  readonly auth: string
  readonly sampler: string
  readonly steps: number
  readonly cfgScale: number
  /** `override_settings.sd_model_checkpoint`, or "" for the server's loaded model. */
  readonly checkpoint: string
  readonly timeoutMs: number
}

export const defaultSettings = (baseUrl: string, auth = ""): A1111Settings => ({
  baseUrl,
  auth,
  sampler: "Euler a",
  steps: 25,
  cfgScale: 7,
  checkpoint: "",
  timeoutMs: 600_000
})

export interface Txt2ImgRequest {
  readonly prompt: string
  readonly negativePrompt: string
  readonly width: number
  readonly height: number
  readonly seed: number
  readonly sampler: string
  readonly steps: number
  readonly cfgScale: number
  readonly checkpoint: string
}

export interface Still {
  readonly bytes: Uint8Array
  readonly ext: "png" | "jpeg" | "webp"
  /** The seed the server says it used. */
  readonly seed: number
  readonly model: string | undefined
  readonly resumed: boolean
}

export const body = (req: Txt2ImgRequest) => ({
  prompt: req.prompt,
  negative_prompt: req.negativePrompt,
  seed: req.seed,
  steps: req.steps,
  cfg_scale: req.cfgScale,
  width: Math.max(64, Math.floor(req.width / 8) * 8),
  height: Math.max(64, Math.floor(req.height / 8) * 8),
  sampler_name: req.sampler,
  batch_size: 1,
  n_iter: 1,
  send_images: true,
  save_images: false,
  ...(req.checkpoint === "" ? {} : { override_settings: { sd_model_checkpoint: req.checkpoint }, override_settings_restore_afterwards: true })
})

export const txt2img = Effect.fn("A1111.txt2img")(function*(settings: A1111Settings, req: Txt2ImgRequest, follow: Follow) {
  const server = settings.baseUrl
  const res = yield* Once.send(provider, follow, {
    method: "POST",
    url: `${settings.baseUrl.replace(/\/+$/, "")}/sdapi/v1/txt2img`,
    headers: settings.auth === "" ? {} : { authorization: `Basic ${Buffer.from(settings.auth).toString("base64")}` },
    json: body(req),
    answerTimeoutMs: settings.timeoutMs
  }, { name: "answer", ext: "json", headers: [], what: "image", markSent: false }).pipe(Effect.mapError((f) => fromHttp(server, f)))
  let parsed: unknown
  try {
    parsed = JSON.parse(res.text())
  } catch {
    parsed = undefined
  }
  if (res.status < 200 || res.status >= 300) {
    const e = fromAnswer(server, res.status, parsed, res.text())
    return yield* new A1111Error({ ...e, said: redact(e.said, settings.auth === "" ? [] : [settings.auth, settings.auth.split(":").slice(1).join(":")]) })
  }
  const lost = (reason: "garbled" | "not-an-image", said: string) =>
    Once.drop(follow, "answer").pipe(Effect.zipRight(Effect.fail(new A1111Error({ call: "txt2img", server, reason, said, status: res.status }))))
  if (typeof parsed !== "object" || parsed === null) return yield* lost("garbled", `broken JSON (${res.body.length} bytes)`)
  const answer = parsed as { images?: unknown; info?: unknown }
  const first = Array.isArray(answer.images) ? answer.images[0] : undefined
  if (typeof first !== "string" || first === "") return yield* lost("not-an-image", "no images[0] in the answer")
  const bytes = new Uint8Array(Buffer.from(first.replace(/^data:[^,]*,/, ""), "base64"))
  const ext = sniff(bytes)
  if (ext === undefined) return yield* lost("not-an-image", `images[0] is no PNG, JPEG or WebP (${bytes.length} bytes)`)
  let info: { seed?: unknown; all_seeds?: unknown; sd_model_name?: unknown } = {}
  try {
    info = typeof answer.info === "string" ? JSON.parse(answer.info) : typeof answer.info === "object" && answer.info !== null ? (answer.info as typeof info) : {}
  } catch {}
  const used = typeof info.seed === "number" ? info.seed : Array.isArray(info.all_seeds) && typeof info.all_seeds[0] === "number" ? info.all_seeds[0] : req.seed
  return {
    bytes,
    ext,
    seed: used,
    model: typeof info.sd_model_name === "string" ? info.sd_model_name : undefined,
    resumed: res.resumed
  } satisfies Still
})
