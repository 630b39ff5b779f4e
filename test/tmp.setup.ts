/**
 * Every test run gets its own temp folder, removed when the run ends: the tests make a store, a workspace or
 * a film in `os.tmpdir()` by the hundred (a full run left about 2,000 folders in /tmp), and a developer's
 * machine should not keep them. TMPDIR (TMP and TEMP on Windows) is set before the test processes start, so
 * they and what they spawn inherit it. STORYSHOT_KEEP_TEST_TMP=1 keeps the folder, for a look after a failure.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export default function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-tests-"))
  for (const name of ["TMPDIR", "TMP", "TEMP"]) process.env[name] = dir
  return () => {
    if (process.env.STORYSHOT_KEEP_TEST_TMP === "1") process.stderr.write(`test files kept in ${dir}\n`)
    else fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 })
  }
}
