/**
 * The root command and the options every subcommand shares. A subcommand reads them with `yield* root`.
 */
import { Command, Options } from "@effect/cli"

export const globalOptions = {
  cwd: Options.directory("cwd").pipe(
    Options.withPseudoName("DIR"),
    Options.optional,
    Options.withDescription("The workspace folder (default: the nearest folder, from the current one upward, that holds a storyshot.config.* or .storyshot/, as git finds .git; else the current folder).")
  ),
  config: Options.file("config").pipe(
    Options.withPseudoName("FILE"),
    Options.optional,
    Options.withDescription("The config file (default: storyshot.config.ts in the workspace; none means defaults).")
  )
}

export const root = Command.make("storyshot", globalOptions).pipe(
  Command.withDescription(
    "Turn a transcript into a narrated short film, built like make: only what is stale is rebuilt (and paid for)."
  )
)
