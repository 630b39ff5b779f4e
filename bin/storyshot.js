#!/usr/bin/env node
// `node bin/storyshot.js` still works; the command itself is bin/storyshot.cjs (package.json `bin`).
import "./storyshot.cjs"
