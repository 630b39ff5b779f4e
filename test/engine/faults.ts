/**
 * A disk that fills up, or fails, on the store's write path (src/engine/Atomic.ts `io`), for tests that
 * cannot mount a small file system. After `bytes` more bytes are written under `root`, the write that
 * crosses the line is short (as a nearly full disk answers: fewer bytes than asked, no error) and every
 * later one throws `code` (ENOSPC, or EIO for a failing disk). Copies into the store count their size, and
 * one that does not fit leaves a partial copy before it throws, as `copyfile` does. A rule's own file moved
 * into the store counts its size when it is moved (the rule wrote it with calls this disk does not see), and
 * one that does not fit fails the rename, as a directory that cannot grow does.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Atomic from "../../src/engine/Atomic.ts"

export interface Disk {
  /** Bytes that still fit. */
  readonly left: () => number
  /** How many writes failed. */
  readonly failures: () => number
  /** Frees space: `bytes` more fit (Infinity: the disk is fine again). */
  readonly free: (bytes: number) => void
  readonly restore: () => void
}

const errno = (code: string) =>
  Object.assign(new Error(`${code}: ${code === "EIO" ? "i/o error" : "no space left on device"}, write`), { code, errno: -28, syscall: "write" })

export const fillingDisk = (root: string, bytes: number, code: "ENOSPC" | "EIO" | "EDQUOT" = "ENOSPC"): Disk => {
  let left = bytes
  let failures = 0
  const base = path.resolve(root)
  const under = (p: string) => path.resolve(p).startsWith(base)
  const watched = new Set<number>()
  // Files this disk has counted the bytes of (written or copied through it).
  const counted = new Set<string>()
  const fail = () => {
    failures++
    return errno(code)
  }
  const restore = Atomic.withIo({
    openSync: (file, flags) => {
      const fd = fs.openSync(file, flags)
      if (under(file)) watched.add(fd)
      if (under(file) && flags.startsWith("w")) counted.add(path.resolve(file))
      return fd
    },
    closeSync: (fd) => {
      watched.delete(fd)
      fs.closeSync(fd)
    },
    writeSync: (fd, buffer, offset, length) => {
      if (!watched.has(fd)) return fs.writeSync(fd, buffer, offset, length)
      if (left <= 0) throw fail()
      const n = Math.min(length, left)
      left -= n
      return fs.writeSync(fd, buffer, offset, n)
    },
    copyFileSync: (from, to) => {
      if (!under(to)) return fs.copyFileSync(from, to)
      const size = fs.statSync(from).size
      if (size > left) {
        fs.writeFileSync(to, fs.readFileSync(from).subarray(0, Math.max(0, left)))
        left = 0
        throw fail()
      }
      left -= size
      fs.copyFileSync(from, to)
      counted.add(path.resolve(to))
    },
    renameSync: (from, to) => {
      if (under(to) && !counted.has(path.resolve(from))) {
        const size = fs.statSync(from).size
        if (size > left) {
          left = 0
          throw fail()
        }
        left -= size
      }
      fs.renameSync(from, to)
    }
  })
  return {
    left: () => left,
    failures: () => failures,
    free: (more) => {
      left = more === Infinity ? Infinity : left + more
    },
    restore
  }
}

/** Every file under `dir`, recursively. */
export const filesUnder = (dir: string): Array<string> => {
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => fs.statSync(f).isFile())
}
