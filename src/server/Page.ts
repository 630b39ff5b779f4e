/**
 * The web page at `/`: one HTML file, a script and a style sheet, shipped in `src/server/page/` and served from
 * here; no framework, no CDN, no font or icon fetched from anywhere (the Content-Security-Policy below makes any
 * attempt fail loudly in the browser). Every text the page shows that came from a transcript or a prompt is set
 * as text (`textContent`), never as HTML.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"

export const contentSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/**
 * Where the page's files are: beside this module when it runs from the sources, or in the package's
 * `src/server/page/` when it runs from the bundle in `dist/` (the package ships `src/`).
 */
export const pageDir = (): string => {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const candidates = [path.join(here, "page")]
  for (let dir = here; ; dir = path.dirname(dir)) {
    candidates.push(path.join(dir, "src", "server", "page"))
    if (path.dirname(dir) === dir) break
  }
  const found = candidates.find((d) => fs.existsSync(path.join(d, "index.html")))
  if (!found) throw new Error(`the page's files are missing (looked in ${candidates[0]}): reinstall storyshot`)
  return found
}

const files: ReadonlyArray<readonly [route: `/${string}`, file: string, type: string]> = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ["/app.js", "app.js", "text/javascript; charset=utf-8"],
  ["/app.css", "app.css", "text/css; charset=utf-8"],
  ["/favicon.svg", "favicon.svg", "image/svg+xml"]
]

export const layer = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const dir = pageDir()
    for (const [route, file, type] of files) {
      const body = fs.readFileSync(path.join(dir, file))
      const response = HttpServerResponse.uint8Array(body, {
        contentType: type,
        headers: {
          "content-security-policy": contentSecurityPolicy,
          "x-content-type-options": "nosniff",
          "referrer-policy": "no-referrer",
          "cache-control": "no-cache"
        }
      })
      yield* router.get(route, Effect.succeed(response))
    }
  })
)
