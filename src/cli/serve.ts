/**
 * `storyshot serve`: the studio. A REST API (OpenAPI at /openapi.json, Swagger UI at /docs) and a web page at
 * `/` over the workspaces under `--root DIR`, or over the current workspace. A build started there is an
 * ordinary build (src/Build.ts): the same store, lock and money rules as `storyshot build`.
 *
 * The server module is loaded only by this command: the other commands do not pay for it at start-up.
 */
import * as path from "node:path"
import { Effect, Layer, Option } from "effect"
import { isLoopback } from "../server/Security.ts"
import { readEnv } from "../Workspace.ts"
import type { Flags, serveOptions } from "./Commands.ts"
import { root } from "./Root.ts"
import * as Session from "./Session.ts"

/** `storyshot serve` (its options are in Commands.ts). */
export const handler = (flags: Flags<typeof serveOptions>) =>
  Effect.gen(function* () {
    const g = yield* root
    const rootDir = Option.map(flags.root, (r) => path.resolve(r))
    const workspace = Session.workspaceDir(g)
    const env = readEnv(Option.getOrElse(rootDir, () => workspace))
    const token = env.STORYSHOT_TOKEN?.trim() || undefined
    if (!(flags.port >= 0 && flags.port <= 65535))
      return yield* new Session.UsageError({ message: `--port ${flags.port}: give a port from 1 to 65535 (or 0 for any free one)` })
    if (!isLoopback(flags.host) && token === undefined)
      return yield* new Session.UsageError({
        message: `--host ${flags.host} lets other computers in: set STORYSHOT_TOKEN first (e.g. STORYSHOT_TOKEN=$(node -e "console.log(crypto.randomUUID())")), or keep the default --host 127.0.0.1`
      })
    if (token !== undefined && token.length < 16)
      return yield* new Session.UsageError({ message: "STORYSHOT_TOKEN is shorter than 16 characters: use a long random one (e.g. a UUID)" })
    const Server = yield* Effect.promise(() => import("../server/Server.ts"))
    const shown = flags.host.includes(":") ? `[${flags.host}]` : flags.host
    const layer = Server.layer({
      port: flags.port,
      host: flags.host,
      root: Option.getOrUndefined(rootDir),
      workspace,
      token,
      onListen: ({ port }) =>
        process.stderr.write(
          `storyshot serve: http://${shown}:${port}/  (API: /docs, /openapi.json)  ${Option.isSome(rootDir) ? `projects in ${rootDir.value}` : `workspace ${workspace}`}${token ? "  · token required" : ""}  · Ctrl-C stops\n`
        )
    })
    return yield* Layer.launch(layer).pipe(
      Effect.catchTag("ServeError", (e) => {
        const code = (e.cause as NodeJS.ErrnoException | undefined)?.code
        return new Session.UsageError({
          message:
            code === "EADDRINUSE"
              ? `port ${flags.port} is in use: pass another --port (0 picks a free one)`
              : code === "EADDRNOTAVAIL"
                ? `--host ${flags.host} is not an address of this computer`
                : code === "EACCES"
                  ? `port ${flags.port} needs privileges: pass a port above 1023`
                  : `could not listen on ${shown}:${flags.port}: ${(e.cause as Error | undefined)?.message ?? "unknown error"}`
        })
      })
    )
  })

