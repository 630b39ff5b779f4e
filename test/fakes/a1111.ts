/**
 * A fake AUTOMATIC1111 / Forge API on 127.0.0.1 (`POST /sdapi/v1/txt2img`, a server started with `--api`):
 * base64 PNGs out (no `data:` prefix), `parameters` echoing the request, and `info` as a JSON **string**
 * holding the seed used (`seed`, `all_seeds`). The picture is a function of prompt, seed and size, as a
 * deterministic sampler's is: the same seed and prompt give the same bytes; `seed: -1` draws one at random.
 *
 * Its errors, as A1111's middleware shapes them: `{error, detail, body, errors}` with the exception's
 * status (unknown sampler → 404 "Sampler not found"; CUDA out of memory → 500 with torch's words in
 * `errors`); `--api-auth` → 401 `{"detail": "Incorrect username or password"}`.
 */
import { seededPng } from "./png.ts"
import { startServer, type CommonFault, type FakeRequest, type FakeServer, type Reply } from "./server.ts"

export type A1111Fault = { readonly kind: "oom" } | { readonly kind: "noImages" }

export interface A1111Fake extends FakeServer<A1111Fault | CommonFault> {
  readonly baseUrl: string
  readonly txt2img: () => number
  /** the seeds of the requests received, in order */
  readonly seeds: () => ReadonlyArray<number>
}

const samplers = ["Euler a", "Euler", "DPM++ 2M", "DPM++ 2M Karras", "DDIM"]

export const start = async (options: { readonly auth?: string } = {}): Promise<A1111Fake> => {
  const handle = (req: FakeRequest, fault: A1111Fault | undefined): Reply => {
    if (req.method !== "POST" || !req.path.startsWith("/sdapi/v1/txt2img")) return { status: 404, json: { detail: "Not Found" } }
    if (options.auth !== undefined && req.headers.authorization !== `Basic ${Buffer.from(options.auth).toString("base64")}`) {
      return { status: 401, headers: { "www-authenticate": "Basic" }, json: { detail: "Incorrect username or password" } }
    }
    const body = (req.json ?? {}) as Record<string, any>
    if (body.sampler_name !== undefined && !samplers.includes(body.sampler_name)) {
      return { status: 404, json: { error: "HTTPException", detail: "Sampler not found", body: "", errors: "" } }
    }
    if (fault?.kind === "oom") {
      return { status: 500, json: { error: "OutOfMemoryError", detail: "", body: "", errors: "CUDA out of memory. Tried to allocate 1.50 GiB (GPU 0; 7.79 GiB total capacity)" } }
    }
    const seed = typeof body.seed === "number" && body.seed >= 0 ? body.seed : Math.floor(Math.random() * 2 ** 31)
    const width = Math.min(128, Math.max(8, Math.floor(Number(body.width ?? 512) / 16)))
    const height = Math.min(128, Math.max(8, Math.floor(Number(body.height ?? 512) / 16)))
    const png = seededPng(`${body.prompt}|${seed}|${body.steps}|${body.sampler_name}`, width, height)
    const info = { prompt: body.prompt, seed, all_seeds: [seed], subseed: 1, all_subseeds: [1], width: body.width, height: body.height, sampler_name: body.sampler_name, steps: body.steps, cfg_scale: body.cfg_scale, sd_model_name: "sd_xl_base_1.0", sd_model_hash: "31e35c80fc" }
    return {
      status: 200,
      headers: { "x-process-time": "1.234" },
      json: { images: fault?.kind === "noImages" ? [] : [Buffer.from(png).toString("base64")], parameters: body, info: JSON.stringify(info) }
    }
  }
  const server = await startServer<A1111Fault>({ handle, errorBody: (_status, message) => ({ error: "HTTPException", detail: message, body: "", errors: "" }) })
  return {
    ...server,
    baseUrl: server.url,
    txt2img: () => server.requests.filter((r) => r.method === "POST" && r.path.startsWith("/sdapi/v1/txt2img")).length,
    seeds: () => server.requests.filter((r) => r.path.startsWith("/sdapi/v1/txt2img")).map((r) => (r.json as any)?.seed)
  }
}
