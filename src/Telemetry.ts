/**
 * OpenTelemetry traces of builds, from the Effect spans the code already opens (`Scheduler.build`, one
 * `Scheduler.runNode` per node that runs, carrying its cost and providers, the providers' calls, the remote
 * cache's fetches), exported over OTLP/HTTP as JSON when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. When neither is set nothing is loaded and nothing is sent.
 *
 * The exporter is `@effect/opentelemetry`'s own OTLP tracer: it needs no OpenTelemetry SDK (so turning
 * traces on adds a few modules, not the SDK's start-up), sends JSON to `<endpoint>/v1/traces` every 5 s and
 * at the end of the run (at most 3 s more when the collector does not answer).
 *
 * Secrets: the platform's HTTP tracing puts request headers on spans (only `authorization`, `cookie`,
 * `set-cookie` and `x-api-key` are redacted by default), and an error message could quote anything. So
 * every attribute, event and failure message goes through `redact` before it is exported: the values of
 * the keys in use (providers', the cache's, the collector's own headers) become `<redacted>`, and so does
 * any attribute whose name says it holds one.
 *
 * Standard variables honoured: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
 * OTEL_EXPORTER_OTLP_HEADERS / _TRACES_HEADERS ("k=v,k2=v2"), OTEL_SERVICE_NAME, OTEL_SDK_DISABLED,
 * OTEL_TRACES_EXPORTER=none.
 */
import { Cause, Effect, Exit, Layer, Tracer } from "effect"

type Env = { readonly [name: string]: string | undefined }

const mask = "<redacted>"
/** Attribute names whose values are secrets whatever they hold. */
const secretName = /authorization|cookie|api[-_.]?key|secret|token|password|credential|x-fal-key|xi-api-key/i

/** The traces endpoint, or undefined when traces are off. */
export const endpoint = (env: Env): string | undefined => {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === "true" || env.OTEL_TRACES_EXPORTER?.toLowerCase() === "none") return undefined
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()
  if (traces) return traces
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
  return base ? `${base.replace(/\/+$/, "")}/v1/traces` : undefined
}

/** `k=v,k2=v2` (values URL-encoded), as the OTLP exporter spec has it. */
export const parseHeaders = (text: string | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const part of (text ?? "").split(",")) {
    const eq = part.indexOf("=")
    if (eq <= 0) continue
    try {
      out[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim())
    } catch {}
  }
  return out
}

/** The environment's secrets, besides the ones the caller names (the providers' keys). */
const envSecrets = (env: Env, headers: Record<string, string>) =>
  [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN, env.STORYSHOT_TOKEN, ...Object.values(headers)].filter((s): s is string => !!s && s.length >= 4)

export const redactText = (text: string, secrets: ReadonlyArray<string>) => {
  let out = text
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(mask)
  return out
}

/** An attribute as it may leave the machine. */
export const redactValue = (key: string, value: unknown, secrets: ReadonlyArray<string>): unknown => {
  if (secretName.test(key)) return mask
  if (typeof value === "string") return redactText(value, secrets)
  if (Array.isArray(value)) return value.map((v) => redactValue("", v, secrets))
  if (value !== null && typeof value === "object") {
    // Exported as its JSON text anyway: redacted as text.
    try {
      return redactText(JSON.stringify(value), secrets)
    } catch {
      return mask
    }
  }
  return value
}

/** A failure as the span reports it: its message redacted (the cause's structure is not exported). */
const redactExit = (exit: Exit.Exit<unknown, unknown>, secrets: ReadonlyArray<string>): Exit.Exit<unknown, unknown> => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return exit
  const failure = Cause.squash(exit.cause)
  const message = failure instanceof Error ? failure.message : typeof failure === "object" && failure !== null && "message" in failure ? String((failure as { message: unknown }).message) : String(failure)
  const error = new Error(redactText(message, secrets))
  error.name = failure instanceof Error ? failure.name : ((failure as { _tag?: string } | null)?._tag ?? "Error")
  error.stack = `${error.name}: ${error.message}`
  return Exit.fail(error)
}

/** Wraps a tracer so that nothing it exports carries a secret. */
export const redacting = (inner: Tracer.Tracer, secrets: ReadonlyArray<string>): Tracer.Tracer =>
  Tracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      const span = inner.span(redactText(name, secrets), parent, context, links, startTime, kind, options)
      const attribute = span.attribute.bind(span)
      const event = span.event.bind(span)
      const end = span.end.bind(span)
      return Object.assign(span, {
        attribute: (key: string, value: unknown) => attribute(key, redactValue(key, value, secrets)),
        event: (n: string, time: bigint, attributes?: Record<string, unknown>) =>
          event(
            redactText(n, secrets),
            time,
            attributes && Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, redactValue(k, v, secrets)]))
          ),
        end: (time: bigint, exit: Exit.Exit<unknown, unknown>) => end(time, redactExit(exit, secrets))
      })
    },
    context: (f, fiber) => inner.context(f, fiber)
  })

/**
 * The tracer for a run: the OTLP exporter when an endpoint is set, else nothing (no module is loaded:
 * the exporter's code is in TelemetryOtlp.ts, imported only here, and bundled as a lazy module).
 * `secrets` are the values that must never be exported (the providers' keys in use).
 */
export const layer = (env: Env, secrets: ReadonlyArray<string> = []): Layer.Layer<never> => {
  const url = endpoint(env)
  if (url === undefined) return Layer.empty
  const headers = { ...parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS), ...parseHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS) }
  const all = [...new Set([...secrets, ...envSecrets(env, headers)])].sort((a, b) => b.length - a.length)
  return Layer.unwrapEffect(
    Effect.map(Effect.promise(() => import("./TelemetryOtlp.ts")), (otlp) =>
      otlp.layer({ url, headers, serviceName: env.OTEL_SERVICE_NAME || "storyshot", wrap: (tracer) => redacting(tracer, all) })
    )
  )
}

/** The run's root span: one trace per build, its outcome on it. */
export const buildSpan =
  (attributes: Record<string, unknown>) =>
  <A extends { readonly built: ReadonlyArray<string>; readonly cached: ReadonlyArray<string>; readonly cost: { readonly usd: number; readonly known: boolean } }, E, R>(
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> =>
    self.pipe(
      Effect.tap((r) =>
        Effect.annotateCurrentSpan({
          "build.built": r.built.length,
          "build.cached": r.cached.length,
          "build.cost.usd": r.cost.usd,
          "build.cost.known": r.cost.known
        })
      ),
      Effect.withSpan("storyshot build", { attributes })
    )
