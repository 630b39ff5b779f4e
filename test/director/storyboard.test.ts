/**
 * Issue 16, "what must be shown" 6 and the review gate: `build --until prompts` makes the plan only (narration
 * and shot lists: cents, no image, no clip), and its storyboard page, opened in headless Chromium, shows every
 * shot's prompt, cast and camera, images pending, and the cost to finish. With `requireApproval: true`, a build
 * that would make images refuses (exit 2, nothing paid) until the plan is approved.
 */
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startFakes, type Fakes } from "../fakes/all.ts"
import { hasChromium, launch } from "../e2e/browser.ts"
import { cli, makeWorkspace, runBuild, smallConfig } from "../e2e/harness.ts"
import { Option } from "effect"
import { approve, writeBible } from "./run.ts"

const story = [
  "Mara climbed the lighthouse stairs at dusk.",
  "Down below, Tomas waited with the lantern and a flask of tea for the long night.",
  "The storm rolled in across the bay."
]
const bible = { version: 1, cast: [{ name: "Mara", role: "the keeper" }, { name: "Tomas", role: "her friend" }] }

let fakes: Fakes
beforeAll(async () => {
  fakes = await startFakes()
})
afterAll(() => fakes.close())

describe("the plan before paying (cloud profile, fakes)", () => {
  it.skipIf(!hasChromium())("build --until prompts: the page in Chromium shows prompts, cast and cameras, images pending, the cost to finish", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud"`) })
    writeBible(dir, bible)
    fakes.reset()
    const { summary } = await runBuild(dir, { until: Option.some("prompts") }, fakes.env)
    expect(summary.failed).toEqual([])
    expect(fakes.counts()).toMatchObject({ ttsSubmits: 3, chats: 3, images: 0, imageEdits: 0, videoSubmits: 0 })
    expect(summary.toFinish?.usd).toBeGreaterThan(0)

    const browser = await launch()
    try {
      const page = await browser.context.newPage()
      const requests: Array<string> = []
      page.on("request", (r) => requests.push(r.url()))
      await page.goto(pathToFileURL(path.join(dir, "out", "storyboard.html")).href, { waitUntil: "load" })
      const seen = await page.evaluate(() => ({
        cards: [...document.querySelectorAll("article.shot")].map((a) => ({ text: a.textContent ?? "", img: a.querySelectorAll("img").length })),
        header: document.querySelector("header")?.textContent ?? ""
      }))
      expect(seen.cards.length).toBeGreaterThanOrEqual(3)
      for (const card of seen.cards) {
        expect(card.img).toBe(0)
        expect(card.text).toMatch(/image pending · \$\d/)
        expect(card.text).toMatch(/camera: (push-in|pull-out|pan-left|pan-right|tilt-up|tilt-down)/)
        expect(card.text).toMatch(/Shot \d of \d/)
      }
      expect(seen.cards.some((c) => c.text.includes("cast: mara"))).toBe(true)
      expect(seen.cards.some((c) => c.text.includes("cast: tomas"))).toBe(true)
      const finish = /To finish: about \$(\d+\.\d+)/.exec(seen.header)
      expect(Number(finish?.[1])).toBeGreaterThan(0)
      expect(requests.filter((u) => !u.startsWith("file://"))).toEqual([])
    } finally {
      await browser.close()
    }
  }, 120_000)

  it("requireApproval: a build that would make images refuses until the plan is approved, then builds", async () => {
    const dir = makeWorkspace(story.join("\n"), { config: smallConfig(`profile: "cloud", requireApproval: true`) })
    writeBible(dir, bible)
    fakes.reset()
    const refused = cli(["build"], { cwd: dir, env: fakes.env })
    expect(refused.code).toBe(2)
    expect(refused.stderr.trim().split("\n")).toHaveLength(1)
    expect(refused.stderr).toContain("not approved")
    expect(fakes.counts()).toMatchObject({ images: 0, imageEdits: 0, videoSubmits: 0 })
    // The plan itself is never refused (in-process: the fakes live in this process, a spawned build would wait on them).
    const plan = await runBuild(dir, { until: Option.some("prompts") }, fakes.env)
    expect(plan.summary.failed).toEqual([])
    expect(plan.summary.toFinish?.usd).toBeGreaterThan(0)
    await approve(dir, {}, fakes.env)
    fakes.reset()
    const { summary } = await runBuild(dir, {}, fakes.env)
    expect(summary.failed).toEqual([])
    expect(fakes.counts().chats).toBe(0)
    expect(fakes.counts().videoSubmits).toBeGreaterThanOrEqual(3)
  }, 180_000)
})
