/**
 * `out/` is what a person opens, made from the store without paying: `out/final.mp4`,
 * `out/sentences/NNN.mp4`, and the readable manifest `.storyshot/story.json` (sentence → audio → prompts →
 * image → video, with file links and durations), the way the original spec keeps its ordered memory.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import type { Built, Json } from "./engine/Node.ts"
import * as Atomic from "./engine/Atomic.ts"
import type { Store } from "./engine/Store.ts"
import { ids } from "./Film.ts"
import type { Workspace } from "./Workspace.ts"
import { markStale } from "../targets/storyboard.ts"

type StoreApi = Store["Type"]

const fileOf = (store: StoreApi, built: Built | undefined, output: string) => {
  const o = built?.outputs[output]
  return o && o.ext !== undefined ? store.objectPath(o.hash, o.ext) : undefined
}

/**
 * Copies to a temp name and renames, so `out/final.mp4` is never half-written. The copy gets the stored
 * object's modification time, so "same size and same time" means it is that object: a build that goes back
 * to an older result of the same size still replaces the file.
 */
const copyAtomic = (from: string, to: string) => {
  fs.mkdirSync(path.dirname(to), { recursive: true })
  const source = fs.statSync(from)
  const target = fs.statSync(to, { throwIfNoEntry: false })
  // utimes keeps microseconds, not the store's nanoseconds: compare to the millisecond, or every no-op build
  // copies the whole film again.
  if (target && target.size === source.size && Math.abs(target.mtimeMs - source.mtimeMs) < 1) return
  const tmp = `${to}.tmp-${process.pid}`
  fs.copyFileSync(from, tmp)
  fs.utimesSync(tmp, source.atime, source.mtime)
  fs.renameSync(tmp, to)
}

/** Where sentence N's film is shown in out/. */
const sentenceFile = (ws: Workspace, n: number) => path.join(ws.outDir, "sentences", `${String(n).padStart(3, "0")}.mp4`)

/**
 * Shows one finished sentence in out/sentences/ at once, while the rest of the film is built (the build's
 * own `publish` at the end writes the same file again only if it changed). A failure here is not the build's.
 */
export const publishSentence = (ws: Workspace, store: StoreApi, id: string, outputs: Built["outputs"] | undefined) => {
  const n = /^sentence:(\d+):mux$/.exec(id)?.[1]
  const video = outputs?.video
  if (n === undefined || !video || video.ext === undefined) return
  try {
    copyAtomic(store.objectPath(video.hash, video.ext), sentenceFile(ws, Number(n)))
  } catch {}
}

export interface StoryShot {
  readonly id: string
  readonly k: number
  readonly prompt: Json
  readonly frames: number | undefined
  readonly seconds: number | undefined
  readonly image: string | undefined
  readonly video: string | undefined
}

export interface StorySentence {
  readonly n: number
  readonly text: string
  readonly audio: string | undefined
  readonly durationSec: number | undefined
  readonly mux: string | undefined
  readonly out: string | undefined
  readonly shots: ReadonlyArray<StoryShot>
}

export const publish = (
  ws: Workspace,
  store: StoreApi,
  sentences: ReadonlyArray<string>,
  results: ReadonlyMap<string, Built>
) =>
  Effect.try({
    try: () => {
      // Nearly every path is a stored object under the workspace: cut the prefix rather than ask path.relative
      // thousands of times.
      const prefix = ws.dir.endsWith(path.sep) ? ws.dir : ws.dir + path.sep
      const rel = (p: string | undefined) =>
        p === undefined
          ? undefined
          : (p.startsWith(prefix) && !p.includes(`${path.sep}..`) ? p.slice(prefix.length) : path.relative(ws.dir, p)).split(path.sep).join("/")
      const value = (id: string, output: string) => results.get(id)?.outputs[output]?.value
      const story: Array<StorySentence> = []
      const sentencesDir = path.join(ws.outDir, "sentences")
      let k = 1
      sentences.forEach((text, i) => {
        const n = i + 1
        const count = Number(value(ids.shots(n), "count") ?? 0)
        const frames = value(ids.timing(n), "frames") as ReadonlyArray<number> | undefined
        const shots: Array<StoryShot> = []
        for (let j = 1; j <= count; j++, k++) {
          const f = frames?.[j - 1]
          shots.push({
            id: `shot:${k}`,
            k,
            // The shot as the film made it: the plan (the writer's with the person's edits, cast by bible id).
            prompt: value(ids.plan(n), String(j)) ?? value(ids.prompts(n), String(j)) ?? null,
            frames: f,
            seconds: f === undefined ? undefined : f / ws.config.fps,
            image: rel(fileOf(store, results.get(ids.image(k)), "image")),
            video: rel(fileOf(store, results.get(ids.video(k)), "video"))
          })
        }
        const mux = fileOf(store, results.get(ids.mux(n)), "video")
        let out: string | undefined
        if (mux) {
          out = sentenceFile(ws, n)
          copyAtomic(mux, out)
        }
        story.push({
          n,
          text,
          audio: rel(fileOf(store, results.get(ids.audio(n)), "audio")),
          durationSec: value(ids.audio(n), "duration") as number | undefined,
          mux: rel(mux),
          out: rel(out),
          shots
        })
      })
      // Sentence files past the end belong to a longer, earlier transcript.
      if (fs.existsSync(sentencesDir))
        for (const f of fs.readdirSync(sentencesDir)) {
          const m = /^(\d+)\.mp4$/.exec(f)
          if (m && Number(m[1]) > sentences.length) fs.rmSync(path.join(sentencesDir, f), { force: true })
        }
      const final = fileOf(store, results.get(ids.final), "video")
      if (final) copyAtomic(final, path.join(ws.outDir, "final.mp4"))
      // Small text files: copied whenever their bytes differ (a size-and-time check could miss a case change
      // that went back to an older take).
      const copyText = (from: string | undefined, to: string) => {
        if (!from) return
        const bytes = fs.readFileSync(from)
        try {
          if (fs.readFileSync(to).equals(bytes)) return
        } catch {}
        const tmp = `${to}.tmp-${process.pid}`
        fs.writeFileSync(tmp, bytes)
        fs.renameSync(tmp, to)
      }
      fs.mkdirSync(ws.outDir, { recursive: true })
      copyText(fileOf(store, results.get(ids.subtitles), "srt"), path.join(ws.outDir, "final.srt"))
      copyText(fileOf(store, results.get(ids.subtitles), "vtt"), path.join(ws.outDir, "final.vtt"))
      const page = path.join(ws.outDir, "storyboard.html")
      copyText(fileOf(store, results.get(ids.storyboard), "page"), page)
      if (!results.has(ids.storyboard) && results.size > 0 && fs.existsSync(page)) {
        const html = fs.readFileSync(page, "utf8")
        const marked = markStale(html, "the last build did not rebuild this page (a target failed, or only some targets were built)")
        if (marked !== html) fs.writeFileSync(page, marked)
      }
      const manifest = {
        transcript: rel(ws.transcriptPath),
        profile: ws.config.profile,
        final: final ? rel(path.join(ws.outDir, "final.mp4")) : undefined,
        sentences: story
      }
      // Whole or absent, also on a full disk (see Atomic.ts); not rewritten when unchanged (a no-op build).
      const text = JSON.stringify(manifest, null, 2)
      const storyFile = path.join(ws.storeDir, "story.json")
      let same = false
      try {
        same = fs.readFileSync(storyFile, "utf8") === text
      } catch {}
      if (!same) Atomic.writeAtomicSync(storyFile, text, Atomic.tempName(ws.storeDir))
      return manifest
    },
    catch: (e) => new Error(`could not write out/: ${(e as Error).message}`)
  })
