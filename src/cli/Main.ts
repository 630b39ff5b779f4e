/**
 * The command tree (the root and its subcommands, as declared in Commands.ts) and how a command line runs:
 * `--help` pages are rendered by Help.ts, @effect/cli's built-ins that do nothing here are refused, and
 * everything else is parsed and run by @effect/cli.
 */
import { Command, HelpDoc, ValidationError } from "@effect/cli"
import { Console, Effect } from "effect"
import { root, subcommands } from "./Commands.ts"
import * as Help from "./Help.ts"

export const version = "0.1.0"

export const command = root.pipe(Command.withSubcommands(subcommands))

const run = Command.run(command, { name: "storyshot", version })

/** The subcommand a command line names, skipping the values of the root's own options. */
const subcommandOf = (args: ReadonlyArray<string>) => {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") return undefined
    if (a === "--cwd" || a === "--config") i++
    else if (!a.startsWith("-")) return (subcommands as ReadonlyArray<Help.AnyCommand>).find((c) => [...Command.getNames(c)][0] === a)
  }
  return undefined
}

const refused = ["--wizard", "--log-level"]

export const cli = (argv: ReadonlyArray<string>) => {
  const args = argv.slice(2)
  const before = args.includes("--") ? args.slice(0, args.indexOf("--")) : args
  const unknown = before.find((a) => refused.includes(a.split("=")[0]!))
  if (unknown !== undefined) {
    const error = HelpDoc.p(`Received unknown argument: '${unknown.split("=")[0]}' (see storyshot --help)`)
    return Help.withManners(Console.error(HelpDoc.toAnsiText(error)).pipe(Effect.zipRight(Effect.fail(ValidationError.invalidValue(error)))))
  }
  if (before.includes("--help") || before.includes("-h"))
    return Effect.sync(() => {
      process.stdout.write(Help.render(Help.page(command as Help.AnyCommand, subcommandOf(before), version), Help.useColor(process.stdout)) + "\n")
    })
  return Help.withManners(run(argv))
}
