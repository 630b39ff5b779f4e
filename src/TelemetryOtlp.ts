/**
 * The OTLP/HTTP exporter of Telemetry.ts, apart so that nothing of it is loaded (or, in the bundle, even
 * initialised) unless traces are turned on: `@effect/opentelemetry`'s own OTLP tracer, JSON over the
 * platform's fetch client. No OpenTelemetry SDK is involved.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Headers from "@effect/platform/Headers"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { Effect, Layer, type Tracer } from "effect"

export const layer = (options: {
  readonly url: string
  readonly headers: Record<string, string>
  readonly serviceName: string
  /** What every span goes through before export (Telemetry.redacting). */
  readonly wrap: (tracer: Tracer.Tracer) => Tracer.Tracer
}): Layer.Layer<never> =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const tracer = yield* OtlpTracer.make({
        url: options.url,
        headers: options.headers,
        resource: { serviceName: options.serviceName },
        // A collector that does not answer delays the end of a run by at most this.
        shutdownTimeout: "3 seconds"
      }).pipe(Effect.provide(OtlpSerialization.layerJson), Effect.provide(FetchHttpClient.layer))
      return Layer.mergeAll(
        Layer.setTracer(options.wrap(tracer)),
        // Header names that hold keys, for any HTTP tracing the platform does (its default list is short).
        Layer.locallyScoped(Headers.currentRedactedNames, [
          "authorization",
          "cookie",
          "set-cookie",
          "x-api-key",
          "xi-api-key",
          "proxy-authorization",
          /key|token|secret|auth/i
        ])
      )
    })
  )
