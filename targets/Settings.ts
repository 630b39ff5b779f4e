/**
 * What every stage rule reads: the resolved config and environment of the workspace, as a service so the
 * rules stay plain data plus behaviour. Keys are not read from here: they live in the provider clients'
 * config (src/providers/ProviderConfig.ts) and never enter a recipe or a record.
 */
import { Context } from "effect"
import type { Workspace } from "../src/Workspace.ts"

export class Settings extends Context.Tag("storyshot/Settings")<Settings, Workspace>() {}

export { ids, idPatterns, kinds, stages } from "../src/Film.ts"
