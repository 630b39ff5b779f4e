/**
 * Traces of a build, exported to a local OTLP/HTTP receiver (a small server in this test that keeps the
 * JSON it is sent): one trace per build, one span per node that ran, carrying its cost and provider, and
 * not one byte of any key. With no endpoint set, nothing is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as http from "node:http"
import { Effect, Exit, Layer } from "effect"
import * as Telemetry from "../../src/Telemetry.ts"
import { keys, startFakes, type Fakes } from "../fakes/all.ts"
import { cliAsync, makeWorkspace, runBuild, smallConfig } from "../e2e/harness.ts"

interface OtlpValue {
  readonly stringValue?: string
  readonly doubleValue?: number
  readonly intValue?: string | number
  readonly boolValue?: boolean
}
interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }>
  readonly status: { readonly code: number; readonly message?: string }
}

const value = (v: OtlpValue | undefined) =>
  v === undefined ? undefined : v.stringValue ?? v.doubleValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue
const attr = (span: OtlpSpan, key: string) => value(span.attributes.find((a) => a.key === key)?.value)

/** An OTLP/HTTP receiver: every body it is sent, and the spans in the JSON ones. */
const startReceiver = async () => {
  const bodies: Array<{ path: string; type: string; body: string }> = []
  const spans: Array<OtlpSpan> = []
  const server = http.createServer((req, res) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (c) => (body += c))
    req.on("end", () => {
      bodies.push({ path: req.url ?? "", type: String(req.headers["content-type"]), body })
      if (req.url === "/v1/traces" && String(req.headers["content-type"]).startsWith("application/json"))
        for (const rs of JSON.parse(body).resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans)
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as { port: number }).port
  return { url: `http://127.0.0.1:${port}`, bodies, spans, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

let fakes: Fakes
let receiver: Awaited<ReturnType<typeof startReceiver>>
beforeAll(async () => {
  ;[fakes, receiver] = await Promise.all([startFakes(), startReceiver()])
})
afterAll(async () => {
  await Promise.all([fakes?.close(), receiver?.close()])
})

const story = ["The fox ran across the frozen river at dawn.", "Snow fell on the pines."]

describe("traces", () => {
  it("a cloud build exports one trace: a span per node that ran, with its cost and provider, and no key", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud"`) })
    receiver.spans.length = 0
    receiver.bodies.length = 0
    const { summary } = await runBuild(dir, {}, { ...fakes.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_HEADERS: "x-collector-token=tok-5e9a1b77c2" })
    expect(summary.failed).toEqual([])
    const spans = receiver.spans
    const nodes = spans.filter((s) => s.name === "Scheduler.runNode")
    // One span per node that ran (this build made every one of them), none twice.
    expect(nodes.map((s) => attr(s, "node.id")).sort()).toEqual([...summary.built].sort())
    for (const s of nodes) expect(typeof attr(s, "node.cost.usd")).toBe("number")
    const paid = nodes.filter((s) => attr(s, "node.paid") === true)
    expect(paid.map((s) => `${attr(s, "node.id")}:${attr(s, "node.providers")}`).sort()).toEqual(
      ["sentence:1:audio:fal", "sentence:2:audio:fal", "sentence:1:prompts:openrouter", "sentence:2:prompts:openrouter", "shot:1:image:openai", "shot:2:image:openai", "shot:1:video:fal", "shot:2:video:fal"].sort()
    )
    // What the spans say was spent is what the build says it spent.
    const spent = nodes.reduce((a, s) => a + Math.max(0, Number(attr(s, "node.cost.usd"))), 0)
    expect(spent).toBeCloseTo(summary.cost.usd, 6)
    // One trace: every span under the build's root span.
    const root = spans.find((s) => s.name === "storyshot build")!
    expect(root).toBeDefined()
    expect(attr(root, "build.built")).toBe(summary.built.length)
    expect(attr(root, "build.cost.usd")).toBeCloseTo(summary.cost.usd, 6)
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([root.traceId]))
    const build = spans.find((s) => s.name === "Scheduler.build" && attr(s, "build.dryRun") === false)!
    for (const s of nodes) expect(s.parentSpanId).toBe(build.spanId)
    // Not one byte of any key or token reached the collector.
    const sent = receiver.bodies.map((b) => b.body).join("\n")
    for (const secret of [keys.fal, keys.openai, keys.openrouter, "tok-5e9a1b77c2"]) expect(sent).not.toContain(secret)
    console.log(
      `trace: ${spans.length} spans, ${nodes.length} node spans (${paid.length} paid), spent ${spent.toFixed(4)} USD by the spans vs ${summary.cost.usd.toFixed(4)} by the build`
    )
  })

  it("the installed command exports its build too (the bundle loads the exporter only then)", async () => {
    const dir = makeWorkspace(story[0]!)
    receiver.spans.length = 0
    const code = await new Promise<number | null>((resolve) => {
      const child = cliAsync(["build", "--quiet"], { cwd: dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } })
      child.on("close", resolve)
    })
    expect(code).toBe(0)
    const names = new Set(receiver.spans.map((s) => s.name))
    expect(names.has("storyshot build")).toBe(true)
    expect(receiver.spans.filter((s) => s.name === "Scheduler.runNode").length).toBeGreaterThan(5)
  })

  it("with no endpoint set, nothing is sent", async () => {
    const dir = makeWorkspace(story[0]!)
    receiver.bodies.length = 0
    const { summary } = await runBuild(dir, {}, {})
    expect(summary.failed).toEqual([])
    expect(receiver.bodies).toEqual([])
    expect(Telemetry.endpoint({})).toBeUndefined()
    expect(Telemetry.endpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: "true" })).toBeUndefined()
    expect(Telemetry.endpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/` })).toBe(`${receiver.url}/v1/traces`)
  })

  it("a secret in a span attribute, an event or a failure message is redacted before export", async () => {
    receiver.spans.length = 0
    receiver.bodies.length = 0
    const secret = "sk-live-0123456789abcdef"
    const program = Effect.gen(function* () {
      yield* Effect.annotateCurrentSpan({ "http.request.header.xi-api-key": "whatever", "url.full": `https://x/?key=${secret}`, note: { deep: secret } })
      yield* Effect.fail(new Error(`401 for key ${secret}`))
    }).pipe(Effect.withSpan("leaky"))
    const exit = await Effect.runPromiseExit(program.pipe(Effect.provide(Telemetry.layer({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, [secret]))))
    expect(Exit.isFailure(exit)).toBe(true)
    const leaky = receiver.spans.find((s) => s.name === "leaky")!
    expect(attr(leaky, "http.request.header.xi-api-key")).toBe("<redacted>")
    expect(attr(leaky, "url.full")).toBe("https://x/?key=<redacted>")
    expect(receiver.bodies.map((b) => b.body).join("")).not.toContain(secret)
    expect(JSON.stringify(leaky)).toContain("401 for key <redacted>")
    expect(Layer.isLayer(Telemetry.layer({}))).toBe(true)
  })
})
