/**
 * `storyboard`: `out/storyboard.html`, the film's plan shot by shot, for a person rather than a log reader.
 * For each sentence: its text, a player for its narration, and its shots in order (thumbnail, prompt,
 * length, camera move, clip player, provider and model, cost); totals at the top.
 *
 * One self-contained page that works from `file://` and makes no network request: styles are inline, there
 * is no script, and media are referenced by relative paths into the store (`.storyshot/objects`), so the
 * page costs nothing to rebuild and never copies a clip. It is a node like the others: it depends on what it
 * shows (each sentence's narration, prompts and timing; each shot's image and clip, added once the shot
 * counts are known), so it is rebuilt when one of them changes and is a cache hit otherwise.
 *
 * Costs and provider names come from the records of the nodes shown (what each was paid when it was made);
 * they are not in the fingerprint: a record's cost never changes for a given output.
 *
 * "What is stale": `collect` lists the shown targets that have no current result (the page's data can be
 * read from a partial set of results). Built as a node, everything it shows is current. When a build does
 * not rebuild the page (a target failed, or only some --target ids were built), `publish.ts` keeps the last
 * page but marks it (`markStale`), so out/ never shows an old plan as up to date.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Option, Schema } from "effect"
import type { Config } from "../src/Config.ts"
import * as Cost from "../src/engine/Cost.ts"
import type { Built, Dep, Json, NodeSpec } from "../src/engine/Node.ts"
import { Store } from "../src/engine/Store.ts"
import type { Workspace } from "../src/Workspace.ts"
import * as Bible from "../src/director/Bible.ts"
import * as Inputs from "../src/director/Inputs.ts"
import { fromEnv } from "../src/providers/ProviderConfig.ts"
import { defineRule, estimateOf, pick } from "./Rule.ts"
import { ids, kinds, Settings } from "./Settings.ts"
import { displayText } from "./subtitles.ts"

export const version = 1

const Recipe = Schema.Struct({
  text: Schema.Array(Schema.String),
  fps: Schema.Number,
  profile: Schema.String,
  store: Schema.String,
  /** The plan only (`build --until prompts`, issue 16): no image or clip is needed; the page shows each shot's
   *  prompt, cast, camera and transition, images pending, and the estimated cost to finish. */
  planOnly: Schema.optional(Schema.Literal(true))
})

/** The store seen from `out/`: part of the page's recipe because every media link goes through it. */
const storeFromOut = (ws: Workspace) => path.relative(ws.outDir, ws.storeDir).split(path.sep).join("/")

/**
 * `sheets`: the character sheets of the story bible (the page shows the cast; issue 16). `readsWriter(n, count)`:
 * whether sentence n's plan reads its writer's node (for the prompts' cost and provider): not once approved.
 */
export const node = (
  sentences: ReadonlyArray<string>,
  config: Config,
  ws: Workspace,
  sheets: ReadonlyArray<string> = [],
  readsWriter: (n: number, count: number) => boolean = () => true,
  planOnly = false
): NodeSpec => ({
  id: ids.storyboard,
  kind: kinds.storyboard,
  stage: "storyboard",
  version,
  recipe: {
    text: sentences.map(displayText),
    fps: config.fps,
    profile: config.profile,
    store: storeFromOut(ws),
    ...(planOnly ? { planOnly: true as const } : {})
  } satisfies typeof Recipe.Type,
  deps: sentences.flatMap((_, i) => [
    { id: ids.audio(i + 1), output: "audio" },
    // The shots as the film uses them (not the writer's node: an approved sentence's plan does not read it): the writer's with the person's pinned edits (targets/plan.ts).
    { id: `sentence:${i + 1}:plan` },
    { id: ids.timing(i + 1), output: "frames" }
  ]).concat(planOnly ? [] : sheets.map((id) => ({ id, output: "image" }))),
  after: sentences.map((_, i) => ids.shots(i + 1)),
  // The shots' nodes are declared by the muxes' expansions; this one only depends on them.
  expand: (built) => {
    const deps: Array<Dep> = []
    let k = 1
    sentences.forEach((_, i) => {
      const count = Number(built.value(ids.shots(i + 1), "count"))
      if (readsWriter(i + 1, count)) deps.push({ id: ids.prompts(i + 1) })
      if (planOnly) return
      for (let j = 0; j < count; j++, k++) deps.push({ id: ids.image(k), output: "image" }, { id: ids.video(k), output: "video" })
    })
    return { nodes: [], deps }
  }
})

// ---------------------------------------------------------------------------------------------------------
// The page's data

export interface PageShot {
  readonly k: number
  readonly j: number
  readonly prompt: string | undefined
  readonly shotType: string | undefined
  readonly camera: string | undefined
  /** The cast the shot shows (bible ids) and how it is entered (issue 16). */
  readonly cast: ReadonlyArray<string>
  readonly transition: string | undefined
  readonly seconds: number | undefined
  readonly image: string | undefined
  readonly video: string | undefined
  readonly imageBy: string | undefined
  readonly videoBy: string | undefined
  readonly cost: Cost.Total
  /** What its image and clip are estimated to cost, on a plan-only page (they are not made yet). */
  readonly pending?: Cost.Total | undefined
}

export interface PageSentence {
  readonly n: number
  readonly text: string
  readonly seconds: number | undefined
  readonly audio: string | undefined
  readonly audioBy: string | undefined
  readonly promptsBy: string | undefined
  readonly cost: Cost.Total
  readonly shots: ReadonlyArray<PageShot>
}

export interface Page {
  readonly profile: string
  readonly shots: number
  readonly seconds: number
  readonly cost: Cost.Total
  /** Targets whose current version is not on the page (not built, or failed). */
  readonly stale: ReadonlyArray<string>
  /** A plan-only page: the estimated cost of the images and clips still to make (before stored results). */
  readonly toFinish?: Cost.Total | undefined
  readonly sentences: ReadonlyArray<PageSentence>
}

export interface Source {
  readonly texts: ReadonlyArray<string>
  readonly fps: number
  readonly profile: string
  /** The current result of a node, if it has one. */
  readonly get: (id: string) => Built | undefined
  /** A stored file as a link relative to `out/`. */
  readonly href: (hash: string, ext: string) => string
  /** A plan-only page: shot K's image and clip estimate (they are not made yet). */
  readonly pending?: ((k: number, n: number, j: number) => Cost.Total) | undefined
}

/** Reads the nodes shown and their records (for cost, provider and model) into the page's data. */
export const collect = (src: Source) =>
  Effect.gen(function* () {
    const store = yield* Store
    const stale: Array<string> = []
    const info = (id: string, optional = false) =>
      Effect.gen(function* () {
        const built = src.get(id)
        if (!built) {
          if (!optional) stale.push(id)
          return undefined
        }
        const record = Option.getOrUndefined(yield* store.getRecord(built.fingerprint))
        const request = record?.requests[0]
        const recipe = record?.data.recipe ?? {}
        const provider = request?.provider ?? str(recipe.provider)
        const model = request?.model ?? str(recipe.model)
        return {
          built,
          by: provider === undefined ? undefined : model ? `${provider} · ${model}` : provider,
          cost: record?.cost ?? Cost.unknown
        }
      })
    const link = (built: Built | undefined, output: string) => {
      const o = built?.outputs[output]
      return o && o.ext !== undefined ? src.href(o.hash, o.ext) : undefined
    }
    const sentences: Array<PageSentence> = []
    let k = 1
    let total = Cost.zero
    let seconds = 0
    for (const [i, text] of src.texts.entries()) {
      const n = i + 1
      const audio = yield* info(ids.audio(n))
      const prompts = yield* info(ids.prompts(n), true)
      const planned = src.get(`sentence:${n}:plan`)
      const timing = src.get(ids.timing(n))
      if (!timing) stale.push(ids.timing(n))
      const frames = timing?.outputs.frames?.value as ReadonlyArray<number> | undefined
      const count = frames?.length ?? Number(src.get(ids.shots(n))?.outputs.count?.value ?? 0)
      // An approved sentence's plan no longer reads its writer: nothing is paid for its prompts in this film.
      let cost = Cost.sum([audio?.cost ?? Cost.unknown, prompts?.cost ?? (planned !== undefined ? Cost.zero : Cost.unknown)])
      const shots: Array<PageShot> = []
      for (let j = 1; j <= count; j++, k++) {
        const image = yield* info(ids.image(k))
        const video = yield* info(ids.video(k))
        const p = (planned ?? prompts?.built)?.outputs[String(j)]?.value as
          | { prompt?: Json; shotType?: Json; camera?: Json; cast?: Json; transition?: Json }
          | undefined
        const f = frames?.[j - 1]
        const shotCost = Cost.sum([image?.cost ?? Cost.unknown, video?.cost ?? Cost.unknown])
        cost = Cost.add(cost, shotCost)
        shots.push({
          k,
          j,
          prompt: str(p?.prompt),
          shotType: str(p?.shotType),
          camera: str(p?.camera),
          cast: Array.isArray(p?.cast) ? p.cast.filter((c): c is string => typeof c === "string") : [],
          transition: str(p?.transition),
          seconds: f === undefined ? undefined : f / src.fps,
          image: link(image?.built, "image"),
          video: link(video?.built, "video"),
          imageBy: image?.by,
          videoBy: video?.by,
          cost: shotCost
        })
      }
      const sentenceSec = frames ? frames.reduce((a, b) => a + b, 0) / src.fps : undefined
      seconds += sentenceSec ?? 0
      total = Cost.add(total, cost)
      sentences.push({
        n,
        text,
        seconds: sentenceSec,
        audio: link(audio?.built, "audio"),
        audioBy: audio?.by,
        promptsBy: prompts?.by,
        cost,
        shots
      })
    }
    const page: Page = { profile: src.profile, shots: k - 1, seconds, cost: total, stale, sentences }
    if (src.pending === undefined) return page
    // The plan only: nothing about images and clips is stale, they are pending; what they would cost is shown.
    const withPending = sentences.map((s) => ({ ...s, shots: s.shots.map((shot) => ({ ...shot, pending: src.pending!(shot.k, s.n, shot.j) })) }))
    const toFinish = Cost.sum(withPending.flatMap((s) => s.shots.map((shot) => shot.pending)))
    return { ...page, stale: stale.filter((id) => !/^shot:\d+:(image|video)$/.test(id)), sentences: withPending, toFinish } satisfies Page
  })

const str = (v: Json | undefined): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined)

// ---------------------------------------------------------------------------------------------------------
// The page

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)

/** A relative link, percent-encoded where a path character would break the URL (spaces, #, ?). */
const url = (href: string) => esc(href.split("/").map(encodeURIComponent).join("/"))

const duration = (sec: number | undefined) => {
  if (sec === undefined) return "?"
  if (sec < 60) return `${sec.toFixed(1)} s`
  return `${Math.floor(sec / 60)} min ${(sec % 60).toFixed(1)} s`
}

const money = (c: Cost.Total) => (c.usd === 0 && !c.known ? "unknown" : Cost.format(c))

const css = `
:root{color-scheme:light dark;--bg:#f6f5f2;--card:#fff;--ink:#1d1d1f;--dim:#6b6b70;--line:#dddbd5;--accent:#8a4b2a}
@media (prefers-color-scheme:dark){:root{--bg:#151517;--card:#212124;--ink:#ececef;--dim:#a0a0a8;--line:#34343a;--accent:#e0a47c}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--ink)}
header{position:sticky;top:0;z-index:1;background:var(--bg);border-bottom:1px solid var(--line);padding:10px 16px}
h1{font-size:18px;margin:0 0 6px}
.totals{display:flex;flex-wrap:wrap;gap:6px 18px;margin:0;padding:0;list-style:none;color:var(--dim)}
.totals b{color:var(--ink)}
.stale{margin:6px 0 0;color:#b3261e}
.fresh{margin:6px 0 0;color:#1b7f3b}
.plan{margin:6px 0 0}
main{padding:8px 16px 32px;max-width:1200px;margin:0 auto}
section.sentence{margin:18px 0 28px}
.sentence h2{font-size:16px;font-weight:600;margin:0 0 4px}
.sentence h2 .n{color:var(--accent);margin-right:6px}
.meta{color:var(--dim);font-size:13px;margin:0 0 8px}
audio{width:100%;max-width:520px;height:36px}
.shots{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px;margin-top:10px}
article.shot{background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden;display:flex;flex-direction:column}
article.shot img,article.shot video{display:block;width:100%;aspect-ratio:16/9;object-fit:contain;background:#000}
.missing{display:flex;align-items:center;justify-content:center;aspect-ratio:16/9;background:repeating-linear-gradient(45deg,#0000 0 8px,#8882 8px 16px);color:var(--dim)}
.body{padding:8px 10px 10px}
.body p{margin:0 0 6px}
.tags{display:flex;flex-wrap:wrap;gap:4px 10px;font-size:13px;color:var(--dim)}
.tags b{color:var(--ink);font-weight:600}
details{font-size:13px;color:var(--dim)}
details summary{cursor:pointer}
@media (max-width:560px){main{padding:4px 10px 24px}.shots{grid-template-columns:1fr}h1{font-size:16px}}
`

export const render = (page: Page): string => {
  const planLine =
    page.toFinish === undefined
      ? ""
      : `<p class="plan">The plan only: images and clips are not made yet. To finish: about <b>${esc(money(page.toFinish))}</b> (estimated; results already stored are not paid again). Review, then <code>storyshot refine</code>, <code>storyshot approve</code>, <code>storyshot build</code>.</p>`
  const staleLine =
    page.stale.length === 0
      ? `<p class="fresh">Up to date: every shot on this page is current.</p>`
      : `<p class="stale">Stale: ${page.stale.length} target(s) not built in the last build (${esc(page.stale.slice(0, 8).join(", "))}${page.stale.length > 8 ? ", …" : ""}); run <code>storyshot build</code>.</p>`
  const shot = (s: PageShot, count: number) => `
<article class="shot" id="shot-${s.k}">
  ${s.image ? `<img src="${url(s.image)}" alt="shot ${s.k}: ${esc(s.prompt ?? "")}" width="320" height="180">` : `<div class="missing">${s.pending ? `image pending · ${esc(money(s.pending))}` : "no image yet"}</div>`}
  <div class="body">
    <p class="tags"><b>shot ${s.k}</b><span>${s.j} of ${count}</span><span>${duration(s.seconds)}</span>${s.camera ? `<span>camera: ${esc(s.camera)}</span>` : ""}${s.shotType ? `<span>${esc(s.shotType)}</span>` : ""}${s.cast.length > 0 ? `<span>cast: ${esc(s.cast.join(", "))}</span>` : ""}${s.transition && s.transition !== "cut" ? `<span>in: ${esc(s.transition)}</span>` : ""}<span>${money(s.cost)}</span></p>
    <p>${esc(s.prompt ?? "(no prompt yet)")}</p>
    ${s.video ? `<video controls preload="metadata" src="${url(s.video)}"${s.image ? ` poster="${url(s.image)}"` : ""}></video>` : `<div class="missing">no clip yet</div>`}
    <p class="tags"><span>image: ${esc(s.imageBy ?? "?")}</span><span>clip: ${esc(s.videoBy ?? "?")}</span></p>
  </div>
</article>`
  const sentence = (s: PageSentence) => `
<section class="sentence" id="sentence-${s.n}">
  <h2><span class="n">${s.n}</span>${esc(s.text)}</h2>
  <p class="meta">${duration(s.seconds)} · ${s.shots.length} shot${s.shots.length === 1 ? "" : "s"} · ${money(s.cost)} · narration: ${esc(s.audioBy ?? "?")} · prompts: ${esc(s.promptsBy ?? "?")}</p>
  ${s.audio ? `<audio controls preload="metadata" src="${url(s.audio)}"></audio>` : `<p class="missing">no narration yet</p>`}
  <div class="shots">${s.shots.map((x) => shot(x, s.shots.length)).join("")}
  </div>
</section>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Storyboard · ${page.shots} shots · ${duration(page.seconds)}</title>
<link rel="icon" href="data:,">
<style>${css}</style>
</head>
<body>
<header>
  <h1>Storyboard</h1>
  <ul class="totals">
    <li><b>${page.sentences.length}</b> sentences</li>
    <li><b>${page.shots}</b> shots</li>
    <li>film <b>${duration(page.seconds)}</b></li>
    <li>cost <b>${money(page.cost)}</b></li>
    <li>profile <b>${esc(page.profile)}</b></li>
    <li><a href="final.mp4">final.mp4</a> · <a href="final.srt">final.srt</a></li>
  </ul>
  ${staleLine}${planLine}
</header>
<main>${page.sentences.map(sentence).join("")}
</main>
</body>
</html>
`
}

const freshLine = /<p class="fresh">[^<]*<\/p>/

/** The last page, marked as possibly behind the transcript and settings (see the header). */
export const markStale = (html: string, why: string): string =>
  html.replace(freshLine, `<p class="stale">Stale: ${esc(why)}; run <code>storyshot build</code>.</p>`)

/** A shot's image and clip as the config's implementations would price them (contract: `Impl.estimate`). */
const pendingEstimate = (ws: Workspace, count: number) => {
  const plan = { config: ws.config, providers: fromEnv(ws.env), storeDir: ws.storeDir, director: Inputs.loadSync(ws.dir) }
  const image = pick("image", ws.config)
  const video = pick("video", ws.config)
  const sentences = Array.from({ length: count }, () => "")
  return (k: number, n: number, j: number): Cost.Total => {
    const shot = { n, j, k }
    return Cost.sum([estimateOf(image, image.node({ shot, sentence: sentences[n - 1] ?? "" }, plan)), estimateOf(video, video.node({ shot }, plan))])
  }
}

const sheetsEstimate = (ws: Workspace): Cost.Total => {
  const plan = { config: ws.config, providers: fromEnv(ws.env), storeDir: ws.storeDir, director: Inputs.loadSync(ws.dir) }
  const image = pick("image", ws.config)
  if (image.sheet === undefined) return Cost.zero
  return Cost.sum(
    (plan.director.bible?.cast ?? []).map((c) => estimateOf(image, image.sheet!({ id: Bible.idOf(c.name) }, plan)))
  )
}

export const rule = defineRule({
  kind: kinds.storyboard,
  recipe: Recipe,
  pool: "local",
  run: (ctx) =>
    Effect.gen(function* () {
      const ws = yield* Settings
      const store = yield* Store
      const shown = new Set(ctx.deps.map((d) => d.id))
      const page = yield* collect({
        texts: ctx.recipe.text,
        fps: ctx.recipe.fps,
        profile: ctx.recipe.profile,
        get: (id) => (shown.has(id) ? ctx.dep(id) : undefined),
        href: (hash, ext) => path.relative(ws.outDir, store.objectPath(hash, ext)).split(path.sep).join("/"),
        ...(ctx.recipe.planOnly ? { pending: pendingEstimate(ws, ctx.recipe.text.length) } : {})
      })
      const file = path.join(ctx.scratch, "storyboard.html")
      // A plan-only page's cost to finish holds the character sheets too (bought once, before the shots).
      const shownPage = page.toFinish === undefined ? page : { ...page, toFinish: Cost.add(page.toFinish, sheetsEstimate(ws)) }
      fs.writeFileSync(file, render(shownPage), "utf8")
      return { page: { file, ext: "html" } }
    })
})
