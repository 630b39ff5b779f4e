/**
 * The house for many providers (issue 13): a provider added in one file (`solidImage.ts`), registered here,
 * selected by the config, and built into a film; `storyshot providers` lists it. Nothing else is edited.
 */
import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Providers from "../../src/cli/providers.ts"
import * as Registry from "../../targets/registry.ts"
import { makeWorkspace, manifest, runBuild, smallConfig } from "../e2e/harness.ts"
import { seededPng } from "../fakes/png.ts"
import * as SolidImage from "./solidImage.ts"

Registry.register(SolidImage.impl)

describe("a provider in one new file", () => {
  it("is selected by providers: { image: \"solid\" }, built into the film, and listed by storyshot providers", async () => {
    const dir = makeWorkspace("The fox ran across the frozen river at dawn.\nSnow fell on the pines.", {
      config: smallConfig(`providers: { image: "solid" }`)
    })
    const { summary, ws } = await runBuild(dir)
    expect(summary.failed).toEqual([])
    expect(fs.existsSync(path.join(dir, "out", "final.mp4"))).toBe(true)
    // Each shot's image is the solid provider's, drawn from the shot's own prompt.
    const shots = manifest(dir).sentences.flatMap((s: any) => s.shots)
    expect(shots.length).toBeGreaterThan(0)
    for (const shot of shots) {
      const bytes = fs.readFileSync(path.join(dir, shot.image))
      expect(Buffer.compare(bytes, Buffer.from(seededPng(shot.prompt.prompt, ws.config.width, ws.config.height)))).toBe(0)
    }
    const rows = Providers.rows(ws)
    expect(rows.find((r) => r.stage === "image" && r.name === "solid")).toMatchObject({ selected: true, paid: false })
    expect(Providers.toText(rows, ws.config.profile)).toMatch(/\* solid +a flat colour per prompt/)
  })

  it("an unknown provider name is refused before anything runs, naming the ones that exist", async () => {
    const dir = makeWorkspace("Snow fell on the pines.", { config: smallConfig(`providers: { image: "nope" }`) })
    await expect(runBuild(dir)).rejects.toThrow(/providers\.image is "nope": the image providers are "card", "openai", "fal", "a1111", "solid"/)
    expect(fs.existsSync(path.join(dir, ".storyshot", "records"))).toBe(false)
  })
})
