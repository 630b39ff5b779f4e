/**
 * Debian's redis-server for the queue tests: started on a free port in a temp folder (no persistence),
 * stopped with the test. `.ci/run` installs the package when it is missing.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export const redisServerPath = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((p) => fs.existsSync(p))

export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly stop: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

export const startRedis = async (): Promise<RedisServer> => {
  if (redisServerPath === undefined) throw new Error("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "storyshot-redis-"))
  for (let tries = 0; ; tries++) {
    const port = await freePort()
    const child: ChildProcess = spawn(redisServerPath, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000)
      child.stdout!.on("data", (c) => {
        out += String(c)
        if (out.includes("Ready to accept connections")) {
          clearTimeout(timer)
          resolve(true)
        }
      })
      child.once("exit", () => {
        clearTimeout(timer)
        resolve(false)
      })
    })
    if (!ready) {
      child.kill("SIGKILL")
      if (tries < 3) continue
      throw new Error(`redis-server did not start:\n${out}`)
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      stop: async () => {
        if (child.exitCode === null) {
          const gone = new Promise((r) => child.once("exit", r))
          child.kill("SIGTERM")
          await gone
        }
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}
