/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (the callbacks given to page.evaluate run in the browser)
/**
 * The README's pictures of the studio, taken by the same headless Chromium as the studio test: a real
 * `storyshot serve` on a temp root, the example transcript made into a draft project and built, one shot's
 * prompt pinned and approved, a second build started so the page shows one live, then the page at a desktop's
 * and a phone's size:
 *
 *     node bin/run-ts.js test/server/screenshot.ts docs/studio.png docs/studio-phone.png
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { launch } from "../e2e/browser.ts"
import { repoRoot } from "../e2e/harness.ts"
import { request, startServer, tempRoot, waitForJob } from "./harness.ts"

const [desktop = "docs/studio.png", phone = "docs/studio-phone.png"] = process.argv.slice(2)
const root = tempRoot()
const server = await startServer(["--root", root])
try {
  const transcript = fs.readFileSync(path.join(repoRoot, "transcript.txt"), "utf8")
  const created = await request(`${server.url}/api/projects`, { method: "POST", json: { name: "The Lighthouse Keeper", transcript } })
  if (created.status !== 201) throw new Error(created.text)
  const id = created.json.id as string
  const built = await request(`${server.url}/api/projects/${id}/builds`, { method: "POST", json: {} })
  await waitForJob(server.url, id, built.json.id, 600_000)
  const pinned = await request(`${server.url}/api/projects/${id}/shots/2/prompt`, {
    method: "PUT",
    json: { prompt: "Wide: the lighthouse on its rock at dusk, the lamp just lit, gulls over the swell" }
  })
  await waitForJob(server.url, id, pinned.json.job.id, 600_000)
  await request(`${server.url}/api/projects/${id}/shots/1/approval`, { method: "PUT", json: { approved: true } })
  for (const [out, size] of [[desktop, { width: 1360, height: 860 }], [phone, { width: 390, height: 844 }]] as const) {
    const browser = await launch(size)
    try {
      const tab = await browser.context.newPage()
      await tab.goto(`${server.url}/#/p/${id}`, { waitUntil: "load" })
      await tab.locator("article.shot img").first().waitFor()
      // Every picture on the screen has loaded (the others load as they scroll in).
      await tab.waitForFunction(() =>
        [...document.querySelectorAll("img")].filter((i) => i.getBoundingClientRect().top < innerHeight).every((i) => i.complete && i.naturalWidth > 0)
      )
      await tab.waitForFunction(() => (document.querySelector("#player") as HTMLVideoElement).readyState >= 2)
      // A moment into the film, so the player shows a frame rather than black.
      await tab.evaluate(() => ((document.querySelector("#player") as HTMLVideoElement).currentTime = 2.5))
      await tab.waitForTimeout(600)
      await tab.screenshot({ path: out })
      console.log(`wrote ${out}`)
    } finally {
      await browser.close()
    }
  }
} finally {
  await server.stop()
  fs.rmSync(root, { recursive: true, force: true })
}
