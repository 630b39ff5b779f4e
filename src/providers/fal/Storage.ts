/**
 * fal storage: puts a local file on fal's CDN so a model can read it by URL (a URL always works; data
 * URIs only on some models).
 *
 * Two steps: `POST {storageUrl}/storage/upload/initiate?storage_type=fal-cdn-v3` with
 * `{content_type, file_name}` answers `{upload_url, file_url}`; then `PUT upload_url` with the bytes.
 * The upload URL is pre-signed: it carries its own authorisation, so the fal key is NOT sent with the
 * PUT (a signed-URL store may reject an extra `Authorization` header, and the key has no business there).
 * Both steps are free: each is retried in place within the read budget.
 */
import { Effect, Option, Schema } from "effect"
import { refusalOf } from "../http/Answer.ts"
import { Http } from "../http/Client.ts"
import * as Reads from "../Reads.ts"
import * as FalError from "./FalError.ts"
import { provider, type FalSettings } from "./Queue.ts"

export interface Upload {
  readonly bytes: Uint8Array
  readonly contentType: string
  readonly fileName: string
}

const InitiateAnswer = Schema.Struct({
  upload_url: Schema.String,
  file_url: Schema.String
})

/** Uploads the bytes and returns the public `file_url` to hand to a model. */
export const upload = Effect.fn("FalStorage.upload")(function*(settings: FalSettings, file: Upload) {
  const http = yield* Http
  const retried = <A>(call: Effect.Effect<A, FalError.FalError>) => Reads.retrying(call, settings.reads, (e) => e.worthRetrying)
  const answer = yield* retried(
    Effect.gen(function*() {
      const res = yield* http.request(provider, {
        method: "POST",
        url: `${settings.storageUrl.replace(/\/+$/, "")}/storage/upload/initiate?storage_type=fal-cdn-v3`,
        headers: { authorization: `Key ${settings.apiKey}` },
        json: { content_type: file.contentType, file_name: file.fileName },
        answerTimeoutMs: settings.readTimeoutMs
      }).pipe(Effect.mapError((f) => FalError.fromHttp("upload", f)))
      const refusal = refusalOf(res)
      if (refusal !== undefined) return yield* FalError.fromRefusal("upload", refusal, res.headers)
      const decoded = yield* res.json().pipe(
        Effect.map(Schema.decodeUnknownOption(InitiateAnswer)),
        Effect.mapError((f) => FalError.fromHttp("upload", f))
      )
      if (Option.isNone(decoded)) return yield* FalError.garbled("upload", `the upload request was answered with an unexpected shape (HTTP ${res.status})`)
      return decoded.value
    })
  )
  yield* retried(
    Effect.gen(function*() {
      const put = yield* http.request(provider, {
        method: "PUT",
        url: answer.upload_url,
        headers: { "content-type": file.contentType },
        body: file.bytes,
        answerTimeoutMs: Math.max(settings.readTimeoutMs, 60_000)
      }).pipe(Effect.mapError((f) => FalError.fromHttp("upload", f)))
      const refusal = refusalOf(put)
      if (refusal !== undefined) return yield* FalError.fromRefusal("upload", refusal, put.headers)
    })
  )
  return answer.file_url
})
