/**
 * Headless Chromium for the storyboard page: Debian's `chromium` driven by playwright-core (which downloads
 * no browser of its own). Each launch gets a new, empty profile and the flags that stop Chromium's own
 * background traffic, so any request the page makes is the page's.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { chromium, type BrowserContext } from "playwright-core"

export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

export const hasChromium = (): boolean => {
  try {
    fs.accessSync(chromiumPath, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

export const flags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** A browser with a fresh user-data-dir; `close` removes the profile too. */
export const launch = async (viewport = { width: 1000, height: 800 }): Promise<{ context: BrowserContext; close: () => Promise<void> }> => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: flags,
    viewport
  })
  return {
    context,
    close: async () => {
      await context.close()
      fs.rmSync(profile, { recursive: true, force: true })
    }
  }
}
