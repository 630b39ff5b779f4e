/**
 * `storyshot verify`: checks the store without changing it — every record's objects exist and hash right,
 * nothing is partial. Exit 0 when it checks out, 1 when something is wrong (the next build rebuilds what
 * the problems concern, with a warning).
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import * as Verify from "../engine/Verify.ts"
import { root } from "./Root.ts"
import type { Flags, verifyOptions } from "./Commands.ts"
import * as Session from "./Session.ts"

/** `storyshot verify` (its options are in Commands.ts). */
export const handler = (flags: Flags<typeof verifyOptions>) =>
    Effect.gen(function* () {
      const g = yield* root
      const ws = yield* Session.openWorkspace(g)
      const report = fs.existsSync(ws.storeDir)
        ? yield* Verify.verify(ws.storeDir)
        : { records: 0, objects: 0, bytes: 0, problems: [], notes: ["there is no store yet"] }
      if (flags.json) process.stdout.write(JSON.stringify(report) + "\n")
      else {
        const out = (s: string) => process.stdout.write(s + "\n")
        for (const p of report.problems) out(`problem: ${p}`)
        for (const n of report.notes) out(`note: ${n}`)
        out(
          `${report.problems.length === 0 ? "The store checks out" : `${report.problems.length} problem(s)`}: ${report.records} records, ${report.objects} objects (${(report.bytes / 1e6).toFixed(1)} MB).`
        )
      }
      if (report.problems.length > 0) return yield* new Session.BuildFailed({ message: `${report.problems.length} problem(s) in the store` })
    })
