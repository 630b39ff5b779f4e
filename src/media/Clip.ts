/**
 * What a clip's MP4 index says about its picture, read in-process (no ffprobe): enough for the sentence mux to
 * decide whether it may copy the clip's frames instead of decoding and encoding them again (Assemble.ts).
 *
 * Only the index (`moov`) is read: the sample count, whether every sample lasts the same, which samples are
 * keyframes, and the codec's configuration (the sample entry's size and its `avcC`: the SPS and PPS). Two
 * H.264 streams can be joined packet by packet only when that configuration is the same byte for byte.
 * Anything unexpected (no index, fragments, two video tracks, another codec) answers `undefined`: the caller
 * then encodes, as it always did.
 */
import * as fs from "node:fs"
import { topBoxes } from "./Mp4.ts"

export interface VideoIndex {
  /** The sample entry's codec, width and height and its `avcC` box: equal configs can be stream-joined. */
  readonly config: string
  readonly timescale: number
  readonly samples: number
  /** Every sample's duration when they are all the same, in `timescale` ticks; undefined otherwise. */
  readonly delta: number | undefined
  /** Keyframes, as 0-based sample numbers (in decode order, which is display order at an IDR). */
  readonly keyframes: ReadonlySet<number> | "all"
  /** Tracks in the file, of any kind (a clip with its own sound has two). */
  readonly tracks: number
  /** Whether the file holds every byte its index names (a file cut short does not). */
  readonly whole: boolean
}

interface Box {
  readonly type: string
  readonly body: number
  readonly end: number
}

const boxes = (b: Buffer, from: number, to: number): Array<Box> => {
  const out: Array<Box> = []
  for (let at = from; at + 8 <= to; ) {
    let size = b.readUInt32BE(at)
    let header = 8
    if (size === 1) {
      size = Number(b.readBigUInt64BE(at + 8))
      header = 16
    } else if (size === 0) size = to - at
    if (size < header || at + size > to) throw new Error("a box runs past its parent")
    out.push({ type: b.toString("latin1", at + 4, at + 8), body: at + header, end: at + size })
    at += size
  }
  return out
}

const kid = (b: Buffer, parent: Box, type: string, skip = 0) => boxes(b, parent.body + skip, parent.end).find((x) => x.type === type)

/** The top-level `moov` of `file`, read by box headers (the media bytes are never read). */
const readMoov = (file: string): { moov: Buffer; size: number } | undefined => {
  const fd = fs.openSync(file, "r")
  try {
    const size = fs.fstatSync(fd).size
    const top = topBoxes(fd, size)
    // Cut short, or fragmented (its samples are in `moof`s, not in the index).
    if (top === undefined || top.some((x) => x.type === "moof")) return undefined
    const box = top.filter((x) => x.type === "moov").at(-1)
    if (box === undefined) return undefined
    const moov = Buffer.alloc(box.end - box.start)
    fs.readSync(fd, moov, 0, moov.length, box.start)
    return { moov, size }
  } finally {
    fs.closeSync(fd)
  }
}

/** The video track's index, or undefined when the file is not a plain one-picture-track MP4 (or unreadable). */
export const readVideoIndex = (file: string): VideoIndex | undefined => {
  try {
    const read = readMoov(file)
    if (read === undefined) return undefined
    const b = read.moov
    // Every track's samples must fit in the file besides its index (a cut-short file holds fewer).
    let media = 0
    const moov: Box = { type: "moov", body: 8, end: b.length }
    const videos: Array<VideoIndex> = []
    const traks = boxes(b, moov.body, moov.end).filter((x) => x.type === "trak")
    for (const trak of traks) {
      const mdia = kid(b, trak, "mdia")
      const hdlr = mdia && kid(b, mdia, "hdlr")
      if (!mdia || !hdlr || b.toString("latin1", hdlr.body + 8, hdlr.body + 12) !== "vide") continue
      const mdhd = kid(b, mdia, "mdhd")
      const minf = kid(b, mdia, "minf")
      const stbl = minf && kid(b, minf, "stbl")
      if (!mdhd || !stbl) return undefined
      const timescale = b.readUInt32BE(mdhd.body + (b[mdhd.body] === 1 ? 20 : 12))
      const stsd = kid(b, stbl, "stsd")
      const stts = kid(b, stbl, "stts")
      const stsz = kid(b, stbl, "stsz")
      if (!stsd || !stts || !stsz || b.readUInt32BE(stsd.body + 4) !== 1) return undefined
      // The one sample entry: its codec, then (after 78 bytes of fixed fields) the boxes that configure it.
      const entry = boxes(b, stsd.body + 8, stsd.end)[0]
      if (!entry || entry.type !== "avc1") return undefined
      const avcC = kid(b, entry, "avcC", 78)
      if (!avcC) return undefined
      const width = b.readUInt16BE(entry.body + 24)
      const height = b.readUInt16BE(entry.body + 26)
      const config = `avc1 ${width}x${height} ${b.toString("hex", avcC.body, avcC.end)}`
      let samples = 0
      let delta: number | undefined
      for (let i = 0, n = b.readUInt32BE(stts.body + 4); i < n; i++) {
        const count = b.readUInt32BE(stts.body + 8 + i * 8)
        const d = b.readUInt32BE(stts.body + 12 + i * 8)
        if (count === 0) continue
        delta = samples === 0 || delta === d ? d : -1
        samples += count
      }
      if (samples !== b.readUInt32BE(stsz.body + 8)) return undefined
      const fixed = b.readUInt32BE(stsz.body + 4)
      if (fixed !== 0) media += fixed * samples
      else for (let i = 0; i < samples; i++) media += b.readUInt32BE(stsz.body + 12 + i * 4)
      const stss = kid(b, stbl, "stss")
      let keyframes: Set<number> | "all" = "all"
      if (stss) {
        keyframes = new Set<number>()
        for (let i = 0, n = b.readUInt32BE(stss.body + 4); i < n; i++) keyframes.add(b.readUInt32BE(stss.body + 8 + i * 4) - 1)
      }
      videos.push({ config, timescale, samples, delta: delta === -1 ? undefined : delta, keyframes, tracks: traks.length, whole: true })
    }
    if (videos.length !== 1) return undefined
    return { ...videos[0]!, whole: read.size >= b.length + media }
  } catch {
    return undefined
  }
}

/** Whether sample `n` (0-based) of the clip is a keyframe: a copy may start there. */
export const isKeyframe = (index: VideoIndex, n: number): boolean => index.keyframes === "all" || index.keyframes.has(n)
