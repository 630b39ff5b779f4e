/**
 * A running build's status (`GET /api/projects/:id/builds/:run`), as scripts and dashboards poll it many times
 * a second: encoded once per change of the project (its next event), kept here, and answered from memory.
 *
 * The answer is made by the API's own handler (Handlers.ts, through the Job schema, as any answer is) on the
 * first poll after a change. Until the next change, polls are answered here, straight from Node's request
 * event, before the Effect app: a poll then costs a URL match, the security checks every request passes
 * (`Security.check`, the same function the middleware runs) and one write, instead of a fiber, the router, the
 * project's folder checks and the encoding (profiled: most of the server's CPU under 200 polls a second).
 * Anything else (another route, a query string, a refused request, a finished build, an answer that is not
 * current) goes on to the app as usual, so the app stays the one place that decides every other answer.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Context } from "effect"
import * as Security from "./Security.ts"

export interface Entry {
  /** The encoded Job, as the handler sent it. */
  readonly body: Uint8Array
  /** Whether nothing it shows changed since (the project's event count is the one it was made at). */
  readonly current: () => boolean
  /** Only a queued or running build's answer is served from here (a finished one goes through the app). */
  readonly live: boolean
}

export interface Polls {
  readonly get: (project: string, run: string) => Entry | undefined
  readonly set: (project: string, run: string, entry: Entry) => void
}

export class PollCache extends Context.Tag("storyshot/server/Polls")<PollCache, Polls>() {}

const keyOf = (project: string, run: string) => `${project}\0${run}`

export const make = (): Polls => {
  const entries = new Map<string, Entry>()
  return {
    get: (project, run) => entries.get(keyOf(project, run)),
    set: (project, run, entry) => {
      // Bounded: a server polled for many builds over days keeps the recent ones only.
      if (entries.size > 1000) entries.clear()
      entries.set(keyOf(project, run), entry)
    }
  }
}

const statusPath = /^\/api\/projects\/([A-Za-z0-9][A-Za-z0-9._-]*)\/builds\/([A-Za-z0-9][A-Za-z0-9._-]*)$/

/** Answers the request from the cache when it is a poll with a current answer; false leaves it to the app. */
export const answer =
  (polls: Polls, security: Security.Options) =>
  (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "GET") return false
    const m = statusPath.exec(req.url ?? "")
    if (!m) return false
    const entry = polls.get(m[1]!, m[2]!)
    if (!entry || !entry.live || !entry.current()) return false
    if (Security.check(security, "GET", req.url!, req.headers as { readonly [name: string]: string | undefined }) !== undefined) return false
    res.writeHead(200, { "content-type": "application/json", "content-length": entry.body.length })
    res.end(entry.body)
    return true
  }
