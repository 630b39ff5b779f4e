/**
 * What every request passes before any route sees it (the serve-level middleware: it covers the page, `/docs`
 * and `/openapi.json` as well as the API; HttpApi's own security only covers its endpoints). In order:
 *
 * 1. Host. On a loopback bind only loopback names are answered: a page of another site whose name was made to
 *    resolve to 127.0.0.1 (DNS rebinding) sends its own name as Host and gets a 403.
 * 2. Token. When a token is set (required off loopback: `STORYSHOT_TOKEN`), a request without it gets a 401:
 *    `Authorization: Bearer <token>`, or the session cookie the sign-in form sets (a browser cannot put a header
 *    on `<img>`, `<video>` or `EventSource`). Compared as SHA-256 digests with `timingSafeEqual`: constant time,
 *    whatever the lengths. Never accepted in the query string (URLs end up in logs and span attributes).
 * 3. Origin. A write (any method but GET, HEAD, OPTIONS) from a page of another origin is refused (403), by
 *    `Origin` and `Sec-Fetch-Site`; CORS middleware would only add headers, never refuse.
 * 4. Size. A body over the limit is answered 413 from `Content-Length`, before it is read; a body without a
 *    length (chunked) gets 411. (The platform's own limit drops the connection with no status at all.)
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto"
import { HttpServerRequest, HttpServerResponse, type HttpApp } from "@effect/platform"
import { Effect } from "effect"

export interface Options {
  /** Required when set; see `requiresToken`. */
  readonly token: string | undefined
  /** The address the server is bound to (a loopback one restricts Host). */
  readonly host: string
  readonly maxBodyBytes: number
}

export const defaultMaxBodyBytes = 4 * 1024 * 1024

const loopbackHosts = new Set(["127.0.0.1", "localhost", "::1", "[::1]"])

export const isLoopback = (host: string) => loopbackHosts.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host)

const digest = (s: string) => createHash("sha256").update(s).digest()

/** Constant-time equality of two secrets of any lengths. */
export const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b))

export const cookieName = "storyshot_session"

/** The cookie's value: derived from the token (not the token itself), the same across restarts. */
export const sessionValue = (token: string) => createHmac("sha256", token).update("storyshot serve session v1").digest("hex")

export const sessionCookie = (token: string) => `${cookieName}=${sessionValue(token)}; HttpOnly; SameSite=Strict; Path=/`

const cookieOf = (header: string | undefined): string | undefined => {
  for (const part of (header ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=")
    if (name === cookieName) return value.join("=")
  }
  return undefined
}

/** Whether the request carries the token (a bearer header or the session cookie). */
export const authorized = (headers: { readonly [name: string]: string | undefined }, token: string): boolean => {
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? "")?.[1]?.trim()
  const cookie = cookieOf(headers.cookie)
  // Both are compared, so the time taken does not tell which one was tried.
  const byHeader = sameSecret(bearer ?? "", token) && bearer !== undefined
  const byCookie = sameSecret(cookie ?? "", sessionValue(token)) && cookie !== undefined
  return byHeader || byCookie
}

const refuse = (status: number, tag: string, message: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ _tag: tag, message }, { status, headers })

const hostName = (host: string) => (host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "")).toLowerCase()

/** The sign-in page a browser gets instead of a bare 401 (no script: a form that posts the token). */
const signIn = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>storyshot · sign in</title>
<style>body{font:16px system-ui,sans-serif;max-width:26rem;margin:12vh auto;padding:0 1rem;color:#1d1d1f;background:#f6f5f2}input,button{font:inherit;padding:.6rem .7rem;width:100%;box-sizing:border-box;margin:.4rem 0;border-radius:8px;border:1px solid #bbb}button{background:#8a4b2a;color:#fff;border:0}</style></head>
<body><h1>storyshot</h1><p>This server needs its token (<code>STORYSHOT_TOKEN</code>, set where it was started).</p>
<form method="post" action="/api/session"><label for="t">Token</label><input id="t" name="token" type="password" autocomplete="current-password" required autofocus><button type="submit">Sign in</button></form></body></html>`

export interface Refusal {
  readonly status: number
  readonly tag: string
  readonly message: string
  readonly headers?: Record<string, string> | undefined
  /** A browser asking for a page gets the sign-in form instead of the JSON. */
  readonly signIn?: boolean | undefined
}

/**
 * The checks above on a request's method, path and headers: why it is refused, or undefined. Pure, so that the
 * status polls answered before the Effect app (Polls.ts) pass exactly the checks every other request passes.
 */
export const check = (
  options: Options,
  method: string,
  path: string,
  headers: { readonly [name: string]: string | undefined }
): Refusal | undefined => {
  const host = headers.host ?? ""
  if (isLoopback(options.host) && !isLoopback(hostName(host)))
    return { status: 403, tag: "Forbidden", message: `this server answers on its loopback address only (Host "${hostName(host)}" refused): open http://127.0.0.1:<port>/` }
  const signingIn = method === "POST" && path === "/api/session"
  if (options.token !== undefined && !signingIn && !authorized(headers, options.token))
    return {
      status: 401,
      tag: "Unauthorized",
      message: "this server needs its token: send Authorization: Bearer $STORYSHOT_TOKEN (or sign in on the page)",
      headers: { "www-authenticate": 'Bearer realm="storyshot"' },
      signIn: method === "GET" && (headers.accept ?? "").includes("text/html")
    }
  if (method !== "GET" && method !== "HEAD" && method !== "OPTIONS") {
    const site = headers["sec-fetch-site"]
    const origin = headers.origin
    if ((site !== undefined && site !== "same-origin" && site !== "none") || (origin !== undefined && origin.toLowerCase() !== `http://${host.toLowerCase()}`))
      return { status: 403, tag: "Forbidden", message: `a write from another origin (${origin ?? site}) is refused: use the page this server serves, or a client that sends no Origin` }
    const length = headers["content-length"]
    if (length === undefined && headers["transfer-encoding"] !== undefined)
      return { status: 411, tag: "LengthRequired", message: "send the body with a Content-Length (chunked bodies are not taken)" }
    if (length !== undefined && !(Number(length) <= options.maxBodyBytes))
      return {
        status: 413,
        tag: "PayloadTooLarge",
        message: `the request body is ${length} bytes, over this server's limit of ${options.maxBodyBytes}: send a shorter transcript, or split it`
      }
  }
  return undefined
}

export const middleware =
  (options: Options) =>
  (app: HttpApp.Default): HttpApp.Default =>
    Effect.gen(function* () {
      const req = yield* HttpServerRequest.HttpServerRequest
      const refusal = check(options, req.method.toUpperCase(), req.url.split("?")[0] ?? "/", req.headers)
      if (refusal === undefined) return yield* app
      return refusal.signIn
        ? HttpServerResponse.html(signIn).pipe(HttpServerResponse.setStatus(401))
        : refuse(refusal.status, refusal.tag, refusal.message, refusal.headers)
    })
