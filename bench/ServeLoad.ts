/**
 * The load of bench/Serve.ts, in a process of its own (forked by it): N clients holding a project's event
 * stream and a steady rate of status requests, until told to stop. It is kept lean so that the figure measures
 * the server, not the load: it shares the machine's cores with the server and the build, and it used to share
 * a process with the fake providers too, whose answers then waited behind it.
 *
 * - Plain sockets (node:net), no fetch: each request is one write of bytes made once, each answer is parsed only
 *   as far as its status line and length. Connections are kept alive and reused (a pool that grows only when
 *   every connection has a request in flight), so a poll costs no TCP handshake.
 * - Requests are paced by the clock (every 10 ms, as many as are due), not by a timer per request.
 *
 * Reports (to its parent, over IPC) the requests sent and answered, the errors (a status that is not 200, a
 * dropped connection, a stream that ended early or never saw the build end), the answers' latencies, and its own
 * CPU seconds while it ran.
 *
 *     fork(run-ts.js, ["bench/ServeLoad.ts", JSON.stringify({ port, project, runId, streams, perSecond })])
 */
import * as net from "node:net"

interface Options {
  readonly port: number
  readonly project: string
  readonly runId: string
  readonly streams: number
  readonly perSecond: number
}

const options = JSON.parse(process.argv[2] ?? "{}") as Options
const errors: Array<string> = []
const error = (what: string) => {
  if (errors.length < 100) errors.push(what)
  else errors.length++
}

const head = (path: string, extra = "") =>
  Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\nConnection: keep-alive\r\n${extra}\r\n`, "latin1")

// ---------------------------------------------------------------------------------------------------------
// Status polls

const statusRequest = head(`/api/projects/${options.project}/builds/${options.runId}`, "Accept: application/json\r\n")
let sent = 0
let answered = 0
const latencies: Array<number> = []

interface Conn {
  readonly socket: net.Socket
  busy: boolean
  sentAt: number
  /** When it last went idle (a connection idle for the server's keep-alive time is closed by the server). */
  idleSince: number
  buf: Buffer
}

/**
 * Node's server closes a keep-alive connection idle for 5 s (it says `Keep-Alive: timeout=5`). A request written
 * on it just then meets a closed socket (ECONNRESET): so, as undici does, a connection idle for nearly that long
 * is closed here first and never reused.
 */
const idleMs = 4000
const idle: Array<Conn> = []
const all = new Set<Conn>()
let peakConnections = 0

/** Takes one whole answer off the front of the buffer, if it is all there: its status, or undefined. */
const takeAnswer = (c: Conn): number | undefined => {
  const end = c.buf.indexOf("\r\n\r\n")
  if (end < 0) return undefined
  const header = c.buf.toString("latin1", 0, end)
  const status = Number(header.slice(9, 12))
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(header)
  if (length) {
    const total = end + 4 + Number(length[1])
    if (c.buf.length < total) return undefined
    c.buf = c.buf.subarray(total)
    return status
  }
  // Chunked: the answer ends with the zero-length chunk.
  const last = c.buf.indexOf("\r\n0\r\n\r\n", end)
  if (last < 0) return undefined
  c.buf = c.buf.subarray(last + 7)
  return status
}

const connect = (): Conn => {
  const socket = net.connect(options.port, "127.0.0.1")
  socket.setNoDelay(true)
  const c: Conn = { socket, busy: false, sentAt: 0, idleSince: 0, buf: Buffer.alloc(0) }
  all.add(c)
  peakConnections = Math.max(peakConnections, all.size)
  socket.on("data", (chunk) => {
    c.buf = c.buf.length === 0 ? chunk : Buffer.concat([c.buf, chunk])
    const status = takeAnswer(c)
    if (status === undefined) return
    answered++
    latencies.push(performance.now() - c.sentAt)
    if (status !== 200) error(`status ${status}`)
    c.busy = false
    c.idleSince = performance.now()
    idle.push(c)
  })
  const gone = (why: string) => {
    if (!all.delete(c)) return
    const at = idle.indexOf(c)
    if (at >= 0) idle.splice(at, 1)
    if (c.busy && !stopping) error(`status: ${why}`)
  }
  socket.on("error", (e) => gone(e.message))
  // The server ended it (its side of a keep-alive time-out): not to be used again.
  socket.on("end", () => gone("the server closed the connection"))
  socket.on("close", () => gone("the connection closed"))
  return c
}

/** The most recently used idle connection that is not about to be closed by the server. */
const idleConnection = (): Conn | undefined => {
  const now = performance.now()
  // The stack's bottom holds the longest idle: those past `idleMs` are closed.
  while (idle.length > 0 && now - idle[0]!.idleSince > idleMs) {
    const stale = idle.shift()!
    all.delete(stale)
    stale.socket.destroy()
  }
  return idle.pop()
}

const poll = () => {
  const c = idleConnection() ?? connect()
  c.busy = true
  c.sentAt = performance.now()
  sent++
  c.socket.write(statusRequest)
}

// ---------------------------------------------------------------------------------------------------------
// Event streams

let events = 0
let sawEnd = 0
/** The job's end: its Job event in a final state (Build events carry the run id too, but no `_tag":"Job"`). */
const isEnd = (p: string) => p.includes(`"_tag":"Job"`) && p.includes(options.runId) && /"state":"(done|failed)"/.test(p)

const stream = () => {
  const socket = net.connect(options.port, "127.0.0.1")
  let header: string | undefined
  let raw = Buffer.alloc(0)
  let text = ""
  let ended = false
  // The body is chunked: size line, data, CRLF. Only the data is kept.
  const dechunk = () => {
    for (;;) {
      const line = raw.indexOf("\r\n")
      if (line < 0) return
      const size = parseInt(raw.toString("latin1", 0, line), 16)
      if (size === 0) return
      if (raw.length < line + 2 + size + 2) return
      text += raw.toString("utf8", line + 2, line + 2 + size)
      raw = raw.subarray(line + 2 + size + 2)
    }
  }
  socket.on("data", (chunk) => {
    raw = raw.length === 0 ? chunk : Buffer.concat([raw, chunk])
    if (header === undefined) {
      const end = raw.indexOf("\r\n\r\n")
      if (end < 0) return
      header = raw.toString("latin1", 0, end)
      raw = raw.subarray(end + 4)
      if (Number(header.slice(9, 12)) !== 200) error(`events ${header.slice(9, 12)}`)
    }
    dechunk()
    const parts = text.split("\n\n")
    text = parts.pop()!
    for (const p of parts) {
      if (!p.startsWith("id:")) continue
      events++
      if (!ended && isEnd(p)) {
        ended = true
        sawEnd++
      }
    }
  })
  socket.on("error", (e) => {
    if (!stopping) error(`events: ${e.message}`)
  })
  socket.on("close", () => {
    if (!stopping) error("an event stream ended")
  })
  socket.write(head(`/api/projects/${options.project}/events`, "Accept: text/event-stream\r\n"))
  return socket
}

// ---------------------------------------------------------------------------------------------------------

let stopping = false
const cpu0 = process.cpuUsage()
const started = performance.now()
const sockets = Array.from({ length: options.streams }, stream)
const every = 1000 / options.perSecond
const ticker = setInterval(() => {
  const due = Math.floor((performance.now() - started) / every) + 1
  while (sent < due) poll()
}, 10)

process.on("message", async (m: { stop?: boolean }) => {
  if (!m.stop) return
  clearInterval(ticker)
  const seconds = (performance.now() - started) / 1000
  // The polls in flight are answered before the count is taken.
  const until = Date.now() + 10_000
  while (answered < sent && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  if (answered < sent) error(`${sent - answered} status request(s) never answered`)
  // Give the streams a moment to deliver the end, then close them.
  await new Promise((r) => setTimeout(r, 500))
  stopping = true
  for (const s of sockets) s.destroy()
  for (const c of all) c.socket.destroy()
  if (sawEnd < options.streams) error(`${options.streams - sawEnd} event stream(s) did not see the build end`)
  const cpu = process.cpuUsage(cpu0)
  const sorted = [...latencies].sort((a, b) => a - b)
  const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
  process.send!(
    {
      seconds,
      statusRequests: answered,
      connections: peakConnections,
      errors: errors.length,
      errorSample: errors.slice(0, 3),
      sseEvents: events,
      sseSawEnd: sawEnd,
      latencyMs: { p50: pct(0.5), p99: pct(0.99), max: sorted.at(-1) ?? 0 },
      cpu: (cpu.user + cpu.system) / 1e6
    },
    () => process.exit(0)
  )
})
process.send!({ ready: true })
