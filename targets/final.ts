/**
 * `final`: the sentence muxes joined into the film (stream copy when the parts allow it). It is written to
 * the store like every output; `out/final.mp4` is a copy made from the store (see `src/Publish.ts`).
 * The parts are joined by laying their MP4 sample tables end to end (`src/media/Mp4.ts`: no ffmpeg, no
 * re-mux, so an edit of one sentence costs the cut one copy of the film's bytes); `STORYSHOT_FINAL_JOIN=ffmpeg`
 * (in the environment or the workspace's `.env`) joins them with ffmpeg's concat demuxer instead. The choice is
 * in the recipe, so switching rebuilds this node only.
 * With `subtitles.burn`, the joined film is re-encoded once more with the subtitles drawn in (`subtitles.ts`).
 * With `music`, a music bed is laid under the narration last (`src/media/Music.ts`): the picture is copied and
 * only the sound encoded again. The music file's hash and settings are in this node's recipe and nowhere else,
 * so changing them rebuilds `final` only and pays for nothing; the sentence files stay voice-only.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import type { Config } from "../src/Config.ts"
import type { NodeSpec } from "../src/engine/Node.ts"
import { ids, kinds } from "../src/Film.ts"
import { concatFinal, type FinalJoin } from "../src/media/Assemble.ts"
import { invalid } from "../src/media/Errors.ts"
import * as Music from "../src/media/Music.ts"
import { verifyMedia } from "../src/media/Verify.ts"
import { defineRule } from "./Rule.ts"
import { Settings } from "./Settings.ts"
import * as Subtitles from "./subtitles.ts"

// 2: the table join became the default (version 1 joined with ffmpeg's concat, whose sound drifts for decoders
// that play every packet): films built before get their cut made again, and nothing else.
export const version = 2

/** The join the environment asks for: `STORYSHOT_FINAL_JOIN=ffmpeg` (or `concat`) for ffmpeg's concat demuxer. */
export const joinFrom = (env: Readonly<Record<string, string | undefined>>): FinalJoin => {
  const value = env.STORYSHOT_FINAL_JOIN?.trim().toLowerCase()
  return value === "ffmpeg" || value === "concat" ? "ffmpeg" : "tables"
}

// Without burning, music or another join, the recipe stays empty. The music has one
// key per setting, so `storyshot why final` names the one that changed ("musicVolumeDb: -18 → -12").
const Recipe = Schema.Struct({
  subtitles: Schema.optional(Schema.String),
  /** Only when it is not the default table join. */
  join: Schema.optional(Schema.Literal("ffmpeg")),
  /** Music.version: the mix itself. */
  musicMix: Schema.optional(Schema.Number),
  /** The music file's sha256. */
  musicFile: Schema.optional(Schema.String),
  musicVolumeDb: Schema.optional(Schema.Number),
  musicDuckDb: Schema.optional(Schema.NullOr(Schema.Number)),
  musicFadeInSec: Schema.optional(Schema.Number),
  musicFadeOutSec: Schema.optional(Schema.Number)
})

/** The music bed as the final cut sees it: the file (its path stays out of the fingerprint: moving the
 *  workspace must not rebuild the film) and what enters the recipe (its bytes' hash and the settings). */
export interface MusicBed {
  /** As the config names it, relative to the workspace (records, and a remote cache, hold no absolute path). */
  readonly file: string
  readonly sha256: string
  readonly settings: Music.MusicSettings
}

/** The configured music bed, read once when the graph is planned (the workspace checked that it exists). */
export const musicBed = (dir: string, music: Config["music"]): MusicBed | undefined => {
  if (music === undefined) return undefined
  return {
    file: music.file,
    sha256: createHash("sha256").update(fs.readFileSync(path.resolve(dir, music.file))).digest("hex"),
    settings: { volumeDb: music.volumeDb, duckDb: music.duckDb, fadeInSec: music.fadeInSec, fadeOutSec: music.fadeOutSec }
  }
}

export const node = (sentenceCount: number, burnSubtitles = false, music?: MusicBed, join: FinalJoin = "tables"): NodeSpec => ({
  id: ids.final,
  kind: kinds.final,
  stage: "final",
  version,
  recipe: {
    ...(burnSubtitles ? { subtitles: Subtitles.burnStyle } : {}),
    ...(join === "ffmpeg" ? { join } : {}),
    ...(music === undefined
      ? {}
      : {
          musicMix: Music.version,
          musicFile: music.sha256,
          musicVolumeDb: music.settings.volumeDb,
          musicDuckDb: music.settings.duckDb ?? null,
          musicFadeInSec: music.settings.fadeInSec,
          musicFadeOutSec: music.settings.fadeOutSec
        })
  } satisfies typeof Recipe.Type,
  ...(music === undefined ? {} : { context: { musicFile: music.file } }),
  deps: [
    ...Array.from({ length: sentenceCount }, (_, i) => ({ id: ids.mux(i + 1), output: "video" })),
    ...(burnSubtitles ? [{ id: ids.subtitles, output: "srt" }] : [])
  ]
})

export const rule = defineRule({
  kind: kinds.final,
  recipe: Recipe,
  pool: "ffmpeg",
  run: (ctx) =>
    Effect.gen(function*() {
      const file = path.join(ctx.scratch, "final.mp4")
      const style = ctx.recipe.subtitles
      const sha256 = ctx.recipe.musicFile
      const parts = ctx.deps.filter((d) => d.id !== ids.subtitles).map((d) => ctx.file(d.id, "video"))
      const joined = style !== undefined || sha256 !== undefined ? path.join(ctx.scratch, "joined.mp4") : file
      yield* concatFinal({ parts, out: joined, listDir: ctx.scratch, join: ctx.recipe.join ?? "tables" })
      const burned = style !== undefined && sha256 !== undefined ? path.join(ctx.scratch, "burned.mp4") : file
      if (style !== undefined) yield* Subtitles.burn({ input: joined, srt: ctx.file(ids.subtitles, "srt"), out: burned, style })
      if (sha256 !== undefined) {
        const musicFile = path.resolve((yield* Settings).dir, String(ctx.node.context?.musicFile))
        // The file is read again now: one edited since the graph was planned must not pass for the old one.
        const now = yield* Effect.try({
          try: () => createHash("sha256").update(fs.readFileSync(musicFile)).digest("hex"),
          catch: (e) => invalid(musicFile, `music.file cannot be read (${(e as Error).message})`)
        })
        if (now !== sha256) return yield* Effect.fail(invalid(musicFile, "music.file changed during the build; build again"))
        yield* Music.mix({
          film: style !== undefined ? burned : joined,
          music: musicFile,
          out: file,
          scratch: ctx.scratch,
          settings: {
            volumeDb: ctx.recipe.musicVolumeDb ?? 0,
            duckDb: ctx.recipe.musicDuckDb ?? undefined,
            fadeInSec: ctx.recipe.musicFadeInSec ?? 0,
            fadeOutSec: ctx.recipe.musicFadeOutSec ?? 0
          }
        })
      }
      yield* verifyMedia(file, { video: true, audio: true })
      return { video: { file, ext: "mp4" } }
    })
})
