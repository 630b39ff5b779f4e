/**
 * `--help`, and colour, with a well-kept tool's manners (issue 21 §7). @effect/cli's own help page prints
 * ANSI codes into pipes, reads `$ build` for `storyshot build`, fills each option with its type's generic text
 * ("A user-defined piece of text.", "A true or false value.") and lists built-ins that do nothing here
 * (`--wizard`, `--log-level`). So help is rendered here, from the same command descriptors @effect/cli parses
 * with (Command.getHelp / getUsage): what a page says about an option cannot drift from what the parser does.
 */
import { Command, HelpDoc, Span, Usage } from "@effect/cli"
import * as CliConfig from "@effect/cli/CliConfig"
import { Console, Effect } from "effect"

/**
 * Whether to colour a stream: FORCE_COLOR (not "0"/"false") forces it, as in Node; else a non-empty NO_COLOR
 * (no-color.org) or TERM=dumb turns it off; else only a terminal gets colour.
 */
export const useColor = (stream: { readonly isTTY?: boolean | undefined }, env: NodeJS.ProcessEnv = process.env): boolean => {
  const force = env.FORCE_COLOR
  if (force !== undefined) return force !== "0" && force !== "false"
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false
  if (env.TERM === "dumb") return false
  return stream.isTTY === true
}

// eslint-disable-next-line no-control-regex
const ansi = /\x1b\[[0-9;]*m/g
export const stripAnsi = (text: string) => text.replace(ansi, "")

/** A console that drops colour codes from what goes to a stream that should have none. */
const plainConsole = (base: Console.Console, stdout: boolean, stderr: boolean): Console.Console => {
  const out = (f: (...args: ReadonlyArray<unknown>) => void, colored: boolean) =>
    colored ? f : (...args: ReadonlyArray<unknown>) => f(...args.map((a) => (typeof a === "string" ? stripAnsi(a) : a)))
  return {
    ...base,
    log: (...args) => base.log(...args.map((a) => (!stdout && typeof a === "string" ? stripAnsi(a) : a))),
    info: (...args) => base.info(...args.map((a) => (!stdout && typeof a === "string" ? stripAnsi(a) : a))),
    error: (...args) => base.error(...args.map((a) => (!stderr && typeof a === "string" ? stripAnsi(a) : a))),
    warn: (...args) => base.warn(...args.map((a) => (!stderr && typeof a === "string" ? stripAnsi(a) : a))),
    unsafe: {
      ...base.unsafe,
      log: out(base.unsafe.log.bind(base.unsafe), stdout),
      info: out(base.unsafe.info.bind(base.unsafe), stdout),
      error: out(base.unsafe.error.bind(base.unsafe), stderr),
      warn: out(base.unsafe.warn.bind(base.unsafe), stderr)
    }
  }
}

/** Runs the command line with @effect/cli's messages (usage errors, --version) coloured only where wanted. */
export const withManners = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.console, (base) =>
    Effect.withConsole(effect, plainConsole(base, useColor(process.stdout), useColor(process.stderr)))
  )

const spanText = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    default:
      return spanText(span.value)
  }
}

/** The sentences @effect/cli adds to every option of a kind; the option's own description says what matters. */
const generic = [
  /^A true or false value\.$/,
  /^A user-defined piece of text( that is confidential)?\.$/,
  /^A (file|directory|path)\.$/,
  /^A floating point number\.$/,
  /^An integer\.$/,
  /^A date\.$/,
  /^One of the following: /,
  /^This setting is optional\.$/,
  /^This option may be repeated zero or more times\.$/
]

/** The page without the generic sentences; "This setting is optional. Defaults to: x" becomes "Default: x." */
export const withoutGeneric = (doc: HelpDoc.HelpDoc): HelpDoc.HelpDoc => {
  switch (doc._tag) {
    case "Paragraph": {
      const text = spanText(doc.value)
      if (generic.some((g) => g.test(text))) return HelpDoc.empty
      const defaults = /^This setting is optional\. Defaults to: (.*)$/.exec(text)
      return defaults ? HelpDoc.p(`Default: ${defaults[1]}.`) : doc
    }
    case "Sequence":
      return HelpDoc.sequence(withoutGeneric(doc.left), withoutGeneric(doc.right))
    case "DescriptionList":
      return HelpDoc.descriptionList(
        doc.definitions.map(([span, block]) => [span, withoutGeneric(block)] as [Span.Span, HelpDoc.HelpDoc]) as [
          [Span.Span, HelpDoc.HelpDoc],
          ...Array<[Span.Span, HelpDoc.HelpDoc]>
        ]
      )
    case "Enumeration":
      return HelpDoc.enumeration(doc.elements.map(withoutGeneric) as [HelpDoc.HelpDoc, ...Array<HelpDoc.HelpDoc>])
    default:
      return doc
  }
}

const config = CliConfig.make({ showBuiltIns: false })

/** What every command accepts besides its own options (@effect/cli's built-ins that do something here). */
const builtIns = HelpDoc.sequence(
  HelpDoc.h1("ALSO"),
  HelpDoc.descriptionList([
    [Span.text("-h, --help"), HelpDoc.p("Show this help (after a command name: that command's help).")],
    [Span.text("--version"), HelpDoc.p("Print storyshot's version.")],
    [Span.text("--completions sh | bash | fish | zsh"), HelpDoc.p("Print a completion script for that shell.")]
  ])
)

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = Command.Command<any, any, any, any>

/** The help page of the root command or of one subcommand: usage lines that name `storyshot`. */
export const page = (
  root: AnyCommand,
  sub: AnyCommand | undefined,
  version: string
): HelpDoc.HelpDoc => {
  const command = sub ?? root
  const usage = Usage.enumerate(Command.getUsage(command), config).map((span) =>
    HelpDoc.p(Span.concat(Span.text(sub ? "$ storyshot " : "$ "), sub ? span : Span.concat(span, Span.text(" <command> [options]"))))
  )
  return [
    HelpDoc.h1(Span.code(sub ? `storyshot ${[...Command.getNames(sub)][0]}` : "storyshot")),
    HelpDoc.p(`storyshot ${version}`),
    HelpDoc.h1("USAGE"),
    ...usage,
    withoutGeneric(Command.getHelp(command, config)),
    ...(sub ? [HelpDoc.p("Options every command takes: --cwd DIR, --config FILE (see `storyshot --help`).")] : []),
    builtIns
  ].reduce((a, b) => HelpDoc.sequence(a, b), HelpDoc.empty)
}

export const render = (doc: HelpDoc.HelpDoc, color: boolean) => {
  const text = HelpDoc.toAnsiText(doc)
  return color ? text : stripAnsi(text)
}
