/**
 * espeak-ng runs in worker threads, one per core at most (the `espeak` pool decides how many at once), so
 * narration uses every core and never blocks the main thread while the scheduler starts ffmpeg jobs.
 *
 * Surprises this room deals with:
 * - The package's Emscripten glue compiles its 18 MB of WASM on every call. Each worker compiles it once and
 *   hands the compiled module to the glue (`instantiateWasm`): each call then only instantiates it.
 * - The glue's in-memory filesystem throws an Error for every path it looks up and does not find (hundreds
 *   per call, as espeak-ng searches its data). Capturing their stack traces cost more than the synthesis;
 *   the worker sets `Error.stackTraceLimit = 0` while the glue runs. Together: about 0.3 → 0.1 CPU-s a call.
 * - The worker is a script given as text (`eval`), so it runs the same from the sources (tsx) and from the
 *   bundle (`dist/storyshot.cjs`) without a file of its own to find. The bundler rewrites `import(` in the
 *   sources, string literals included, so the script's one dynamic import is spelt `import (`.
 * - Each call instantiates 33 MB of WASM memory. As shipped, 18 MB of it is written at once (espeak-ng's data,
 *   the dictionaries of 113 languages); the module the workers get is the lean one (`Lean.ts`), and a call
 *   writes the phoneme data plus the one or two dictionaries it opens, about 1 MB (40 calls: 9.6 → 3.7 s).
 * - Two things kept dead instances alive: V8 frees them late (a worker briefly holds two), and the glue, built
 *   with assertions, defines ~160 getters on the global object that close over its instance (a build's two
 *   workers held six instances). The worker removes the glue's globals when a call ends and collects garbage
 *   after it (a few ms in its small heap): an idle worker holds no instance.
 * - A call cannot be stopped inside WASM: interrupting one terminates its worker; the next call starts another.
 * - A worker idle for 3 s stops, and the last one takes the compiled module with it: a build narrates early,
 *   and the workers' 40 MB each are then given back for the minutes of pictures and clips.
 * - A worker is ref'd only while it works: an idle one never keeps the process alive. (Attaching a "message"
 *   listener refs a worker's port again, so it is unref'd after its listeners.)
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import * as Lean from "./Lean.ts"

/** What one run of the espeak-ng command line printed, and the file it wrote (if asked for one). */
export interface RunResult {
  readonly stdout: ReadonlyArray<string>
  readonly stderr: ReadonlyArray<string>
  readonly bytes: Uint8Array | undefined
}

const source = String.raw`
const { parentPort, workerData } = require("node:worker_threads")
const fs = require("node:fs")
const { pathToFileURL } = require("node:url")
// Each call leaves a 33 MB WASM instance behind; collected at once, a worker stays at its own size.
let collect = () => {}
try {
  require("node:v8").setFlagsFromString("--expose-gc")
  collect = require("node:vm").runInNewContext("gc")
} catch {}
let loading
const load = () => (loading ??= (async () => {
  // "import (" with a space: bin/bundle.js rewrites the bundle's dynamic imports to its own loader, which
  // does not exist in this worker's script.
  const factory = (await import (pathToFileURL(workerData.module).href)).default
  // The compiled module comes from the main thread (compiled once, its code shared by every worker).
  const wasm = workerData.compiled ?? (await WebAssembly.compile(fs.readFileSync(workerData.wasm)))
  return { factory, wasm }
})())
// The lean module's dictionaries (Lean.ts), by file name: each is copied from the .wasm file into an
// instance's memory, at its own address, when espeak-ng first opens it.
const deferred = new Map((workerData.compiled ? workerData.deferred : []).map((d) => [d.name.slice(d.name.lastIndexOf("/") + 1), d]))
const decoder = new TextDecoder()
// Opened and closed each time: a worker's descriptors are the process's, and a stopped worker closes none.
const fill = (memory, d) => {
  const fd = fs.openSync(workerData.wasm, "r")
  try {
    const view = new Uint8Array(memory.buffer, d.address, d.length)
    for (let done = 0; done < d.length; ) {
      const n = fs.readSync(fd, view, done, d.length - done, d.offset + done)
      if (n <= 0) throw new Error("espeak-ng.wasm ended before " + d.name)
      done += n
    }
  } finally {
    fs.closeSync(fd)
  }
}
const withDeferred = (imports, instance) => {
  if (deferred.size === 0) return imports
  const filled = new Set()
  const openat = imports.env.__syscall_openat
  const env = { ...imports.env, __syscall_openat: (dirfd, at, flags, varargs) => {
    const memory = instance().exports.memory
    const bytes = new Uint8Array(memory.buffer)
    const name = decoder.decode(bytes.subarray(at, bytes.indexOf(0, at)))
    const d = deferred.get(name.slice(name.lastIndexOf("/") + 1))
    if (d && !filled.has(d)) {
      filled.add(d)
      fill(memory, d)
    }
    return openat(dirfd, at, flags, varargs)
  } }
  return { ...imports, env, wasi_snapshot_preview1: imports.wasi_snapshot_preview1 === imports.env ? env : imports.wasi_snapshot_preview1 }
}
parentPort.on("message", async ({ id, args, file }) => {
  const stdout = []
  const stderr = []
  try {
    const { factory, wasm } = await load()
    const limit = Error.stackTraceLimit
    const exitCode = process.exitCode
    let instance
    // The glue (built with assertions) defines some 160 getters on the global object, each closing over
    // this call's instance: the newest one or two instances (33 MB of WASM memory each) stayed alive for
    // as long as the worker did. They go when the call ends.
    const globals = new Set(Reflect.ownKeys(globalThis))
    collect()
    Error.stackTraceLimit = 0
    try {
      instance = await factory({
        arguments: args,
        thisProgram: "espeak-ng",
        print: (line) => stdout.push(line),
        printErr: (line) => stderr.push(line),
        instantiateWasm: (imports, done) => {
          let made
          WebAssembly.instantiate(wasm, withDeferred(imports, () => made)).then((i) => done((made = i), wasm), (e) => parentPort.postMessage({ id, stdout, stderr, error: String(e && e.message || e) }))
          return {}
        }
      })
    } finally {
      Error.stackTraceLimit = limit
      process.exitCode = exitCode
      for (const key of Reflect.ownKeys(globalThis)) if (!globals.has(key)) delete globalThis[key]
    }
    let bytes
    if (file) {
      try { bytes = new Uint8Array(instance.FS.readFile(file)) } catch {}
    }
    parentPort.postMessage({ id, stdout, stderr, bytes }, bytes ? [bytes.buffer] : [])
    instance = undefined
    setImmediate(collect)
  } catch (e) {
    parentPort.postMessage({ id, stdout, stderr, error: String(e && e.message || e) })
  }
})
`

interface Reply {
  readonly id: number
  readonly stdout: Array<string>
  readonly stderr: Array<string>
  readonly bytes?: Uint8Array | undefined
  readonly error?: string | undefined
}

interface Slot {
  readonly worker: Worker
  /** The call it is running, if any. */
  job: { readonly id: number; readonly done: (reply: Reply) => void } | undefined
  /** While idle: when it stops (`retire`). */
  retiring: ReturnType<typeof setTimeout> | undefined
}

/** How long an idle worker waits for its next call before it stops (`retire`); tests shorten it. */
export const retiring = { afterMs: 3000 }

let paths: { readonly module: string; readonly wasm: string } | undefined
const locate = () => {
  if (!paths) {
    const module = createRequire(import.meta.url).resolve("espeak-ng")
    paths = { module, wasm: path.join(path.dirname(module), "espeak-ng.wasm") }
  }
  return paths
}

/**
 * The WASM compiled once for the process: a compiled module passed to a worker shares its code, where each
 * worker compiling its own held ~40 MB more. Compiled synchronously on the first call (about 0.2 s, once).
 */
let compiled: { readonly module: WebAssembly.Module; readonly deferred: ReadonlyArray<Lean.Deferred> } | undefined
const compile = () => {
  if (!compiled) {
    const bytes = fs.readFileSync(locate().wasm)
    const lean = Lean.lean(bytes)
    compiled = lean
      ? { module: new WebAssembly.Module(lean.bytes), deferred: lean.deferred }
      : { module: new WebAssembly.Module(bytes), deferred: [] }
  }
  return compiled
}

const idle: Array<Slot> = []
let alive = 0
/** How many workers are alive, idle or at work. */
export const workersAlive = (): number => alive
let nextId = 0

/**
 * Stops an idle worker. A worker holds about 40 MB (its heap, its share of the compiled module); a draft
 * build narrates its sentences first and then makes pictures for minutes. With the last one gone, the
 * compiled module goes too (the next call compiles it again, about 0.2 s).
 */
const retire = (slot: Slot) => {
  const at = idle.indexOf(slot)
  if (at < 0) return
  idle.splice(at, 1)
  void slot.worker.terminate()
}

const spawn = (): Slot => {
  const worker = new Worker(source, {
    eval: true,
    // A call makes little garbage, collected at its end: a young generation of 1 MB is enough, where the
    // default grows to 16 MB in each worker (40 calls on two workers: peak 248 → 225 MB, same time).
    resourceLimits: { maxYoungGenerationSizeMb: 1 },
    workerData: { ...locate(), compiled: compile().module, deferred: compile().deferred }
  })
  alive++
  const slot: Slot = { worker, job: undefined, retiring: undefined }
  const fail = (message: string) => {
    const job = slot.job
    slot.job = undefined
    const at = idle.indexOf(slot)
    if (at >= 0) idle.splice(at, 1)
    job?.done({ id: job.id, stdout: [], stderr: [], error: message })
  }
  worker.on("message", (reply: Reply) => {
    const job = slot.job
    if (!job || reply.id !== job.id) return
    slot.job = undefined
    worker.unref()
    idle.push(slot)
    slot.retiring = setTimeout(() => retire(slot), retiring.afterMs)
    slot.retiring.unref()
    job.done(reply)
  })
  worker.on("error", (e) => fail(`espeak-ng's worker failed: ${e.message}`))
  worker.on("exit", (code) => {
    if (--alive === 0) compiled = undefined
    fail(`espeak-ng's worker stopped (exit code ${code})`)
  })
  // After the listeners: attaching a "message" listener refs the worker's port again.
  worker.unref()
  return slot
}

/**
 * Runs the espeak-ng command line once in a worker with `args` (a fresh array: the glue mutates it), and
 * reads back `file` from its in-memory filesystem. Fails only when the worker itself could not run it.
 */
export const run = (args: ReadonlyArray<string>, file?: string): Effect.Effect<RunResult, Error> =>
  Effect.async<RunResult, Error>((resume) => {
    const slot = idle.pop() ?? spawn()
    clearTimeout(slot.retiring)
    const id = nextId++
    // A worker at work keeps the process alive (its answer is awaited); an idle one does not.
    slot.worker.ref()
    slot.job = {
      id,
      done: (reply) =>
        resume(
          reply.error !== undefined && reply.bytes === undefined && reply.stdout.length === 0 && reply.stderr.length === 0
            ? Effect.fail(new Error(reply.error))
            : Effect.succeed({ stdout: reply.stdout, stderr: reply.stderr, bytes: reply.bytes })
        )
    }
    slot.worker.postMessage({ id, args: [...args], file })
    // Interrupted: WASM cannot be stopped mid-call, so the worker goes (the next call starts another).
    return Effect.sync(() => {
      if (slot.job?.id !== id) return
      slot.job = undefined
      void slot.worker.terminate()
    })
  })
