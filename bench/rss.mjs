// Loaded with `node --import` by the benchmark: when STORYSHOT_BENCH_USAGE names a file, the process writes
// its peak memory (max RSS, all threads) and CPU time there as it exits.
import * as fs from "node:fs"

const file = process.env.STORYSHOT_BENCH_USAGE
if (file)
  process.on("exit", () => {
    const u = process.resourceUsage()
    fs.writeFileSync(file, JSON.stringify({ maxRssKb: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }))
  })
