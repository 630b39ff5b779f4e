/** The command tree. */
import { Command } from "@effect/cli"
import * as Build from "./build.ts"
import * as Clean from "./clean.ts"
import * as Graph from "./graph.ts"
import * as Init from "./init.ts"
import * as Models from "./models.ts"
import { root } from "./Root.ts"
import * as Runs from "./runs.ts"
import * as Superprompt from "./superprompt.ts"
import * as Verify from "./verify.ts"
import * as Why from "./why.ts"
import * as Write from "./write.ts"

export const command = root.pipe(Command.withSubcommands([Build.command, Graph.command, Clean.command, Init.command, Verify.command, Why.command, Runs.runsCommand, Runs.reportCommand, Models.command, Superprompt.command, Write.command]))

export const cli = Command.run(command, { name: "storyshot", version: "0.1.0" })
