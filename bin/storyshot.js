#!/usr/bin/env node
// The storyshot command. Runs the TypeScript sources directly through tsx's loader,
// so the command works right after `npm install` with no build step.
import { register } from "tsx/esm/api"

register()
await import("../src/bin.ts")
