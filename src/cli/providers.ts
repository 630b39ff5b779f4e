/**
 * `storyshot providers [--json]`: the implementations each provider stage can use (the registry,
 * `targets/registry.ts`), what `providers: { <stage>: "<name>" }` selects: for each, the variables it needs,
 * where its prices come from and when they were checked, and what the next build does with its work after a
 * crash or Ctrl-C. The ones this workspace's config selects are marked, with any key it lacks.
 */
import { Effect } from "effect"
import { providerStages } from "../Film.ts"
import * as ProviderConfig from "../providers/ProviderConfig.ts"
import * as Registry from "../../targets/registry.ts"
import { type Impl, referencesOf } from "../../targets/Rule.ts"
import type { Workspace } from "../Workspace.ts"
import type { Flags, providersOptions } from "./Commands.ts"
import { root } from "./Root.ts"
import * as Session from "./Session.ts"

export interface ProviderRow {
  readonly stage: string
  readonly name: string
  readonly summary: string
  readonly paid: boolean
  /** Selected by this workspace's config (profile and `providers`). */
  readonly selected: boolean
  readonly needs: ReadonlyArray<string>
  /** Needed and not set in the environment or `.env`. */
  readonly missing: ReadonlyArray<string>
  readonly price: { readonly source: string; readonly checkedOn: string } | "free"
  readonly reattaches: boolean
  readonly afterCrash: string
  /** An image implementation's use of the character sheets (issue 16, contract 6): "edit" sends them as references. */
  readonly references?: "none" | "edit" | undefined
}

export const rows = (ws: Workspace): ReadonlyArray<ProviderRow> => {
  const config = ProviderConfig.fromEnv(ws.env)
  const order = (impl: Impl) => providerStages.indexOf(impl.stage)
  return [...Registry.implementations()]
    .sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name))
    .map((impl) => ({
      stage: impl.stage,
      name: impl.name,
      summary: impl.about.summary,
      paid: impl.paid,
      selected: ws.config.providers[impl.stage as (typeof providerStages)[number]] === impl.name,
      needs: impl.about.needs,
      missing: impl.missing?.(config) ?? [],
      price: impl.about.price,
      reattaches: impl.about.reattaches,
      afterCrash: impl.about.afterCrash,
      ...(impl.stage === "image" ? { references: referencesOf(impl as Impl, config) } : {})
    }))
}

export const toText = (list: ReadonlyArray<ProviderRow>, profile: string): string => {
  const out: Array<string> = []
  out.push(`Providers by stage (* = selected by this workspace, profile ${profile}; choose with providers: { <stage>: "<name>" } in storyshot.config.ts):`)
  for (const stage of providerStages) {
    out.push("", stage)
    for (const r of list.filter((r) => r.stage === stage)) {
      out.push(`  ${r.selected ? "*" : " "} ${r.name.padEnd(10)} ${r.summary}${r.paid ? "" : " (free)"}`)
      if (r.needs.length > 0)
        out.push(`      needs    ${r.needs.join(", ")}${r.missing.length > 0 ? `  (not set: ${r.missing.join(", ")})` : " (set)"}`)
      if (r.price !== "free") out.push(`      prices   ${r.price.source}; checked ${r.price.checkedOn}`)
      out.push(`      crash    ${r.afterCrash}`)
      if (r.references !== undefined)
        out.push(
          `      cast     ${r.references === "edit" ? "draws each shot from its characters' sheets (references)" : "ignores the character sheets: the cast reaches it as text only"}`
        )
    }
  }
  return out.join("\n")
}

/** `storyshot providers` (its options are in Commands.ts). */
export const handler = (flags: Flags<typeof providersOptions>) =>
  Effect.gen(function* () {
    const g = yield* root
    const ws = yield* Session.openWorkspace(g)
    const list = rows(ws)
    process.stdout.write((flags.json ? JSON.stringify(list, null, 2) : toText(list, ws.config.profile)) + "\n")
  })
