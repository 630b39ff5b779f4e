/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (the callbacks given to page.evaluate / waitForFunction run in the browser)
/**
 * The studio in headless Chromium, as a person uses it: the real `storyshot serve`, a project made on the page
 * from a pasted transcript (draft profile), built from the page with progress arriving over server-sent
 * events, the film played, a shot re-rolled and a shot's prompt edited, each after its price was shown; then
 * what was rebuilt is read from the run records. No console error, no request anywhere but 127.0.0.1, and the
 * transcript's markup shown as text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import { hasChromium, launch } from "../e2e/browser.ts"
import { request, startServer, tempRoot, waitForJob, type Server } from "./harness.ts"

const transcript = [
  "The keeper climbed the spiral stairs with a lantern in his hand, one slow step after another.",
  "Below him the sea was black.",
  'He lit the <b>lamp</b> & said "goodnight" --> to the ships.'
].join("\n")

let server: Server
let root = ""
beforeAll(async () => {
  root = tempRoot()
  server = await startServer(["--root", root])
}, 90_000)
afterAll(async () => {
  await server?.stop()
  if (root) fs.rmSync(root, { recursive: true, force: true })
})

interface Seen {
  readonly images: Record<number, string>
  readonly clips: Record<number, string>
  readonly film: string | null
}

describe("the studio page in Chromium", () => {
  it.skipIf(!hasChromium())(
    "create from a pasted transcript, build over SSE, play the film, re-roll a shot and re-prompt one: only what they touch is rebuilt",
    async () => {
      const browser = await launch({ width: 1280, height: 900 })
      const requests: Array<string> = []
      const errors: Array<string> = []
      try {
        const page = await browser.context.newPage()
        page.on("request", (r) => requests.push(r.url()))
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text())
        })
        page.on("pageerror", (e) => errors.push(String(e)))
        await page.goto(`${server.url}/`, { waitUntil: "load" })

        // Create the project from the form.
        await page.getByLabel("Name").fill("The Lighthouse")
        await page.getByLabel("Transcript").fill(transcript)
        expect(await page.getByRole("radio", { name: /Draft/ }).isChecked()).toBe(true)
        await page.getByLabel("Size").selectOption("preview")
        await page.getByRole("button", { name: "Create project" }).click()
        await page.waitForURL(/#\/p\/the-lighthouse$/)
        const project = "the-lighthouse"

        // The build button says what the build costs before it is pressed.
        const build = page.getByRole("button", { name: "Build · $0" })
        await build.waitFor()
        await build.click()
        // Progress reaches done: the page learns it from the event stream (it polls nothing).
        await page.waitForFunction(() => /^build — done/.test(document.querySelector(".progress-text")?.textContent ?? ""), null, { timeout: 180_000 })
        await page.locator(".log li", { hasText: "built final" }).waitFor({ state: "attached" })
        const events = requests.filter((u) => u.endsWith(`/api/projects/${project}/events`))
        expect(events.length).toBeGreaterThanOrEqual(1)
        expect(requests.filter((u) => /\/builds\/[^/]+$/.test(new URL(u).pathname))).toEqual([])
        await page.getByRole("button", { name: "Up to date" }).waitFor()

        // The markup in the transcript is text on the page, not markup.
        const third = page.locator("#sentence-3 h3 .text")
        expect(await third.textContent()).toBe('He lit the <b>lamp</b> & said "goodnight" --> to the ships.')
        expect(await page.locator("#sentence-3 h3 b").count()).toBe(0)

        // Play the film.
        await page.getByRole("button", { name: "Play the film" }).click()
        await page.waitForFunction(() => {
          const v = document.querySelector("#player") as HTMLVideoElement
          return v.error !== null || v.currentTime > 0.5 || v.ended
        }, null, { timeout: 60_000 })
        const played = await page.evaluate(() => {
          const v = document.querySelector("#player") as HTMLVideoElement
          return { error: v.error?.message ?? null, time: v.currentTime, duration: v.duration, src: v.currentSrc }
        })
        expect(played.error).toBe(null)
        expect(played.duration).toBeGreaterThan(3)
        await page.evaluate(() => (document.querySelector("#player") as HTMLVideoElement).pause())

        const seen = async (): Promise<Seen> =>
          page.evaluate(() => {
            const images: Record<number, string> = {}
            for (const card of document.querySelectorAll<HTMLElement>("article.shot")) images[Number(card.dataset.k)] = card.querySelector("img")?.getAttribute("src") ?? ""
            return { images, clips: {}, film: (document.querySelector("#player") as HTMLVideoElement).getAttribute("src") }
          })
        const story = async () => (await request(`${server.url}/api/projects/${project}/story`)).json
        const before = await story()
        const shots = before.sentences.flatMap((s: any) => s.shots.map((x: any) => ({ ...x, n: s.n })))
        expect(shots.length).toBeGreaterThanOrEqual(3)
        const target = shots.find((s: any) => s.n === 1)!
        const k = target.k as number
        const pageBefore = await seen()

        // Re-roll shot k: its price is shown before anything is paid.
        await page.getByRole("button", { name: `Re-roll shot ${k}` }).click()
        const dialog = page.locator("dialog#confirm")
        await dialog.waitFor()
        expect(await dialog.locator(".price").textContent()).toBe("Estimated cost: $0")
        expect(await dialog.locator(".quote-list").textContent()).toContain(`shot:${k}:image`)
        await page.getByRole("button", { name: "Re-roll · $0" }).click()
        await page.waitForFunction((label) => (document.querySelector(".progress-text")?.textContent ?? "").startsWith(`${label} — done`), `re-roll shot ${k}`, { timeout: 120_000 })
        const runs1 = (await request(`${server.url}/api/projects/${project}/builds`)).json.runs
        const reroll = await waitForJob(server.url, project, runs1[0].id)
        expect(reroll.label).toBe(`re-roll shot ${k}`)
        // A draft card is drawn from its prompt: the new take is the same picture, so nothing after it is rebuilt.
        expect(reroll.built).toEqual([`shot:${k}:image`])
        expect((await seen()).images).toEqual(pageBefore.images)

        // Edit shot k's prompt: the price of saving it is shown while typing.
        await page.getByRole("button", { name: `Edit the prompt of shot ${k}` }).click()
        const editor = page.getByRole("textbox", { name: `Prompt of shot ${k}`, exact: true })
        await editor.fill("Close-up: a brass lantern swinging on the spiral stair, from below")
        const card = page.locator(`#shot-${k}`)
        await card.locator(".quote", { hasText: "Saving rebuilds" }).waitFor()
        const quote = (await card.locator(".quote").textContent()) ?? ""
        expect(quote).toMatch(/estimated \$0$/)
        const save = card.getByRole("button", { name: "Save & rebuild · $0" })
        await save.click()
        await page.waitForFunction((label) => (document.querySelector(".progress-text")?.textContent ?? "").startsWith(`${label} — done`), `prompt of shot ${k}`, { timeout: 120_000 })
        const runs2 = (await request(`${server.url}/api/projects/${project}/builds`)).json.runs
        const edit = await waitForJob(server.url, project, runs2[0].id)
        expect(edit.label).toBe(`prompt of shot ${k}`)
        // Exactly that shot's still and clip, its sentence's mux, the film, and the storyboard page (which shows them).
        // (and its sentence's plan, the free node that applies the pin: issue 16)
        expect([...edit.built].sort()).toEqual([`sentence:${target.n}:plan`, `shot:${k}:image`, `shot:${k}:video`, `sentence:${target.n}:mux`, "final", "storyboard"].sort())
        // On the page: that shot's picture changed (its link names its new content), no other did, and the film did.
        await page.waitForFunction((k) => {
          const card = document.querySelector(`#shot-${k}`)
          return card?.querySelector(".prompt")?.textContent?.startsWith("Close-up: a brass lantern") && !card.querySelector(".badge.pin")?.hasAttribute("hidden")
        }, k)
        await page.waitForFunction((old) => document.querySelector(`#shot-${old.k} img`)?.getAttribute("src") !== old.src, { k, src: pageBefore.images[k] })
        const after = await seen()
        for (const s of shots) if (s.k !== k) expect(after.images[s.k], `shot ${s.k}`).toBe(pageBefore.images[s.k])
        expect(after.images[k]).not.toBe(pageBefore.images[k])
        expect(after.film).not.toBe(pageBefore.film)

        const outside = requests.filter((u) => !u.startsWith(`${server.url}/`))
        expect(outside).toEqual([])
        expect(errors).toEqual([])
      } finally {
        await browser.close()
      }
    },
    420_000
  )
})
