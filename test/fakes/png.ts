/**
 * A tiny, dependency-free PNG encoder for fake providers: real, decodable RGB images (ffprobe/ffmpeg read
 * them), generated deterministically from a seed string so the same prompt always yields the same bytes.
 */
import { createHash } from "node:crypto"
import { deflateSync } from "node:zlib"

const crcTable = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

const crc32 = (bytes: Uint8Array): number => {
  let c = 0xffffffff
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const chunk = (type: string, data: Uint8Array): Buffer => {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, "latin1")
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
  return Buffer.concat([head, data, crc])
}

export const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Encodes RGB pixels (width*height*3 bytes) as a PNG. */
export const encodePng = (width: number, height: number, rgb: Uint8Array): Uint8Array => {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // colour type: RGB
  const raw = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0 // filter: none
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1)
  }
  return new Uint8Array(Buffer.concat([pngSignature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", new Uint8Array())]))
}

/** A deterministic picture for `seed`: a two-colour gradient with a band whose place depends on the seed. */
export const seededPng = (seed: string, width: number, height: number): Uint8Array => {
  const h = createHash("sha256").update(seed).digest()
  const [r0, g0, b0, r1, g1, b1] = [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!]
  const bandY = Math.floor((h[6]! / 255) * height * 0.8)
  const bandH = Math.max(1, Math.floor(height / 8))
  const rgb = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    const t = height > 1 ? y / (height - 1) : 0
    const inBand = y >= bandY && y < bandY + bandH
    const r = inBand ? 255 - r0 : Math.round(r0 + (r1 - r0) * t)
    const g = inBand ? 255 - g0 : Math.round(g0 + (g1 - g0) * t)
    const b = inBand ? 255 - b0 : Math.round(b0 + (b1 - b0) * t)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3
      rgb[i] = r
      rgb[i + 1] = g
      rgb[i + 2] = b
    }
  }
  return encodePng(width, height, rgb)
}

/** Width and height from a PNG's IHDR, or undefined when the bytes are not a PNG. */
export const pngSize = (bytes: Uint8Array): { width: number; height: number } | undefined => {
  const b = Buffer.from(bytes)
  if (b.length < 24 || !b.subarray(0, 8).equals(pngSignature) || b.toString("latin1", 12, 16) !== "IHDR") return undefined
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) }
}
