// storyshot studio: the page `storyshot serve` shows at /. No framework, nothing fetched from elsewhere.
// Every text that came from a transcript, a prompt or a server message is put in the page as text
// (textContent / the `h` helper below), never as HTML.

const $ = (sel, root = document) => root.querySelector(sel)

/** An element: h("button", { class: "x", onclick }, "text", child…). Strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v)
    else if (k === "class") el.className = v
    else if (v === true) el.setAttribute(k, "")
    else el.setAttribute(k, String(v))
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}

/** Replaces an element's children (null, undefined and false are left out). */
function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false))
}

// ---------------------------------------------------------------------------------------------------
// Talking to the server

class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

async function api(method, path, body) {
  const init = { method, headers: { accept: "application/json" } }
  if (body instanceof FormData) init.body = body
  else if (body !== undefined) {
    init.headers["content-type"] = "application/json"
    init.body = JSON.stringify(body)
  }
  const res = await fetch(path, init)
  if (res.status === 401) {
    location.reload() // the server asks for its token: the sign-in page
    throw new ApiError(401, "sign in first")
  }
  const text = await res.text()
  const data = text ? JSON.parse(text) : null
  if (!res.ok) throw new ApiError(res.status, (data && data.message) || `${res.status} ${res.statusText}`)
  return data
}

const enc = encodeURIComponent

// ---------------------------------------------------------------------------------------------------
// Money and time

function money(m) {
  if (!m) return "—"
  const usd = m.usd
  if (usd === null || usd === undefined) return "unknown"
  // Cents, or 4 significant digits under a cent ($0.000125), as the API rounds them: never float noise.
  const text = usd === 0 ? "$0" : usd < 0.01 ? `$${Number(usd.toPrecision(4))}` : `$${usd.toFixed(2)}`
  const known = "known" in m ? m.known : m.source !== "unknown"
  return known ? text : `${text}+unknown`
}

const seconds = (s) => (s === null || s === undefined ? "?" : s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`)
const duration = (ms) => (ms === null || ms === undefined ? "—" : seconds(ms / 1000))
const when = (t) => (t ? new Date(t).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" }) : "—")

// ---------------------------------------------------------------------------------------------------
// Small UI parts

function toast(text, kind = "info") {
  const el = h("div", { class: `toast ${kind}` }, text)
  $("#toasts").append(el)
  setTimeout(() => el.remove(), kind === "error" ? 9000 : 4000)
}

/** Asks before paying: the dialog shows what will be built and its price; resolves true on confirm. */
function confirmDialog(title, body, okLabel) {
  const dialog = $("#confirm")
  $("#confirm-title").textContent = title
  fill($("#confirm-body"), ...body)
  $("#confirm-ok").textContent = okLabel
  dialog.returnValue = ""
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true })
    dialog.showModal()
    $("#confirm-ok").focus()
  })
}

function quoteBody(quote, intro) {
  const byStage = new Map()
  for (const n of quote.nodes) byStage.set(n.stage, [...(byStage.get(n.stage) ?? []), n])
  return [
    h("p", {}, intro),
    quote.nodes.length === 0
      ? h("p", { class: "dim" }, "Nothing would be built: everything is up to date.")
      : h(
          "ul",
          { class: "quote-list" },
          [...byStage].map(([stage, nodes]) => h("li", {}, h("b", {}, stage), " ", nodes.map((n) => n.id).join(", ")))
        ),
    h("p", { class: "price" }, "Estimated cost: ", h("b", {}, money(quote.estimate))),
    h("p", { class: "dim small" }, quote.note)
  ]
}

const statusLabel = {
  fresh: "ready",
  stale: "to build",
  running: "building…",
  failed: "failed",
  planned: "planned"
}

// ---------------------------------------------------------------------------------------------------
// Routing

let current = null // the open project view, with its EventSource

function route() {
  if (current) current.close()
  current = null
  const m = /^#\/p\/([^/]+)$/.exec(location.hash)
  if (m) current = openProject(decodeURIComponent(m[1]))
  else showProjects()
}

window.addEventListener("hashchange", route)
window.addEventListener("DOMContentLoaded", route)

// ---------------------------------------------------------------------------------------------------
// The projects

async function showProjects() {
  fill($("#crumbs"), )
  document.title = "storyshot"
  const main = $("#main")
  fill(main, h("p", { class: "dim" }, "Loading projects…"))
  let list
  try {
    list = await api("GET", "/api/projects")
  } catch (e) {
    fill(main, h("p", { class: "notice error" }, e.message))
    return
  }
  const cards = list.projects.map((p) =>
    h(
      "li",
      {},
      h(
        "a",
        { class: "project-card", href: `#/p/${enc(p.id)}` },
        h("span", { class: "name" }, p.name),
        h(
          "span",
          { class: "facts" },
          h("span", { class: `badge ${p.profile}` }, p.profile),
          p.sentences === null ? h("span", { class: "error" }, p.problem ?? "cannot be read") : `${p.sentences} sentence${p.sentences === 1 ? "" : "s"}`,
          p.job && (p.job.state === "running" || p.job.state === "queued") ? h("span", { class: "badge live" }, p.job.state) : null,
          p.lastRun ? `last run ${p.lastRun.status} · ${money(p.lastRun.cost)}` : "not built yet"
        )
      )
    )
  )
  fill(main, 
    h("section", { class: "projects", "aria-labelledby": "projects-title" }, h("h1", { id: "projects-title" }, "Projects"), cards.length ? h("ul", { class: "project-list" }, cards) : h("p", { class: "dim" }, "No project yet.")),
    list.mode === "root" ? createForm() : h("p", { class: "dim small" }, "This server shows one workspace. Start it with --root DIR to create projects.")
  )
}

function createForm() {
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite" })
  const form = h(
    "form",
    { class: "create", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "New project"),
    h("label", { for: "new-name" }, "Name"),
    h("input", { id: "new-name", name: "name", required: true, maxlength: 80, autocomplete: "off", placeholder: "The lighthouse keeper" }),
    h("label", { for: "new-transcript" }, "Transcript"),
    h("textarea", { id: "new-transcript", name: "transcript", rows: 8, placeholder: "Paste the narration here. Each sentence becomes a narrated scene with its shots." }),
    h("label", { for: "new-file", class: "small" }, "…or upload a text file"),
    h("input", { id: "new-file", name: "file", type: "file", accept: ".txt,.md,text/plain" }),
    h(
      "fieldset",
      { class: "profiles" },
      h("legend", {}, "Profile"),
      h("label", { class: "choice" }, h("input", { type: "radio", name: "profile", value: "draft", checked: true }), h("span", {}, h("b", {}, "Draft"), " offline and free: a voice, storyboard cards and camera moves")),
      h("label", { class: "choice" }, h("input", { type: "radio", name: "profile", value: "cloud" }), h("span", {}, h("b", {}, "Cloud"), " paid providers (fal, OpenAI, OpenRouter; keys on the server)"))
    ),
    h(
      "div",
      { class: "row wrap two" },
      h("div", {}, h("label", { for: "new-aspect" }, "Aspect"), h("select", { id: "new-aspect", name: "aspect" }, h("option", { value: "16:9" }, "16:9 landscape"), h("option", { value: "9:16" }, "9:16 portrait"), h("option", { value: "1:1" }, "1:1 square"))),
      h(
        "div",
        {},
        h("label", { for: "new-size" }, "Size"),
        h("select", { id: "new-size", name: "size" }, h("option", { value: "360" }, "360p"), h("option", { value: "720" }, "720p"), h("option", { value: "preview" }, "Preview (90p, 12 fps: fastest)"))
      )
    ),
    h("div", { class: "row end" }, h("button", { type: "submit", class: "primary" }, "Create project")),
    status
  )
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault()
    const data = new FormData(form)
    const file = data.get("file")
    const name = String(data.get("name") ?? "").trim()
    const profile = String(data.get("profile") ?? "draft")
    const aspect = String(data.get("aspect") ?? "16:9")
    const size = String(data.get("size") ?? "360")
    const settings = {
      ...(aspect === "16:9" ? {} : { aspect }),
      ...(size === "720" ? { height: 720 } : size === "preview" ? { height: 90, fps: 12 } : {})
    }
    status.textContent = "Creating…"
    try {
      let project
      if (file && file.size > 0) {
        const up = new FormData()
        up.append("name", name)
        up.append("profile", profile)
        up.append("settings", JSON.stringify(settings))
        up.append("transcript", file)
        project = await api("POST", "/api/projects/upload", up)
      } else {
        const transcript = String(data.get("transcript") ?? "")
        if (!transcript.trim()) {
          status.textContent = "Paste a transcript or choose a file."
          $("#new-transcript").focus()
          return
        }
        project = await api("POST", "/api/projects", { name, transcript, profile, settings })
      }
      location.hash = `#/p/${enc(project.id)}`
    } catch (e) {
      status.textContent = e.message
      status.classList.add("error")
    }
  })
  return form
}

// ---------------------------------------------------------------------------------------------------
// One project

function openProject(id) {
  const base = `/api/projects/${enc(id)}`
  const main = $("#main")
  let project = null
  let story = null
  let plan = null
  let job = null // the latest unfinished job, or the last one
  const live = new Map() // node id → "running" | "failed", from the build's events
  let closed = false

  // The regions of the view, made once and updated in place (an open prompt editor keeps its text).
  const title = h("h1", {}, id)
  const badges = h("span", { class: "badges" })
  const buildButton = h("button", { class: "primary", type: "button", onclick: () => startBuild() }, "Build")
  const cancelButton = h("button", { class: "ghost", type: "button", hidden: true, onclick: () => cancelBuild() }, "Cancel")
  const progress = h("progress", { max: 1, value: 0, "aria-label": "Build progress" })
  const progressText = h("p", { class: "progress-text", "aria-live": "polite" })
  const stages = h("ul", { class: "stages" })
  const totals = h("ul", { class: "totals" })
  const player = h("video", { controls: true, preload: "metadata", playsinline: true, id: "player" })
  const playerLabel = h("p", { class: "player-label dim" }, "The film appears here once it is built.")
  const chooser = h("div", { class: "chooser", role: "group", "aria-label": "Play" })
  const downloads = h("ul", { class: "downloads" })
  const board = h("div", { class: "board" })
  const runs = h("tbody")
  const log = h("ol", { class: "log", "aria-label": "Recent build events" })
  const cards = new Map() // k → card
  const sections = new Map() // n → section

  fill(main, 
    h(
      "section",
      { class: "bar", "aria-label": "Build" },
      h("div", { class: "row wrap" }, title, badges, h("span", { class: "grow" }), cancelButton, buildButton),
      h("div", { class: "progress" }, progress, progressText),
      stages,
      totals
    ),
    h(
      "div",
      { class: "layout" },
      h(
        "section",
        { class: "watch", "aria-labelledby": "watch-title" },
        h("h2", { id: "watch-title", class: "visually-hidden" }, "Player"),
        player,
        playerLabel,
        chooser,
        downloads,
        h("details", { class: "activity" }, h("summary", {}, "Build events"), log)
      ),
      h("section", { class: "story", "aria-labelledby": "story-title" }, h("h2", { id: "story-title" }, "Storyboard"), board)
    ),
    h(
      "section",
      { class: "history", "aria-labelledby": "runs-title" },
      h("h2", { id: "runs-title" }, "Runs"),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["When", "What", "Status", "Built", "Cached", "Failed", "Cost", "Time"].map((t) => h("th", { scope: "col" }, t)))), runs))
    )
  )
  fill($("#crumbs"), h("a", { href: "#/" }, "Projects"), h("span", { "aria-hidden": "true" }, " / "), h("span", { "aria-current": "page" }, id))

  // --- loading ---------------------------------------------------------------------------------------

  let storyTimer = null
  let storyBusy = false
  let storyAgain = false
  /** Re-reads the story soon; at most one request at a time, and one more if asked meanwhile. */
  function refreshStory(delay = 400) {
    if (storyTimer) return
    storyTimer = setTimeout(async () => {
      storyTimer = null
      if (storyBusy) {
        storyAgain = true
        return
      }
      storyBusy = true
      try {
        story = await api("GET", `${base}/story`)
        if (!closed) renderStory()
      } catch (e) {
        if (!closed) toast(e.message, "error")
      } finally {
        storyBusy = false
        if (storyAgain) {
          storyAgain = false
          refreshStory(0)
        }
      }
    }, delay)
  }

  async function refreshPlan() {
    try {
      plan = await api("GET", `${base}/plan`)
    } catch (e) {
      plan = null
      toast(e.message, "error")
    }
    renderBar()
  }

  async function refreshRuns() {
    try {
      const data = await api("GET", `${base}/builds`)
      renderRuns(data.runs)
    } catch {}
  }

  async function loadProject() {
    try {
      project = await api("GET", base)
    } catch (e) {
      fill(main, h("p", { class: "notice error" }, e.message), h("p", {}, h("a", { href: "#/" }, "All projects")))
      return
    }
    document.title = `${project.name} · storyshot`
    title.textContent = project.name
    fill(badges, h("span", { class: `badge ${project.profile}` }, project.profile), h("span", { class: "badge" }, project.aspect), project.paid ? null : h("span", { class: "badge free" }, "free"))
    if (project.problem) toast(project.problem, "error")
    if (!job && project.job) job = project.job
    renderBar()
  }

  // --- the events -----------------------------------------------------------------------------------

  const events = new EventSource(`${base}/events`)
  events.onmessage = (m) => {
    const msg = JSON.parse(m.data)
    if (msg._tag === "Hello") {
      const jobs = msg.jobs
      job = jobs.find((j) => j.state === "running" || j.state === "queued") ?? jobs[0] ?? job
      live.clear()
      renderBar()
      refreshStory(0)
    } else if (msg._tag === "Job") {
      const before = job
      if (!job || job.id === msg.job.id || msg.job.createdAt >= job.createdAt) job = msg.job
      const ended = msg.job.state !== "running" && msg.job.state !== "queued"
      renderBar()
      if (!before || before.id !== msg.job.id || before.state !== msg.job.state) {
        refreshRuns()
        if (msg.job.state === "running") note(`${msg.job.label}: started`)
        if (msg.job.state === "queued") note(`${msg.job.label}: queued`)
      }
      if (ended && before && before.state !== msg.job.state) {
        live.clear()
        refreshStory(0)
        refreshPlan()
        const spent = money(msg.job.spent)
        const sameTake = msg.job.label.startsWith("re-roll") && msg.job.built.length === msg.job.retake.length && msg.job.built.every((id) => msg.job.retake.includes(id))
        if (msg.job.state === "done" && sameTake)
          toast(`${msg.job.label}: the new take came out the same, so nothing after it changed (a free draft card is drawn from its prompt: edit the prompt to change it)`)
        else if (msg.job.state === "done") toast(`${msg.job.label}: done · ${msg.job.built.length} built · spent ${spent}`)
        else toast(`${msg.job.label}: ${msg.job.state}${msg.job.error ? ` — ${msg.job.error}` : ""}`, msg.job.state === "failed" ? "error" : "info")
      }
    } else if (msg._tag === "Build") {
      const e = msg.event
      if (e._tag === "Started") live.set(e.id, "running")
      else if (e._tag === "Built" || e._tag === "Cached") live.delete(e.id)
      else if (e._tag === "Failed") {
        live.set(e.id, "failed")
        note(`failed ${e.id}: ${e.error}`, "error")
      } else if (e._tag === "Warning") note(`warning: ${e.message}`)
      if (e._tag === "Built") note(`built ${e.id} in ${duration(e.endedAt - e.startedAt)}${e.cost && e.cost.source !== "free" ? ` · ${money(e.cost)}` : ""}`)
      if (e._tag === "Started" || e._tag === "Failed") markLive(e.id)
      if (e._tag === "Built") refreshStory()
    } else if (msg._tag === "Changed") {
      refreshStory(0)
      refreshPlan()
    }
  }
  events.onerror = () => {
    // EventSource reconnects by itself (retry: 2 s); the Hello it gets then brings the page up to date.
  }

  function note(text, kind = "info") {
    log.prepend(h("li", { class: kind }, h("time", {}, new Date().toLocaleTimeString()), " ", text))
    while (log.children.length > 200) log.lastChild.remove()
  }

  // --- the bar: build, progress, money ----------------------------------------------------------------

  function renderBar() {
    const running = job && (job.state === "running" || job.state === "queued")
    cancelButton.hidden = !running
    buildButton.disabled = false
    if (running) {
      buildButton.textContent = "Build again after this"
    } else if (plan) {
      buildButton.textContent = plan.nodes.length === 0 ? "Up to date" : `Build · ${money(plan.estimate)}`
      buildButton.disabled = plan.nodes.length === 0
      buildButton.title = plan.nodes.length === 0 ? "Nothing is stale" : `${plan.nodes.length} nodes to build, estimated ${money(plan.estimate)}`
    }
    if (job) {
      const p = job.progress
      progress.max = Math.max(1, p.total)
      progress.value = job.state === "done" ? progress.max : p.done
      const left = project && !project.paid ? " · every stage is free" : job.left ? ` · left ≈ ${money(job.left)}` : ""
      const what = job.state === "running" ? `${p.done} of ${p.total} done` : job.state === "queued" ? "waiting for the build before it" : job.state
      fill(progressText, 
        ...[
          h("b", {}, job.label),
          ` — ${what} · spent ${money(job.spent)}${left}`,
          job.running.length ? h("span", { class: "dim" }, ` · building ${job.running.slice(0, 3).join(", ")}${job.running.length > 3 ? ` +${job.running.length - 3}` : ""}`) : null,
          job.error && !running ? h("span", { class: "error" }, ` — ${job.error}`) : null
        ].filter((x) => x !== null)
      )
      // Per stage while it runs; a finished build's counts are only its own (the totals below are the film's).
      fill(stages, ...(running ? p.stages.map((s) => h("li", { class: s.done >= s.total ? "done" : "" }, `${s.stage} ${s.done}/${s.total}`)) : []))
    } else {
      progress.value = 0
      progressText.textContent = plan ? `Not built yet: ${plan.nodes.length} nodes to build, estimated ${money(plan.estimate)}.` : ""
      fill(stages, )
    }
  }

  async function startBuild() {
    if (!plan) await refreshPlan()
    const paid = plan && plan.estimate.usd > 0
    if (paid) {
      const ok = await confirmDialog("Build the film?", quoteBody({ nodes: plan.nodes, estimate: plan.estimate, note: "An estimate; stored results are not counted." }, "This build would make:"), `Build · ${money(plan.estimate)}`)
      if (!ok) return
    }
    try {
      job = await api("POST", `${base}/builds`, {})
      renderBar()
    } catch (e) {
      toast(e.message, "error")
    }
  }

  async function cancelBuild() {
    if (!job) return
    try {
      await api("POST", `${base}/builds/${enc(job.id)}/cancel`)
    } catch (e) {
      toast(e.message, "error")
    }
  }

  // --- the story -------------------------------------------------------------------------------------

  function renderStory() {
    if (!story) return
    fill(totals, 
      h("li", {}, h("b", {}, String(story.sentences.length)), " sentences"),
      h("li", {}, h("b", {}, String(story.shots)), " shots"),
      h("li", {}, "film ", h("b", {}, seconds(story.seconds))),
      h("li", {}, "made for ", h("b", {}, money(story.cost))),
      story.stale ? h("li", {}, h("b", {}, String(story.stale)), ` to build ≈ ${money(story.left)}`) : h("li", { class: "ok" }, "up to date")
    )
    renderPlayer()
    const seen = new Set()
    let previous = null
    for (const s of story.sentences) {
      let section = sections.get(s.n)
      if (!section) {
        section = sentenceSection(s)
        sections.set(s.n, section)
      }
      updateSentence(section, s)
      if (section.el.previousElementSibling !== previous || section.el.parentNode !== board) {
        if (previous) previous.after(section.el)
        else board.prepend(section.el)
      }
      previous = section.el
      seen.add(s.n)
      const grid = section.grid
      let last = null
      for (const shot of s.shots) {
        let card = cards.get(shot.k)
        if (!card) {
          card = shotCard(shot.k)
          cards.set(shot.k, card)
        }
        if (card.el.parentNode !== grid || card.el.previousElementSibling !== last) {
          if (last) last.after(card.el)
          else grid.prepend(card.el)
        }
        last = card.el
        updateCard(card, shot, s)
      }
    }
    for (const [n, section] of sections) if (!seen.has(n)) (section.el.remove(), sections.delete(n))
    const shown = new Set(story.sentences.flatMap((s) => s.shots.map((x) => x.k)))
    for (const [k, card] of cards) if (!shown.has(k)) (card.el.remove(), cards.delete(k))
  }

  let playing = "film"
  function renderPlayer() {
    const sources = [{ key: "film", label: "Film", url: story.final.url, text: "The whole film" }].concat(
      story.sentences.map((s) => ({ key: `s${s.n}`, label: String(s.n), url: s.mux.url, text: `Sentence ${s.n}: ${s.text}` }))
    )
    fill(chooser, 
      ...sources.map((src) =>
        h(
          "button",
          {
            type: "button",
            class: `chip${src.key === playing ? " on" : ""}`,
            "aria-pressed": src.key === playing ? "true" : "false",
            disabled: !src.url,
            title: src.text,
            "aria-label": src.key === "film" ? "Play the film" : `Play sentence ${src.label}`,
            onclick: () => play(src.key)
          },
          src.label
        )
      )
    )
    const chosen = sources.find((s) => s.key === playing) ?? sources[0]
    if (chosen.url) {
      if (player.getAttribute("src") !== chosen.url) player.src = chosen.url
      playerLabel.textContent = chosen.text
    } else {
      player.removeAttribute("src")
      playerLabel.textContent = playing === "film" ? "The film appears here once it is built." : "This sentence's clip is not built yet."
    }
    const d = story.downloads
    fill(downloads, 
      ...[
        [d.film, "film (mp4)"],
        [d.srt, "subtitles (srt)"],
        [d.vtt, "subtitles (vtt)"],
        [d.storyboard, "storyboard page"]
      ]
        .filter(([u]) => u)
        .map(([u, label]) => h("li", {}, h("a", { href: label === "storyboard page" ? u : `${u}?download=1`, target: label === "storyboard page" ? "_blank" : null, rel: "noopener" }, label)))
    )
  }

  function play(key) {
    playing = key
    renderPlayer()
    player.scrollIntoView({ block: "nearest", behavior: "smooth" })
    player.play().catch(() => {})
  }

  function sentenceSection(s) {
    const heading = h("h3", {}, h("span", { class: "n" }, String(s.n)), h("span", { class: "text" }))
    const meta = h("p", { class: "meta" })
    const playButton = h("button", { type: "button", class: "ghost small", onclick: () => play(`s${s.n}`) }, "▶ Play sentence")
    const grid = h("div", { class: "shots" })
    const el = h("section", { class: "sentence", id: `sentence-${s.n}`, "aria-label": `Sentence ${s.n}` }, heading, h("div", { class: "row wrap sentence-meta" }, meta, playButton), grid)
    return { el, heading, meta, playButton, grid }
  }

  function updateSentence(section, s) {
    section.heading.querySelector(".text").textContent = s.text
    const st = [s.audio, s.prompts, s.mux].find((x) => x.status === "running") ?? s.mux
    fill(section.meta, 
      `${seconds(s.seconds)} · ${s.shots.length} shot${s.shots.length === 1 ? "" : "s"} · ${money(s.cost)}`,
      " · narration ", h("span", { class: `status ${s.audio.status}` }, statusLabel[s.audio.status]),
      " · clip ", h("span", { class: `status ${st.status}` }, statusLabel[st.status]),
      s.download ? h("span", {}, " · ", h("a", { href: `${s.download}?download=1` }, "download")) : null
    )
    section.playButton.disabled = !s.mux.url
  }

  function shotCard(k) {
    const media = h("div", { class: "media" })
    const badge = h("span", { class: "status" })
    const label = h("p", { class: "tags" })
    const prompt = h("p", { class: "prompt" })
    const pinned = h("span", { class: "badge pin", hidden: true }, "your prompt")
    const reroll = h("button", { type: "button", class: "ghost small" }, "Re-roll")
    const edit = h("button", { type: "button", class: "ghost small", "aria-expanded": "false" }, "Edit prompt")
    const approve = h("button", { type: "button", class: "ghost small", "aria-pressed": "false" }, "Approve")
    const editor = h("textarea", { rows: 4, maxlength: 4000, "aria-label": `Prompt of shot ${k}` })
    const quote = h("p", { class: "quote small", "aria-live": "polite" })
    const save = h("button", { type: "submit", class: "primary small" }, "Save & rebuild")
    const unpin = h("button", { type: "button", class: "ghost small" }, "Use the generated prompt")
    const close = h("button", { type: "button", class: "ghost small" }, "Close")
    const form = h("form", { class: "editor", hidden: true }, editor, quote, h("div", { class: "row wrap" }, save, unpin, h("span", { class: "grow" }), close))
    const el = h(
      "article",
      { class: "shot", id: `shot-${k}`, "data-k": k },
      h("div", { class: "frame" }, media, badge),
      h("div", { class: "body" }, label, h("p", { class: "prompt-line" }, pinned, prompt), h("div", { class: "row wrap actions" }, reroll, edit, approve), form)
    )
    const card = { el, k, media, badge, label, prompt, pinned, reroll, edit, approve, editor, quote, save, unpin, form, shot: null, imageUrl: null, videoUrl: null, quoted: null }
    reroll.addEventListener("click", () => rerollShot(card))
    edit.addEventListener("click", () => toggleEditor(card, form.hidden))
    close.addEventListener("click", () => toggleEditor(card, false))
    approve.addEventListener("click", () => approveShot(card))
    unpin.addEventListener("click", () => savePrompt(card, null))
    let timer = null
    editor.addEventListener("input", () => {
      clearTimeout(timer)
      quote.textContent = "Pricing…"
      save.disabled = true
      timer = setTimeout(() => quotePrompt(card), 350)
    })
    form.addEventListener("submit", (ev) => {
      ev.preventDefault()
      savePrompt(card, editor.value.trim())
    })
    form.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        ev.preventDefault()
        toggleEditor(card, false)
      }
    })
    return card
  }

  function updateCard(card, shot, sentence) {
    card.shot = shot
    const busy = shot.image.status === "running" || shot.video.status === "running"
    const status = busy ? "running" : shot.image.status === "failed" || shot.video.status === "failed" ? "failed" : shot.image.status === "fresh" && shot.video.status === "fresh" ? "fresh" : shot.image.status === "fresh" ? shot.video.status : shot.image.status
    card.el.dataset.status = status
    card.badge.className = `status ${status}`
    card.badge.textContent = status === "fresh" ? (shot.approved ? "approved" : "ready") : statusLabel[status]
    // The still, swapped only when it changed (its URL names its content).
    if (shot.image.url !== card.imageUrl) {
      card.imageUrl = shot.image.url
      card.videoUrl = null
      fill(card.media, 
        shot.image.url
          ? h("img", { src: shot.image.url, alt: `Shot ${shot.k}: ${shot.prompt ?? ""}`, loading: "lazy", decoding: "async", width: 320, height: 180 })
          : h("div", { class: "missing" }, statusLabel[shot.image.status] ?? "no image yet")
      )
    }
    if (shot.video.url !== card.videoUrl && shot.image.url) {
      card.videoUrl = shot.video.url
      const old = card.media.querySelector("button.clip")
      if (old) old.remove()
      if (shot.video.url)
        card.media.append(
          h("button", { type: "button", class: "clip", "aria-label": `Play the clip of shot ${shot.k}`, onclick: () => playClip(card) }, "▶")
        )
    }
    const cost = shot.image.cost || shot.video.cost ? money({ usd: (shot.image.cost?.usd ?? 0) + (shot.video.cost?.usd ?? 0), known: (shot.image.cost?.usd ?? 0) !== null }) : "—"
    fill(card.label, 
      h("b", {}, `Shot ${shot.k}`),
      h("span", {}, `${shot.j} of ${sentence.shots.length}`),
      h("span", {}, seconds(shot.seconds)),
      shot.camera ? h("span", {}, shot.camera) : null,
      shot.shotType ? h("span", {}, shot.shotType) : null,
      h("span", { title: `still: ${shot.image.by ?? "?"} · clip: ${shot.video.by ?? "?"}` }, cost)
    )
    card.prompt.textContent = shot.prompt ?? "(no prompt yet)"
    card.pinned.hidden = !shot.pinned
    card.approve.setAttribute("aria-pressed", shot.approved ? "true" : "false")
    card.approve.textContent = shot.approved ? "Approved ✓" : "Approve"
    card.approve.setAttribute("aria-label", `${shot.approved ? "Take back the approval of" : "Approve"} shot ${shot.k}`)
    card.reroll.setAttribute("aria-label", `Re-roll shot ${shot.k}`)
    card.edit.setAttribute("aria-label", `Edit the prompt of shot ${shot.k}`)
    card.reroll.disabled = busy || shot.image.status === "planned"
    card.unpin.hidden = !shot.pinned
  }

  function playClip(card) {
    const v = h("video", { src: card.videoUrl, controls: true, autoplay: true, playsinline: true, poster: card.imageUrl, "aria-label": `Clip of shot ${card.k}` })
    fill(card.media, v)
    card.imageUrl = null // the still comes back with the next story update
    v.addEventListener("ended", () => refreshStory(0))
    v.focus()
  }

  function markLive(id) {
    const m = /^shot:(\d+):/.exec(id)
    const card = m && cards.get(Number(m[1]))
    if (!card) return
    const state = live.get(id)
    if (state === "running") {
      card.el.dataset.status = "running"
      card.badge.className = "status running"
      card.badge.textContent = statusLabel.running
    } else if (state === "failed") {
      card.el.dataset.status = "failed"
      card.badge.className = "status failed"
      card.badge.textContent = statusLabel.failed
    }
  }

  async function rerollShot(card) {
    const k = card.k
    card.reroll.disabled = true
    try {
      const quote = await api("POST", `${base}/shots/${k}/reroll/quote`, {})
      const ok = await confirmDialog(
        `Re-roll shot ${k}?`,
        quoteBody(quote, "A new take of this shot's still (the old one stays in the store); its clip, its sentence and the film follow where it changed. This would build:"),
        `Re-roll · ${money(quote.estimate)}`
      )
      if (!ok) return
      job = await api("POST", `${base}/shots/${k}/reroll`, {})
      renderBar()
    } catch (e) {
      toast(e.message, "error")
    } finally {
      card.reroll.disabled = false
    }
  }

  function toggleEditor(card, open) {
    card.form.hidden = !open
    card.edit.setAttribute("aria-expanded", open ? "true" : "false")
    if (open) {
      card.editor.value = card.shot?.prompt ?? ""
      card.quote.textContent = "Change the prompt to see what it costs."
      card.save.disabled = true
      card.save.textContent = "Save & rebuild"
      card.editor.focus()
    } else card.edit.focus()
  }

  async function quotePrompt(card) {
    const text = card.editor.value.trim()
    if (!text || text === card.shot?.prompt) {
      card.quote.textContent = text ? "That is the prompt it has." : "Write a prompt, or use the generated one."
      card.save.disabled = true
      return
    }
    try {
      const quote = await api("POST", `${base}/shots/${card.k}/prompt/quote`, { prompt: text })
      if (card.editor.value.trim() !== text) return
      const ids = quote.nodes.map((n) => n.id)
      card.quote.textContent = `Saving rebuilds ${ids.length} node${ids.length === 1 ? "" : "s"} (${ids.slice(0, 6).join(", ")}${ids.length > 6 ? ", …" : ""}) · estimated ${money(quote.estimate)}`
      card.save.textContent = `Save & rebuild · ${money(quote.estimate)}`
      card.save.disabled = false
    } catch (e) {
      card.quote.textContent = e.message
      card.save.disabled = true
    }
  }

  async function savePrompt(card, text) {
    card.save.disabled = true
    try {
      const result = await api("PUT", `${base}/shots/${card.k}/prompt`, { prompt: text })
      if (result.job) job = result.job
      card.form.hidden = true
      card.edit.setAttribute("aria-expanded", "false")
      toast(text === null ? `Shot ${card.k} draws its generated prompt again` : `Shot ${card.k}: your prompt is pinned`)
      renderBar()
      refreshStory(0)
    } catch (e) {
      card.quote.textContent = e.message
    } finally {
      card.save.disabled = false
    }
  }

  async function approveShot(card) {
    const approved = card.approve.getAttribute("aria-pressed") !== "true"
    try {
      await api("PUT", `${base}/shots/${card.k}/approval`, { approved })
      // As `storyshot approve shot:K`: the whole sentence's plan is frozen (or thawed), its other shots too.
      toast(
        approved
          ? `Approved: the plan of shot ${card.k}'s sentence is frozen, so a later model or setting change does not re-plan it`
          : `Approval taken back: shot ${card.k}'s sentence follows the writer again`
      )
      refreshStory(0)
    } catch (e) {
      toast(e.message, "error")
    }
  }

  // --- runs ------------------------------------------------------------------------------------------

  function renderRuns(list) {
    fill(runs, 
      ...(list.length === 0
        ? [h("tr", {}, h("td", { colspan: 8, class: "dim" }, "No runs yet."))]
        : list.slice(0, 50).map((r) =>
            h(
              "tr",
              {},
              h("td", {}, when(r.startedAt)),
              h("td", { class: "mono" }, r.id),
              h("td", {}, h("span", { class: `run ${r.status}` }, r.status === "cap" ? "cost cap" : r.status)),
              h("td", { class: "num" }, String(r.built)),
              h("td", { class: "num" }, String(r.cached)),
              h("td", { class: "num" }, String(r.failed)),
              h("td", { class: "num" }, money(r.cost)),
              h("td", { class: "num" }, duration(r.wallMs))
            )
          ))
    )
  }

  loadProject()
  refreshPlan()
  refreshRuns()
  return {
    close() {
      closed = true
      events.close()
      clearTimeout(storyTimer)
    }
  }
}
