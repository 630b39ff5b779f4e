/**
 * The espeak-ng WASM without its dictionaries written into every instance.
 *
 * Surprises this room deals with:
 * - The package embeds espeak-ng's data files (18 MB, 17.3 MB of it the dictionaries of 113 languages, ru_dict
 *   alone 8.5 MB) in the module's active data segments. Every instance writes all of them into its memory
 *   before `main` runs, though a call reads one or two: 18 MB of memory touched and about half of each call's
 *   CPU, per call.
 * - The glue's in-memory filesystem holds each embedded file as a view of the instance's memory, at the address
 *   its data segment names (`__emscripten_embedded_file_data` lists name, length and address).
 *
 * So `lean` rewrites the binary: its data segments lose the bytes of every `*_dict` file (the pages stay
 * untouched zeros), and the worker copies a dictionary from the original `.wasm` file into the instance's
 * memory, at its own address, the first time espeak-ng opens it (the `__syscall_openat` import). Every byte
 * espeak-ng reads is the byte it read before. Anything unexpected in the binary: `lean` answers undefined, and
 * the worker uses the module as shipped.
 */

/** An embedded file left out of the lean module: where it lives in memory, and where its bytes are in the file. */
export interface Deferred {
  /** The file's name, as espeak-ng opens it (an absolute path). */
  readonly name: string
  /** Its address in the instance's memory. */
  readonly address: number
  /** Its offset in the original `.wasm` file. */
  readonly offset: number
  readonly length: number
}

export interface LeanModule {
  readonly bytes: Uint8Array<ArrayBuffer>
  readonly deferred: ReadonlyArray<Deferred>
}

/** Which embedded files wait until they are opened: the dictionaries. */
const defers = (name: string) => name.endsWith("_dict")

class Reader {
  at: number
  constructor(
    readonly bytes: Uint8Array,
    at: number
  ) {
    this.at = at
  }
  byte(): number {
    if (this.at >= this.bytes.length) throw new Error("past the end")
    return this.bytes[this.at++]!
  }
  u32(): number {
    let result = 0
    let shift = 0
    for (;;) {
      const b = this.byte()
      result += (b & 0x7f) * 2 ** shift
      shift += 7
      if ((b & 0x80) === 0) return result
      if (shift > 35) throw new Error("bad LEB128")
    }
  }
  /** An i32.const constant expression: its value. */
  i32ConstExpr(): number {
    if (this.byte() !== 0x41) throw new Error("not i32.const")
    let result = 0
    let shift = 0
    let b: number
    do {
      b = this.byte()
      result |= (b & 0x7f) << shift
      shift += 7
    } while (b & 0x80 && shift < 35)
    if (shift < 32 && b & 0x40) result |= -1 << shift
    if (this.byte() !== 0x0b) throw new Error("not a constant expression")
    return result
  }
  name(): string {
    const n = this.u32()
    const s = new TextDecoder().decode(this.bytes.subarray(this.at, this.at + n))
    this.at += n
    return s
  }
}

const leb = (n: number): Array<number> => {
  const out: Array<number> = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return out
}

interface Segment {
  readonly address: number
  /** Where its bytes are in the binary. */
  readonly offset: number
  readonly length: number
}

/** The lean module of `wasm` (the package's `espeak-ng.wasm`), or undefined when its layout is not the expected one. */
export const lean = (wasm: Uint8Array): LeanModule | undefined => {
  try {
    return rewrite(wasm)
  } catch {
    return undefined
  }
}

const rewrite = (wasm: Uint8Array): LeanModule | undefined => {
  const r = new Reader(wasm, 8)
  if (wasm[0] !== 0x00 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) return undefined
  const sections: Array<{ id: number; start: number; end: number; body: number }> = []
  while (r.at < wasm.length) {
    const start = r.at
    const id = r.byte()
    const size = r.u32()
    sections.push({ id, start, body: r.at, end: r.at + size })
    r.at += size
  }
  const section = (id: number) => sections.find((s) => s.id === id)
  // Data segments referred to by index (passive ones, a DataCount section) would need the code rewritten too.
  if (section(12) !== undefined) return undefined
  const imports = section(2)
  const globals = section(6)
  const exports = section(7)
  const data = section(11)
  if (!globals || !exports || !data) return undefined

  // The global that holds the address of the embedded files' table.
  let importedGlobals = 0
  if (imports) {
    r.at = imports.body
    for (let n = r.u32(); n > 0; n--) {
      r.name()
      r.name()
      const kind = r.byte()
      if (kind === 0x00) r.u32()
      else if (kind === 0x01) {
        r.byte()
        const flags = r.byte()
        r.u32()
        if (flags & 1) r.u32()
      } else if (kind === 0x02) {
        const flags = r.byte()
        r.u32()
        if (flags & 1) r.u32()
      } else if (kind === 0x03) {
        importedGlobals++
        r.byte()
        r.byte()
      } else return undefined
    }
  }
  let tableGlobal: number | undefined
  r.at = exports.body
  for (let n = r.u32(); n > 0; n--) {
    const name = r.name()
    const kind = r.byte()
    const index = r.u32()
    if (kind === 0x03 && name === "__emscripten_embedded_file_data") tableGlobal = index
  }
  if (tableGlobal === undefined || tableGlobal < importedGlobals) return undefined
  r.at = globals.body
  let table: number | undefined
  for (let n = r.u32(), i = importedGlobals; n > 0; n--, i++) {
    r.byte()
    r.byte()
    const value = r.i32ConstExpr()
    if (i === tableGlobal) table = value >>> 0
  }
  if (table === undefined) return undefined

  r.at = data.body
  const segments: Array<Segment> = []
  for (let n = r.u32(); n > 0; n--) {
    if (r.u32() !== 0) return undefined
    const address = r.i32ConstExpr() >>> 0
    const length = r.u32()
    segments.push({ address, offset: r.at, length })
    r.at += length
  }
  /** The binary's offset of `length` bytes at `address`, when one segment holds them all. */
  const locate = (address: number, length: number): number | undefined => {
    const s = segments.find((s) => address >= s.address && address + length <= s.address + s.length)
    return s === undefined ? undefined : s.offset + (address - s.address)
  }
  const u32At = (address: number) => {
    const at = locate(address, 4)
    if (at === undefined) throw new Error("table outside the data")
    return (wasm[at]! | (wasm[at + 1]! << 8) | (wasm[at + 2]! << 16) | (wasm[at + 3]! << 24)) >>> 0
  }
  const stringAt = (address: number) => {
    const at = locate(address, 1)
    if (at === undefined) throw new Error("name outside the data")
    const end = wasm.indexOf(0, at)
    if (end < 0) throw new Error("unterminated name")
    return new TextDecoder().decode(wasm.subarray(at, end))
  }

  // The table, read the way the glue reads it: (name, length, address) until a zero name.
  const deferred: Array<Deferred> = []
  let entry = table
  do {
    const name = stringAt(u32At(entry))
    const length = u32At(entry + 4)
    const address = u32At(entry + 8)
    entry += 12
    const offset = locate(address, length)
    if (defers(name) && length > 0 && offset !== undefined) deferred.push({ name, address, offset, length })
  } while (u32At(entry) !== 0)
  if (deferred.length === 0) return undefined

  // Each segment, less the deferred files' bytes, as one or more active segments.
  const pieces: Array<Segment> = []
  const cuts = [...deferred].sort((a, b) => a.address - b.address)
  for (const s of segments) {
    let from = s.address
    for (const d of cuts) {
      if (d.address < s.address || d.address + d.length > s.address + s.length) continue
      if (d.address > from) pieces.push({ address: from, offset: s.offset + (from - s.address), length: d.address - from })
      from = Math.max(from, d.address + d.length)
    }
    const end = s.address + s.length
    if (end > from) pieces.push({ address: from, offset: s.offset + (from - s.address), length: end - from })
  }
  const body: Array<Uint8Array> = [Uint8Array.from(leb(pieces.length))]
  for (const p of pieces) {
    body.push(Uint8Array.from([0x00, 0x41, ...sleb(p.address), 0x0b, ...leb(p.length)]))
    body.push(wasm.subarray(p.offset, p.offset + p.length))
  }
  const bodyLength = body.reduce((n, b) => n + b.length, 0)
  const parts: Array<Uint8Array> = [
    wasm.subarray(0, data.start),
    Uint8Array.from([11, ...leb(bodyLength)]),
    ...body,
    wasm.subarray(data.end)
  ]
  const bytes = new Uint8Array(parts.reduce((n, b) => n + b.length, 0))
  let at = 0
  for (const p of parts) {
    bytes.set(p, at)
    at += p.length
  }
  return { bytes, deferred }
}

/** A signed LEB128 of an i32 address (addresses are unsigned; i32.const reads them as signed). */
const sleb = (n: number): Array<number> => {
  let value = n | 0
  const out: Array<number> = []
  for (;;) {
    const b = value & 0x7f
    value >>= 7
    if ((value === 0 && (b & 0x40) === 0) || (value === -1 && (b & 0x40) !== 0)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}
