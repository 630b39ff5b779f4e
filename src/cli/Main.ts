/** The command tree: the root and its subcommands, as declared in Commands.ts. */
import { Command } from "@effect/cli"
import { root, subcommands } from "./Commands.ts"

export const command = root.pipe(Command.withSubcommands(subcommands))

export const cli = Command.run(command, { name: "storyshot", version: "0.1.0" })
