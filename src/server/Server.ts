/**
 * `storyshot serve` as a layer: the API (Api.ts, Handlers.ts), `/openapi.json`, Swagger UI at `/docs` (inlined
 * in @effect/platform: it works offline), the page, and the security middleware in front of all of them.
 *
 * Two things @effect/platform 0.97 answers with an empty body are made JSON here (`JsonErrors`): a body that
 * is not JSON (a 400) and a route that does not exist (a 404). They are caught inside the API's app, where
 * the response is still being made (a serve-level middleware only sees it after it was sent).
 */
import { createServer, type Server as NodeServer } from "node:http"
import { HttpApiBuilder, HttpApiError, HttpApiSwagger, HttpIncomingMessage, HttpMiddleware, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Effect, Layer, Option } from "effect"
import { Api } from "./Api.ts"
import { BuildsLive, FilesLive, ProjectsLive, SessionLive, StoryLive } from "./Handlers.ts"
import * as LocalJobs from "./LocalJobs.ts"
import * as Metrics from "./Metrics.ts"
import * as Page from "./Page.ts"
import * as Polls from "./Polls.ts"
import { Projects } from "./Projects.ts"
import * as Security from "./Security.ts"

export interface Options {
  readonly port: number
  readonly host: string
  /** Serve the workspaces under this folder… */
  readonly root?: string | undefined
  /** …or this one. */
  readonly workspace?: string | undefined
  readonly token?: string | undefined
  readonly maxBodyBytes?: number | undefined
  /** Builds go on this queue for `storyshot worker` (issue 19), instead of running in this process. */
  readonly queue?: import("../queue/Redis.ts").QueueSettings | undefined
  /** Prometheus metrics at `/metrics`. */
  readonly metrics?: Metrics.Metrics | undefined
  /** Told where the server listens once it does (port 0 picks a free one). */
  readonly onListen?: ((address: { readonly host: string; readonly port: number }) => void) | undefined
}

const json = (status: number, tag: string, message: string) => HttpServerResponse.unsafeJson({ _tag: tag, message }, { status })

type Issue = HttpApiError.HttpApiDecodeError["issues"][number]

/**
 * A schema mismatch in one line, per field: `profile: expected "draft" or "cloud", got "gold"`. The platform's
 * message is a multi-line tree (kept in `issues` for programs); a person wants the field and what would do.
 */
export const decodeMessage = (issues: ReadonlyArray<Issue>): string => {
  const byPath = new Map<string, Array<Issue>>()
  // An optional field's "Expected undefined" says nothing the other issues don't.
  const useful = issues.filter((i) => !/^Expected undefined\b/.test(i.message))
  for (const issue of useful.length > 0 ? useful : issues) {
    const key = issue.path.map(String).join(".") || "the request"
    byPath.set(key, [...(byPath.get(key) ?? []), issue])
  }
  const parts = [...byPath].map(([key, group]) => {
    const wanted = group.map((i) => /^Expected (.+), actual (.+)$/s.exec(i.message))
    if (group.length > 1 && wanted.every((m) => m !== null))
      return `${key}: expected ${wanted.map((m) => m![1]).join(" or ")}, got ${wanted[0]![2]}`
    return `${key}: ${group[0]!.message.replace(/\s*\n\s*/g, " ")}`
  })
  return `the request does not match the API: ${parts.join("; ")} (the shapes are at /docs)`
}

const JsonErrors = HttpApiBuilder.middleware((app) =>
  app.pipe(
    Effect.catchAllCause((cause) => {
      // Typed failures are still failures here (the API encodes them after this middleware); the app's type says
      // `never` because it is an HttpApp, whose errors are answered whatever they are.
      const failure: Option.Option<unknown> = Cause.failureOption(cause)
      if (Option.isSome(failure) && failure.value instanceof HttpApiError.HttpApiDecodeError) {
        const issues = failure.value.issues
        return Effect.failCause(Cause.fail(new HttpApiError.HttpApiDecodeError({ issues, message: decodeMessage(issues) }))) as Effect.Effect<never>
      }
      const error = Cause.squash(cause) as { _tag?: string; reason?: string; message?: string } | undefined
      switch (error?._tag) {
        case "RouteNotFound":
          return Effect.succeed(json(404, "NotFound", "no such route: the API is described at /docs (and /openapi.json)"))
        case "RequestError":
          return Effect.succeed(json(400, "BadRequest", "the request body could not be read as the content type it names (e.g. it is not valid JSON)"))
        case "MultipartError":
          return Effect.succeed(
            error.reason === "FileTooLarge" || error.reason === "BodyTooLarge" || error.reason === "FieldTooLarge"
              ? json(413, "PayloadTooLarge", "the upload is over this server's limit: send a shorter transcript")
              : json(400, "BadRequest", `the upload could not be read (${error.reason}): send multipart/form-data with the fields name, profile and transcript (a file)`)
          )
      }
      // A typed error (NotFound, Unprocessable, a decode error…) is the API's to encode, as declared.
      if (Cause.isFailType(cause) || Cause.isInterruptedOnly(cause) || Option.isSome(Cause.failureOption(cause))) return Effect.failCause(cause)
      // A defect is our bug: the server's log has it; the client gets one line, no stack.
      return Effect.logError("storyshot serve: internal error", cause).pipe(
        Effect.as(json(500, "InternalError", "internal error in storyshot serve (its log has the details; please report it)"))
      )
    })
  )
)

/** Who runs the builds: this process, or the workers behind a queue; counted for /metrics either way. */
const jobs = (options: Options) => {
  const runner = options.queue
    ? Layer.unwrapEffect(Effect.promise(() => import("../queue/QueueJobs.ts")).pipe(Effect.map((q) => q.layer(options.queue!))))
    : LocalJobs.layer
  return options.metrics ? Metrics.counted(options.metrics).pipe(Layer.provide(runner)) : runner
}

export const layer = (options: Options) => {
  const maxBodyBytes = options.maxBodyBytes ?? Security.defaultMaxBodyBytes
  const security = Security.middleware({ token: options.token, host: options.host, maxBodyBytes })
  const polls = Polls.make()
  const api = HttpApiBuilder.api(Api).pipe(
    Layer.provide([ProjectsLive, BuildsLive, StoryLive, FilesLive, SessionLive(options.token)]),
    Layer.provide(Layer.succeed(Polls.PollCache, polls))
  )
  const listen = Layer.effectDiscard(
    HttpServer.addressWith((address) =>
      Effect.sync(() => {
        if (address._tag === "TcpAddress") options.onListen?.({ host: address.hostname, port: address.port })
      })
    )
  )
  const serve = HttpApiBuilder.serve((app) => HttpIncomingMessage.withMaxBodySize(security(app), Option.some(maxBodyBytes))).pipe(
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(Page.layer),
    Layer.provide(options.metrics ? Metrics.route(options.metrics) : Layer.empty),
    Layer.provide(JsonErrors),
    Layer.provide(api),
    Layer.provide(jobs(options)),
    Layer.provide(Projects.layer({ root: options.root, workspace: options.workspace })),
    // Status polls and event streams would make a span per poll (with every header as an attribute).
    HttpMiddleware.withTracerDisabledWhen((req) => /\/builds\/[^/]+$|\/events$/.test(req.url.split("?")[0] ?? ""))
  )
  // The socket listens as soon as it is made, but requests are answered only once the app is installed (after
  // the job runner's recovery, which reads every project): the address is told only then, so a client that
  // waits for it never meets a server that does not answer yet.
  // Node's server.close() (what the platform calls on the way out) waits for every open connection, and a page's
  // event stream never ends by itself: Ctrl-C printed "stopping" and the server stayed up while a page was open.
  // So the connections are closed first (the builds are stopped as Ctrl-C stops them, by the job runner's scope).
  let nodeServer: NodeServer | undefined
  // Status polls with a current answer are answered from memory before the app sees them (Polls.ts): the
  // platform listens for "request", so the event is taken here first and passed on when it is not one.
  const poll = Polls.answer(polls, { token: options.token, host: options.host, maxBodyBytes })
  const make = () => {
    const server = createServer()
    const emit = server.emit
    server.emit = function (this: NodeServer, event: string | symbol, ...args: Array<any>) {
      if (event === "request" && poll(args[0], args[1])) return true
      return (emit as (this: NodeServer, event: string | symbol, ...args: Array<any>) => boolean).call(this, event, ...args)
    } as typeof server.emit
    return (nodeServer = server)
  }
  const closeConnections = Layer.scopedDiscard(Effect.addFinalizer(() => Effect.sync(() => nodeServer?.closeAllConnections())))
  return serve.pipe(
    Layer.flatMap(() => Layer.merge(listen, closeConnections)),
    Layer.provide(NodeHttpServer.layer(make, { port: options.port, host: options.host }))
  )
}
