/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (the callbacks given to page.evaluate run in the browser)
/**
 * The README's picture of the storyboard page, taken by the same headless Chromium as the page test:
 *
 *     node bin/storyshot.js build && node bin/run-ts.js test/e2e/screenshot.ts out/storyboard.html docs/storyboard.png
 */
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { launch } from "./browser.ts"

const [page = "out/storyboard.html", out = "docs/storyboard.png"] = process.argv.slice(2)
const browser = await launch({ width: 960, height: 720 })
try {
  const tab = await browser.context.newPage()
  await tab.goto(pathToFileURL(path.resolve(page)).href, { waitUntil: "load" })
  await tab.waitForFunction(() => [...document.querySelectorAll("video,audio")].every((m) => (m as HTMLMediaElement).readyState >= 1))
  await tab.screenshot({ path: out })
  console.log(`wrote ${out}`)
} finally {
  await browser.close()
}
