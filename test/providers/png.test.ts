/**
 * Paid stills are checked in the process when they are PNGs (targets/image/Png.ts): a whole picture passes,
 * and every kind of damage a download or a provider can cause is caught, as ffmpeg's decode would.
 */
import * as zlib from "node:zlib"
import { describe, expect, it } from "vitest"
import { checkPng } from "../../targets/image/Png.ts"
import { seededPng } from "../fakes/png.ts"

const chunk = (type: string, data: Buffer) => {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, "latin1")
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])), 0)
  return Buffer.concat([head, data, crc])
}
const png = (width: number, height: number, rows: Buffer) => {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8
  ihdr[9] = 2
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(rows)), chunk("IEND", Buffer.alloc(0))])
}

describe("PNG check", () => {
  it("a whole picture passes, with its size", () => {
    expect(checkPng(seededPng("a lighthouse", 64, 48))).toEqual({ ok: true, width: 64, height: 48 })
    expect(checkPng(png(2, 2, Buffer.alloc(2 * (1 + 6))))).toEqual({ ok: true, width: 2, height: 2 })
  })

  it("damage is caught: cut short, a flipped byte, missing rows, an unknown filter, not a PNG", () => {
    const good = Buffer.from(seededPng("a lighthouse", 64, 48))
    expect(checkPng(good.subarray(0, good.length - 20))).toMatchObject({ ok: false })
    const flipped = Buffer.from(good)
    flipped[60] = flipped[60]! ^ 0xff
    expect(checkPng(flipped)).toMatchObject({ ok: false, reason: expect.stringMatching(/damaged|decode/) })
    expect(checkPng(png(2, 2, Buffer.alloc(1 + 6)))).toMatchObject({ ok: false, reason: expect.stringContaining("not 14") })
    const badFilter = Buffer.alloc(2 * 7)
    badFilter[7] = 9
    expect(checkPng(png(2, 2, badFilter))).toMatchObject({ ok: false, reason: "row 1 has an unknown filter" })
    expect(checkPng(new TextEncoder().encode("<html>502 Bad Gateway</html>"))).toEqual({ ok: false, reason: "it is not a PNG" })
  })
})
