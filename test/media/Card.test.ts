import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe } from "vitest"
import * as Card from "../../src/media/Card.ts"
import * as Composition from "../../src/media/Composition.ts"
import { MAX_LUMA } from "../../src/media/Composition.ts"
import { Ffmpeg } from "../../src/media/Ffmpeg.ts"
import * as Font from "../../src/media/Font.ts"
import * as Rig from "../../src/media/Rig.ts"
import { resolveBinary } from "../../src/media/Binary.ts"

const hostile = `it's 50% "done": a\\b; [x], y 🎬🎥 日本語のテキスト %{pts} \`rm -rf\` $(x)`
const sentence = "She climbed the spiral stairs with a lantern in one hand and a cup of tea in the other."

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-card-test-"))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const options = (name: string, over: Partial<Card.CardOptions> = {}): Card.CardOptions => ({
  out: { image: path.join(dir, `${name}.png`), plate: path.join(dir, `${name}-plate.png`), lettering: path.join(dir, `${name}-lettering.png`) },
  width: 320,
  height: 180,
  palette: { key: "#2f6b8a" },
  sentence,
  caption: "Low angle: she climbed the spiral stairs, a lantern in one hand",
  label: `shot 2 of 3 · 2.0 s · ${Card.cameraLabel("tilt-up")}`,
  shotType: "low-angle",
  camera: "tilt-up",
  index: 2,
  ...over
})

/** Grey pixels of a PNG (or any picture), decoded by the real ffmpeg. */
const grey = (file: string) =>
  Effect.map(resolveBinary("ffmpeg"), (ffmpeg) => {
    const r = spawnSync(ffmpeg, ["-v", "error", "-i", file, "-vf", "format=gray", "-f", "rawvideo", "-"], { maxBuffer: 1 << 26 })
    return r.stdout
  })

describe("Card.layout", () => {
  const sizes: ReadonlyArray<[string, number, number]> = [["16:9", 640, 360], ["9:16", 360, 640], ["1:1", 360, 360], ["16:9 tiny", 160, 90]]
  const texts: ReadonlyArray<[string, string]> = [["short", "Snow fell."], ["example", sentence], ["long", "word ".repeat(300)], ["hostile", hostile]]

  for (const [aspect, width, height] of sizes) {
    for (const [kind, text] of texts) {
      it(`${aspect} (${width}x${height}), ${kind} text: every box and every line stays inside the title-safe area`, () => {
        const l = Card.layout({ width, height, sentence: text, caption: `Close-up: ${text}`, label: "shot 1 of 1 · 3.4 s · ⊕ push in" })
        expect(l.safe.x).toBeGreaterThanOrEqual(Math.ceil(width * 0.05))
        expect(l.safe.y).toBeGreaterThanOrEqual(Math.ceil(height * 0.05))
        const inside = (r: { x: number; y: number; w: number; h: number }, outer: { x: number; y: number; w: number; h: number }) => {
          expect(r.x).toBeGreaterThanOrEqual(outer.x)
          expect(r.y).toBeGreaterThanOrEqual(outer.y)
          expect(r.x + r.w).toBeLessThanOrEqual(outer.x + outer.w)
          expect(r.y + r.h).toBeLessThanOrEqual(outer.y + outer.h)
        }
        for (const box of l.boxes) inside(box, l.safe)
        for (const line of l.lines) {
          const left = line.centred ? line.x + (line.w - line.width) / 2 : line.x
          const top = line.baseline - Font.ascent(line.size)
          inside({ x: Math.floor(left), y: top, w: Math.ceil(line.width), h: Font.lineHeight(line.size) }, l.safe)
          expect(line.width).toBeLessThanOrEqual(line.w + 0.001)
        }
        // The sentence is the main text: the largest lines are the sentence's, at the bottom.
        const sentenceLines = l.lines.filter((line) => line.centred)
        expect(sentenceLines.length).toBeGreaterThan(0)
        const biggest = Math.max(...l.lines.map((line) => line.size))
        expect(sentenceLines.every((line) => line.size === biggest)).toBe(true)
        if (kind === "long") expect(sentenceLines[sentenceLines.length - 1]!.text.endsWith("…")).toBe(true)
        // The picture keeps a band between the header and the sentence.
        expect(l.open.bottom - l.open.top).toBeGreaterThanOrEqual(Math.round(Math.min(width, height) * 0.2))
      })
    }
  }
})

describe("Card.captionOf", () => {
  it("takes the panel line from the prompt: its first sentence, without the style and continuity notes", () => {
    expect(Card.captionOf("Low angle: she rang the bell. Style: ink. Continuity: the boat.")).toBe("Low angle: she rang the bell")
    expect(Card.captionOf("A keeper at dawn, lantern raised, warm light")).toBe("A keeper at dawn, lantern raised, warm light")
  })
})

describe("renderCard (real ffmpeg)", () => {
  it.live("writes the still, a text-free plate and a transparent lettering layer of the frame size", () =>
    Effect.gen(function* () {
      const ff = yield* Ffmpeg
      const out = yield* Card.renderCard(options("hostile", { sentence: hostile, caption: hostile }))
      for (const [file, pixels] of [[out.image, "rgb24"], [out.plate, "rgb24"], [out.lettering, "rgba"]] as const) {
        const info = yield* ff.probe(file)
        expect(info.streams[0], file).toMatchObject({ codec: "png", width: 320, height: 180, pixelFormat: pixels })
      }
      // The words are drawn into the still and the lettering, and never into the plate the camera moves:
      // the plate has no white at all, the still and the lettering do.
      expect(Math.max(...(yield* grey(out.plate)))).toBeLessThanOrEqual(MAX_LUMA + 10)
      expect(Math.max(...(yield* grey(out.image)))).toBeGreaterThan(230)
      const other = yield* Card.renderCard(options("other-words", { sentence: "Quite different words.", caption: "Wide: elsewhere" }))
      expect(fs.readFileSync(other.lettering).equals(fs.readFileSync(out.lettering))).toBe(false)
      expect(fs.readFileSync(other.image).equals(fs.readFileSync(out.image))).toBe(false)
      // No temporary files are left next to the outputs.
      expect(fs.readdirSync(dir).filter((f) => f.startsWith("."))).toEqual([])
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("shots differ: each framing and each place in the sentence composes another plate; all stay dark", () =>
    Effect.gen(function* () {
      const plates: Array<Buffer> = []
      const framings = ["wide", "aerial", "medium", "close-up", "detail", "over-the-shoulder", "low-angle", "high-angle"]
      for (const [i, shotType] of framings.entries()) {
        const out = yield* Card.renderCard(options(`framing-${i}`, { shotType, index: 1 }))
        plates.push(fs.readFileSync(out.plate))
        // Below the white of the lettering, so text reads over any part of the picture.
        const pixels = yield* grey(out.plate)
        expect(Math.max(...pixels), shotType).toBeLessThanOrEqual(MAX_LUMA + 10)
      }
      const second = yield* Card.renderCard(options("framing-wide-2", { shotType: "wide", index: 2 }))
      plates.push(fs.readFileSync(second.plate))
      const distinct = new Set(plates.map((p) => p.toString("base64")))
      expect(distinct.size).toBe(plates.length)
    }).pipe(Effect.provide(Ffmpeg.layer)))

  it.live("is deterministic: the same card renders the same bytes", () =>
    Effect.gen(function* () {
      const a = yield* Card.renderCard(options("same-a"))
      const b = yield* Card.renderCard(options("same-b"))
      for (const k of ["image", "plate", "lettering"] as const) expect(fs.readFileSync(a[k]).equals(fs.readFileSync(b[k])), k).toBe(true)
    }).pipe(Effect.provide(Ffmpeg.layer)))
})

describe("the plate's levels (real ffmpeg)", () => {
  it.live("drawn in-process, they are the ones ffmpeg's geq draws from the same expression, at 16:9, 9:16 and 1:1", () =>
    Effect.gen(function* () {
      const ffmpeg = yield* resolveBinary("ffmpeg")
      for (const shotType of ["wide", "close-up", "low-angle", "aerial", "over-the-shoulder", "detail"])
        for (const [w, h] of [[640, 360], [360, 640], [480, 480]] as const) {
          const input = { shotType, camera: "pan-left", palette: { key: "#335577" }, index: 2, stage: { top: 0.2, bottom: 0.7 } } as const
          const plate = Composition.plate(input, w, h)
          // ffmpeg's own drawing: the grey `geq` the plate's filters start with.
          const drawn = Composition.plateFilters(input, w, h).slice(0, 2).join(",")
          const geq = spawnSync(ffmpeg, [
            "-v", "error", "-filter_complex_threads", "1",
            "-filter_complex", `color=c=black:s=${plate.w}x${plate.h}:d=1,${drawn}`,
            "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"
          ], { maxBuffer: 1 << 24 }).stdout
          const mine = plate.grey()
          expect(mine.length, `${shotType} ${w}x${h}`).toBe(geq.length)
          let off = 0
          for (let i = 0; i < mine.length; i++) if (Math.abs(mine[i]! - geq[i]!) > 1) off++
          expect(off, `${shotType} ${w}x${h}`).toBe(0)
        }
    }).pipe(Effect.provide(Ffmpeg.layer)))
})

describe("renderCard (fake command rig)", () => {
  it.effect("text enters ffmpeg only through files: no piece of a hostile sentence or caption is in the arguments", () => {
    const rig = Rig.make()
    return Effect.gen(function* () {
      yield* Card.renderCard(options("rig", { sentence: hostile, caption: `Wide: ${hostile}`, label: hostile }))
      expect(rig.commands).toHaveLength(1)
      const [command] = rig.commands
      const args = command!.args.join("\n")
      for (const piece of ["it's", "50%", "a\\b", "[x]", "🎬", "日本語", "%{pts}", "rm -rf", "$(x)"]) expect(args).not.toContain(piece)
      // Every line of lettering is a text file read with expansion=none; together they hold every word.
      expect(command!.textFiles.length).toBeGreaterThan(2)
      expect(args.match(/textfile=/g)!.length).toBe(args.match(/expansion=none/g)!.length)
      const text = command!.textFiles.map((f) => f.text).join(" ")
      expect(text).toContain("50%")
      expect(text).toContain("[x],")
      // The scratch folder with the text files is gone, and the three outputs are in place.
      for (const f of command!.textFiles) expect(fs.existsSync(f.path)).toBe(false)
      expect(command!.outputs).toHaveLength(3)
      for (const file of [path.join(dir, "rig.png"), path.join(dir, "rig-plate.png"), path.join(dir, "rig-lettering.png")]) {
        expect(rig.read(file)?.streams[0]).toMatchObject({ codec: "png", width: 320, height: 180 })
      }
    }).pipe(Effect.provide(Ffmpeg.layerTest(rig)))
  })

  it.effect("a failed render leaves none of the three files, under their names or temporary ones", () => {
    const rig = Rig.make({ onRun: (c) => Effect.fail(Rig.fail(c.purpose, "Error initializing filter 'drawtext'")) })
    const sub = path.join(dir, "failed")
    return Effect.gen(function* () {
      const error = yield* Effect.flip(Card.renderCard(options("x", { out: { image: path.join(sub, "a.png"), plate: path.join(sub, "b.png"), lettering: path.join(sub, "c.png") } })))
      expect(error._tag).toBe("FfmpegFailed")
      expect(error.message).toContain("drawtext")
      expect(fs.readdirSync(sub)).toEqual([])
    }).pipe(Effect.provide(Ffmpeg.layerTest(rig)))
  })
})
