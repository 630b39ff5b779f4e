#!/usr/bin/env node
// The storyshot command. Runs the bundle dist/storyshot.mjs (made by `npm install`, remade here when a
// source file is newer); if it cannot be made (a read-only install), runs the TypeScript sources through
// tsx's loader instead. Either way there is no separate build step.
import { bundle, bundlePath, isFresh } from "./bundle.js"
import { pathToFileURL } from "node:url"

let useBundle = isFresh()
if (!useBundle) {
  try {
    await bundle()
    useBundle = true
  } catch {
    useBundle = false
  }
}
if (useBundle) {
  await import(pathToFileURL(bundlePath).href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/bin.ts")
}
