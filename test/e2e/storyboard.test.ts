/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (the callbacks given to page.evaluate run in the browser)
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { hasChromium, launch } from "./browser.ts"
import { ffprobe, makeWorkspace, runBuild, smallConfig } from "./harness.ts"

const fps = 12
// One short sentence (one shot), one long one (several shots), one with markup a page must escape.
const story = [
  "Snow fell.",
  "A hunter watched from the ridge, silent and still, as the light grew slowly over the frozen valley below.",
  'The <b>fox</b> & her cubs said "hello" --> gone.'
]

interface StoryJson {
  sentences: Array<{ n: number; text: string; shots: Array<{ k: number }> }>
}

let dir = ""
const manifest = (): StoryJson => JSON.parse(fs.readFileSync(path.join(dir, ".storyshot", "story.json"), "utf8"))

beforeAll(async () => {
  dir = makeWorkspace(story.join("\n"))
  const first = await runBuild(dir)
  expect(first.summary.failed).toEqual([])
}, 120_000)

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

const ffmpegPath = (): string =>
  process.env.FFMPEG_PATH ?? (createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg") as { path: string }).path

/** Each frame of the film's picture shrunk to one pixel: its mean colour. */
const meanColours = (file: string): Array<[number, number, number]> => {
  const r = spawnSync(ffmpegPath(), ["-v", "error", "-i", file, "-vf", "scale=1:1:flags=area", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], {
    maxBuffer: 64 * 1024 * 1024
  })
  const out: Array<[number, number, number]> = []
  for (let i = 0; i + 2 < r.stdout.length; i += 3) out.push([r.stdout[i]!, r.stdout[i + 1]!, r.stdout[i + 2]!])
  return out
}

const parseCues = (text: string) =>
  [...text.matchAll(/(\d\d):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d):(\d\d):(\d\d)[,.](\d\d\d)\n([\s\S]*?)(?:\n\n|\n?$)/g)].map((m) => {
    const t = (h: string, mi: string, s: string, ms: string) => Number(h) * 3600 + Number(mi) * 60 + Number(s) + Number(ms) / 1000
    return { start: t(m[1]!, m[2]!, m[3]!, m[4]!), end: t(m[5]!, m[6]!, m[7]!, m[8]!), text: m[9]!.replace(/\n/g, " ") }
  })

describe("storyboard page and subtitles (real ffmpeg, 160x90 @ 12 fps)", () => {
  it.skipIf(!hasChromium())("the page in headless Chromium: one card per shot, every image loaded, players that play, no errors, no network", async () => {
    const m = manifest()
    const shotCount = m.sentences.reduce((a, s) => a + s.shots.length, 0)
    expect(shotCount).toBeGreaterThanOrEqual(4)
    const browser = await launch()
    try {
      const page = await browser.context.newPage()
      const requests: Array<string> = []
      const errors: Array<string> = []
      page.on("request", (r) => requests.push(r.url()))
      page.on("console", (msg) => {
        if (msg.type() === "error") errors.push(msg.text())
      })
      page.on("pageerror", (e) => errors.push(String(e)))
      await page.goto(pathToFileURL(path.join(dir, "out", "storyboard.html")).href, { waitUntil: "load" })
      // Every player has read its media's header (or failed, which the check below reports).
      await page.waitForFunction(() => [...document.querySelectorAll("video,audio")].every((e) => (e as HTMLMediaElement).readyState >= 1 || (e as HTMLMediaElement).error))
      const seen = await page.evaluate(() => ({
        cards: [...document.querySelectorAll("article.shot")].map((a) => ({
          img: (a.querySelector("img") as HTMLImageElement | null)?.naturalWidth ?? -1,
          video: (a.querySelector("video") as HTMLVideoElement | null)?.duration ?? -1,
          text: a.textContent ?? ""
        })),
        audios: [...document.querySelectorAll("section.sentence audio")].map((e) => (e as HTMLAudioElement).duration),
        headings: [...document.querySelectorAll("section.sentence h2")].map((h) => h.textContent),
        bold: document.querySelectorAll("main b:not(.tags b)").length,
        totals: document.querySelector("header")?.textContent ?? ""
      }))
      expect(seen.cards).toHaveLength(shotCount)
      for (const card of seen.cards) {
        expect(card.img).toBeGreaterThan(0)
        expect(card.video).toBeGreaterThan(0)
        expect(card.text).toMatch(/camera: (push-in|pull-out|pan-left|pan-right|tilt-up|tilt-down)/)
        expect(card.text).toMatch(/image: card/)
        expect(card.text).toMatch(/clip: kenburns/)
        expect(card.text).toMatch(/\d\.\d s/)
        expect(card.text).toMatch(/\$0/)
      }
      expect(seen.audios).toHaveLength(story.length)
      for (const d of seen.audios) expect(d).toBeGreaterThan(0)
      // The sentence text is shown as written, markup and all, never interpreted.
      expect(seen.headings.map((h) => h!.replace(/^\d+/, ""))).toEqual(story)
      expect(seen.totals).toContain(`${shotCount} shots`)
      expect(seen.totals).toMatch(/cost \$0/)
      expect(seen.totals).toMatch(/Up to date/)
      expect(errors).toEqual([])
      expect(requests.length).toBeGreaterThan(shotCount)
      expect(requests.filter((u) => !u.startsWith("file://"))).toEqual([])

      // Readable on a phone: one column, nothing wider than the screen.
      await page.setViewportSize({ width: 375, height: 700 })
      const phone = await page.evaluate(() => ({
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        cardWidth: document.querySelector("article.shot")!.getBoundingClientRect().width
      }))
      expect(phone.overflow).toBeLessThanOrEqual(0)
      expect(phone.cardWidth).toBeGreaterThan(300)
    } finally {
      await browser.close()
    }
  }, 60_000)

  it("subtitle cues match the sentence boundaries measured in out/final.mp4, within one frame", () => {
    const srt = parseCues(fs.readFileSync(path.join(dir, "out", "final.srt"), "utf8"))
    const vttText = fs.readFileSync(path.join(dir, "out", "final.vtt"), "utf8")
    expect(vttText.startsWith("WEBVTT\n\n")).toBe(true)
    expect(vttText).toContain("&lt;b&gt;fox&lt;/b&gt; &amp;")
    expect(vttText).not.toContain("-->  gone")
    const vtt = parseCues(vttText)
    expect(srt.map((c) => c.text)).toEqual(story.map((s) => s.replace("-->", "→")))
    expect(vtt.map((c) => [c.start, c.end])).toEqual(srt.map((c) => [c.start, c.end]))

    const final = path.join(dir, "out", "final.mp4")
    const video = ffprobe(final).streams.find((s) => s.codec_type === "video")!
    const frame = 1 / fps
    // The film starts with the first cue and ends with the last; cues follow each other without gaps.
    expect(srt[0]!.start).toBe(0)
    expect(Math.abs(srt[srt.length - 1]!.end - Number(video.duration))).toBeLessThanOrEqual(frame)
    for (let i = 1; i < srt.length; i++) expect(srt[i]!.start).toBe(srt[i - 1]!.end)
    // Each sentence has its own card colour: the film's picture jumps at a sentence boundary. Find the
    // sharpest colour jump near each cue start in the decoded film and check it is within one frame.
    const colours = meanColours(final)
    expect(Math.abs(colours.length - Number(video.nb_frames))).toBeLessThanOrEqual(1)
    const jump = (f: number) => {
      const a = colours[f - 1]
      const b = colours[f]
      return a && b ? Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]) : -1
    }
    for (const cue of srt.slice(1)) {
      const at = Math.round(cue.start * fps)
      const window = [at - 3, at - 2, at - 1, at, at + 1, at + 2, at + 3]
      const cut = window.reduce((best, f) => (jump(f) > jump(best) ? f : best), at)
      expect(Math.abs(cut / fps - cue.start)).toBeLessThanOrEqual(frame)
      expect(jump(cut)).toBeGreaterThan(20)
    }
  })

  it("subtitles.burn re-cuts only the final film, with the text drawn in; turning it off finds the plain cut again", async () => {
    const plain = path.join(dir, "plain.mp4")
    fs.copyFileSync(path.join(dir, "out", "final.mp4"), plain)
    const cfg = path.join(dir, "storyshot.config.mjs")
    fs.writeFileSync(cfg, smallConfig("subtitles: { burn: true }"))
    const burned = await runBuild(dir)
    expect(burned.summary.failed).toEqual([])
    expect(burned.summary.built).toEqual(["final"])
    const final = path.join(dir, "out", "final.mp4")
    const info = ffprobe(final)
    expect(info.streams.map((s) => s.codec_type).sort()).toEqual(["audio", "video"])
    expect(Math.abs(Number(info.format.duration) - Number(ffprobe(plain).format.duration))).toBeLessThanOrEqual(1 / fps)
    // The bottom quarter of a frame in the middle of sentence 2 now carries the boxed subtitle.
    const strip = (file: string) =>
      spawnSync(ffmpegPath(), ["-v", "error", "-ss", "2.5", "-i", file, "-frames:v", "1", "-vf", "crop=iw:ih/4:0:ih*3/4,format=gray", "-f", "rawvideo", "-"], {
        maxBuffer: 1 << 20
      }).stdout
    const [x, y] = [strip(final), strip(plain)]
    expect(x.length).toBeGreaterThan(0)
    expect(x.length).toBe(y.length)
    const meanDiff = [...x].reduce((a, v, i) => a + Math.abs(v - y[i]!), 0) / x.length
    expect(meanDiff).toBeGreaterThan(8)

    fs.writeFileSync(cfg, smallConfig())
    const back = await runBuild(dir)
    expect(back.summary.built).toEqual([])
    expect(fs.readFileSync(final).equals(fs.readFileSync(plain))).toBe(true)
  }, 120_000)

  it("a build that does not remake the page marks it stale; the next full build shows it up to date again", async () => {
    const page = path.join(dir, "out", "storyboard.html")
    await runBuild(dir, { target: ["sentence:1:audio"] })
    expect(fs.readFileSync(page, "utf8")).toMatch(/<p class="stale">Stale: the last build did not rebuild this page/)
    const full = await runBuild(dir)
    expect(full.summary.built).toEqual([])
    expect(fs.readFileSync(page, "utf8")).toMatch(/<p class="fresh">Up to date/)
  })
})
