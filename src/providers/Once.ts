/**
 * A paid request answered in one go, not re-attachable (ElevenLabs and OpenAI speech, a chat completion,
 * Anthropic's Messages, a self-hosted image server): the answer an earlier run of the node received and kept,
 * or one request whose answer's bytes go to the node's journal (with the headers that matter: ids, billed
 * characters) the moment they arrive, before anything reads them. A Ctrl-C meanwhile waits for the answer
 * (it is being made and billed); only a second Ctrl-C or a kill loses it, and the README says how long that
 * window is.
 *
 * Only a 2xx answer is kept: a refusal is not billed, and the next try must ask again.
 */
import { Effect } from "effect"
import type { Json } from "../engine/Hash.ts"
import { Http, makeResponse, type HttpFailure, type HttpRequest, type HttpResponse } from "./http/Client.ts"
import { finishPaid, type Follow } from "./Keep.ts"

export interface OnceOptions {
  /** The journal's name for this answer ("answer", "repair"). */
  readonly name: string
  /** The kept bytes' file extension ("json", "mp3"). */
  readonly ext: string
  /** Response headers kept with the answer (lower-case names), e.g. `request-id`, `x-character-count`. */
  readonly headers: ReadonlyArray<string>
  /** What the build says it waits for on Ctrl-C ("narration", "shot list"). */
  readonly what: string
  /** Notes in the journal that the request was sent, until its answer is kept or refused (default true), so
   *  that a build killed while the answer was on its way is known to pay again (`repaid`). False for a free
   *  server (a local one), where asking again costs nothing. */
  readonly markSent?: boolean | undefined
}

/** The journal's note that a request was sent and its answer not kept yet: `<name>SentAt`. */
export const sentNote = (name: string) => `${name}SentAt`

/** Why a request about to be sent may pay again: an earlier build sent it, and stopped before its answer came. */
export const unansweredWhy = (notes: { readonly [k: string]: unknown }): string | undefined =>
  Object.keys(notes).some((k) => k.endsWith("SentAt") && typeof notes[k] === "number")
    ? "an earlier build sent this request and stopped before its answer arrived (it may have been billed)"
    : undefined

export interface OnceAnswer extends HttpResponse {
  /** The answer an earlier run received and kept: nothing new was paid for it. */
  readonly resumed: boolean
}

const headersNote = (name: string) => `${name}Headers`

/** The kept answer `name`, if an earlier run received one. */
export const kept = (follow: Follow, name: string): Effect.Effect<OnceAnswer | undefined> =>
  Effect.map(follow.journal.read, (k) => {
    const body = k.answer(name)
    if (body === undefined) return undefined
    const note = k.notes[headersNote(name)]
    const headers: Record<string, string> = {}
    if (typeof note === "object" && note !== null && !Array.isArray(note))
      for (const [h, v] of Object.entries(note)) if (typeof v === "string") headers[h] = v
    return { ...makeResponse({ status: 200, headers, body }), resumed: true }
  })

/** Sends the request, unless an earlier run kept its answer. Fails only on network trouble. */
export const send = (service: string, follow: Follow, request: Omit<HttpRequest, "keep">, options: OnceOptions) =>
  Effect.gen(function*() {
    const earlier = yield* kept(follow, options.name)
    if (earlier !== undefined) return earlier
    const http = yield* Http
    const mark = options.markSent !== false
    const sent = sentNote(options.name)
    if (mark) yield* follow.journal.note({ [sent]: Date.now() })
    const res = yield* finishPaid(
      http.request(service, {
        ...request,
        keep: (answer) => {
          const headers: Record<string, Json> = {}
          for (const h of options.headers) if (answer.headers[h] !== undefined) headers[h] = answer.headers[h]!
          // The answer and the end of the "sent" note in one write.
          return follow.journal.keep(options.name, answer.body, options.ext, { [headersNote(options.name)]: headers, [sent]: undefined }).pipe(Effect.ignore)
        }
      }),
      follow.onWaiting?.(options.what) ?? Effect.void
    ).pipe(
      // Nothing left the machine (a refused connection, a connect time-out): nothing can have been billed.
      Effect.tapError((f) => (mark && f.reason === "refused" ? follow.journal.note({ [sent]: undefined }) : Effect.void))
    )
    // A refusal (4xx/5xx) is an answer: the request is settled, and not billed.
    if (mark && (res.status < 200 || res.status >= 300)) yield* follow.journal.note({ [sent]: undefined })
    return { ...res, resumed: false } satisfies OnceAnswer
  }) as Effect.Effect<OnceAnswer, HttpFailure, Http>

/** Forgets a kept answer that turned out to be an error inside a 200 (not billed), so the next try asks again. */
export const drop = (follow: Follow, name: string) => follow.journal.drop([name, headersNote(name)])
