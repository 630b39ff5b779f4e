/**
 * fal storage: puts a local file on fal's CDN so a model can read it by URL (a URL always works; data
 * URIs only on some models).
 *
 * Two steps: `POST {storageUrl}/storage/upload/initiate?storage_type=fal-cdn-v3` with
 * `{content_type, file_name}` answers `{upload_url, file_url}`; then `PUT upload_url` with the bytes.
 * The upload URL is pre-signed: it carries its own authorisation, so the fal key is NOT sent with the
 * PUT (a signed-URL store may reject an extra `Authorization` header, and the key has no business there).
 */
import { Effect, Schema } from "effect"
import { classify, Http } from "../Http.ts"
import { ProviderError } from "../ProviderError.ts"

const provider = "fal"

export interface UploadOptions {
  readonly storageUrl: string
  readonly apiKey: string
  readonly bytes: Uint8Array
  readonly contentType: string
  readonly fileName: string
}

const InitiateAnswer = Schema.Struct({
  upload_url: Schema.String,
  file_url: Schema.String
})

/** Uploads `bytes` and returns the public `file_url` to hand to a model. */
export const upload = Effect.fn("FalStorage.upload")(function*(options: UploadOptions) {
  const http = yield* Http
  const initiate = yield* http.request(provider, {
    method: "POST",
    url: `${options.storageUrl.replace(/\/+$/, "")}/storage/upload/initiate?storage_type=fal-cdn-v3`,
    headers: { authorization: `Key ${options.apiKey}` },
    json: { content_type: options.contentType, file_name: options.fileName },
    timeoutMs: 30_000
  })
  const initiateError = classify(provider, initiate)
  if (initiateError !== undefined) return yield* initiateError
  const answer = yield* initiate.json().pipe(
    Effect.flatMap(Schema.decodeUnknown(InitiateAnswer)),
    Effect.mapError((e) =>
      e instanceof ProviderError
        ? e
        : new ProviderError({ provider, message: `fal storage answered the upload request with an unexpected shape: ${e.message}`, transient: false })
    )
  )
  const put = yield* http.request(provider, {
    method: "PUT",
    url: answer.upload_url,
    headers: { "content-type": options.contentType },
    body: options.bytes,
    timeoutMs: 120_000
  })
  const putError = classify(provider, put)
  if (putError !== undefined) return yield* putError
  return answer.file_url
})
