/**
 * The storyshot HTTP API, declared once: handlers are typed from it (Handlers.ts), answers are encoded by it,
 * and `/openapi.json` and Swagger UI at `/docs` are made from it.
 *
 * Every error is JSON `{ "_tag", "message" }` with the status of its class (Errors.ts). Ids in paths are
 * checked by the handlers (they arrive percent-decoded).
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, Multipart, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import * as Config from "../Config.ts"
import { BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable } from "./Errors.ts"
import * as S from "./Schemas.ts"

export const version = "0.1.0"

const id = HttpApiSchema.param("id", Schema.String.annotations({ description: "Project id (its folder's name)" }))
const run = HttpApiSchema.param("run", Schema.String.annotations({ description: "Run id, as `storyshot runs` lists it" }))
const k = HttpApiSchema.param("k", Schema.NumberFromString.pipe(Schema.int(), Schema.positive()).annotations({ description: "Shot number K (from 1, across the film)" }))
const file = HttpApiSchema.param("file", Schema.String)
const prefix = HttpApiSchema.param("prefix", Schema.String)

/**
 * What a file route answers: the bytes, typed as the file is (200, or 206 for a `Range`). HttpApi documents one
 * content type per status, so the document's entry is rewritten to list them all.
 */
const fileTypes = ["video/mp4", "image/png", "image/jpeg", "image/webp", "audio/wav", "audio/mpeg", "text/vtt", "text/plain", "text/html"]

const withFile = <E extends HttpApiEndpoint.HttpApiEndpoint.Any>(endpoint: E, description: string): E => {
  const binary = Object.fromEntries(fileTypes.map((t) => [t, { schema: { type: "string", format: "binary" } }]))
  return (endpoint as any)
    .addSuccess(Schema.Uint8ArrayFromSelf.pipe(HttpApiSchema.withEncoding({ kind: "Uint8Array", contentType: "application/octet-stream" })))
    .annotate(OpenApi.Transform, (op: any) => ({
      ...op,
      responses: {
        ...op.responses,
        200: { description, content: binary },
        206: { description: `${description}: the part its Range asked for`, content: binary },
        416: { description: "The Range asked for is not in the file (Content-Range says its size)" }
      }
    })) as E
}

const Download = Schema.Struct({
  download: Schema.optional(Schema.Literal("1")).annotations({ description: "1: answer with Content-Disposition: attachment" })
})

export const Projects = HttpApiGroup.make("projects")
  .add(
    HttpApiEndpoint.get("list", "/api/projects")
      .addSuccess(S.ProjectList)
      .annotate(OpenApi.Summary, "The projects this server shows")
  )
  .add(
    HttpApiEndpoint.post("create", "/api/projects")
      .setPayload(S.CreateProject)
      .addSuccess(S.Project, { status: 201 })
      .addError(Conflict)
      .addError(Unprocessable)
      .annotate(OpenApi.Summary, "Create a project from a transcript (text), with a profile and settings")
  )
  .add(
    HttpApiEndpoint.post("upload", "/api/projects/upload")
      .setPayload(
        HttpApiSchema.Multipart(
          Schema.Struct({
            name: Schema.String,
            profile: Schema.optional(Config.Profile),
            /** The settings as JSON text (the same fields as `settings` in POST /api/projects). */
            settings: Schema.optional(Schema.parseJson(S.Settings)),
            transcript: Multipart.SingleFileSchema
          })
        )
      )
      .addSuccess(S.Project, { status: 201 })
      .addError(Conflict)
      .addError(Unprocessable)
      .annotate(OpenApi.Summary, "Create a project from an uploaded transcript file (multipart: name, profile, settings as JSON, transcript)")
  )
  .add(
    HttpApiEndpoint.get("show")`/api/projects/${id}`
      .addSuccess(S.Project)
      .addError(NotFound)
      .annotate(OpenApi.Summary, "One project: its profile, providers, current build and last run")
  )

export const Builds = HttpApiGroup.make("builds")
  .add(
    HttpApiEndpoint.get("plan")`/api/projects/${id}/plan`
      .setUrlParams(
        Schema.Struct({
          target: Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.String))).annotations({ description: "Target ids (repeat it); default the film" }),
          force: Schema.optional(Schema.Literal("true", "false"))
        })
      )
      .addSuccess(S.Plan)
      .addError(NotFound)
      .addError(Unprocessable)
      .annotate(OpenApi.Summary, "The dry run: what a build would make, per stage and per shot, with the estimated cost (nothing is paid)")
  )
  .add(
    HttpApiEndpoint.post("start")`/api/projects/${id}/builds`
      .setPayload(S.BuildRequest)
      .addSuccess(S.Job, { status: 202 })
      .addError(NotFound)
      .addError(Conflict)
      .addError(Unprocessable)
      .annotate(OpenApi.Summary, "Start a build (all, or target ids); it waits behind a running build of the same project")
  )
  .add(
    HttpApiEndpoint.get("runs")`/api/projects/${id}/builds`
      .addSuccess(Schema.Struct({ runs: Schema.Array(S.RunRow) }))
      .addError(NotFound)
      .annotate(OpenApi.Summary, "Past and current runs, newest first, with their cost")
  )
  .add(
    HttpApiEndpoint.get("status")`/api/projects/${id}/builds/${run}`
      .addSuccess(S.Job)
      .addError(NotFound)
      .annotate(OpenApi.Summary, "A build's status: progress per stage, what is running, spent so far and the estimate of what is left")
  )
  .add(
    HttpApiEndpoint.post("cancel")`/api/projects/${id}/builds/${run}/cancel`
      .addSuccess(S.Job)
      .addError(NotFound)
      .addError(Conflict)
      .annotate(OpenApi.Summary, "Cancel a queued or running build: what finished stays in the store")
  )
  .add(
    HttpApiEndpoint.get("events")`/api/projects/${id}/events`
      .addSuccess(
        Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" })).annotations({
          description:
            'Server-sent events, one JSON object per `data:` line: {"_tag":"Hello","jobs":[…]} first, then {"_tag":"Job","job":…} when a build is queued, starts or ends, {"_tag":"Build","job":id,"event":…} for each build event (the terminal reporter\'s: Discovered, Started, Built, Cached, Failed, Retrying, Skipped, Request, OverBudget, Warning), and {"_tag":"Changed"} after an edit. Send Last-Event-ID to resume.'
        })
      )
      .addError(NotFound)
      .annotate(OpenApi.Summary, "The project's live events (server-sent events)")
  )

export const Story = HttpApiGroup.make("story")
  .add(
    HttpApiEndpoint.get("story")`/api/projects/${id}/story`
      .addSuccess(S.Story)
      .addError(NotFound)
      .addError(Unprocessable)
      .annotate(OpenApi.Summary, "The story: sentences, shots, prompts, each node's status, result and cost")
  )
  .add(
    HttpApiEndpoint.post("rerollQuote")`/api/projects/${id}/shots/${k}/reroll/quote`
      .setPayload(S.Reroll)
      .addSuccess(S.Quote)
      .addError(NotFound)
      .addError(Unprocessable)
      .annotate(OpenApi.Summary, "What re-rolling shot K would build and cost (nothing is paid)")
  )
  .add(
    HttpApiEndpoint.post("reroll")`/api/projects/${id}/shots/${k}/reroll`
      .setPayload(S.Reroll)
      .addSuccess(S.Job, { status: 202 })
      .addError(NotFound)
      .addError(Conflict)
      .addError(Unprocessable)
      .annotate(OpenApi.Summary, "Re-roll shot K: a new take of its still (or clip), then the film is rebuilt where it changed (`build --force`)")
  )
  .add(
    HttpApiEndpoint.post("promptQuote")`/api/projects/${id}/shots/${k}/prompt/quote`
      .setPayload(S.PromptQuote)
      .addSuccess(S.Quote)
      .addError(NotFound)
      .addError(Unprocessable)
      .annotate(OpenApi.Summary, "What pinning this prompt on shot K would build and cost (nothing is paid or saved)")
  )
  .add(
    HttpApiEndpoint.put("prompt")`/api/projects/${id}/shots/${k}/prompt`
      .setPayload(S.PromptEdit)
      .addSuccess(S.ShotPin)
      .addError(NotFound)
      .addError(Conflict)
      .addError(Unprocessable)
      .annotate(OpenApi.Summary, "Pin (or, with null, unpin) shot K's prompt in storyshot.shots.json, and by default build the film with it")
  )
  .add(
    HttpApiEndpoint.put("approval")`/api/projects/${id}/shots/${k}/approval`
      .setPayload(S.Approval)
      .addSuccess(S.ShotPin)
      .addError(NotFound)
      .addError(Conflict)
      .addError(Unprocessable)
      .annotate(
        OpenApi.Summary,
        "Approve shot K (or take it back) as `storyshot approve shot:K` does: its sentence's plan is built and frozen in storyshot.shots.json, so a later model or setting change does not re-plan it; 409 while a build runs"
      )
  )

export const Files = HttpApiGroup.make("files")
  .add(
    withFile(
      HttpApiEndpoint.get("out")`/api/projects/${id}/out/${file}`.setUrlParams(Download).addError(NotFound),
      "out/final.mp4, out/final.srt, out/final.vtt or out/storyboard.html"
    ).annotate(OpenApi.Summary, "A file of out/: the film, its subtitles, its storyboard page")
  )
  .add(
    withFile(
      HttpApiEndpoint.get("sentence")`/api/projects/${id}/out/sentences/${file}`.setUrlParams(Download).addError(NotFound),
      "out/sentences/NNN.mp4"
    ).annotate(OpenApi.Summary, "A sentence's clip")
  )
  .add(
    withFile(
      HttpApiEndpoint.get("object")`/api/projects/${id}/.storyshot/objects/${prefix}/${file}`.setUrlParams(Download).addError(NotFound),
      "A stored result, named by its content hash: a still, a clip, a narration"
    ).annotate(OpenApi.Summary, "A stored object (the story links each node's current result here)")
  )

export const Session = HttpApiGroup.make("session").add(
  HttpApiEndpoint.post("login", "/api/session")
    .setPayload(Schema.Struct({ token: Schema.String }))
    .addSuccess(Schema.Void, { status: 204 })
    .annotate(
      OpenApi.Summary,
      "Off loopback: trade STORYSHOT_TOKEN for a session cookie (what the page's sign-in form does); scripts send Authorization: Bearer instead"
    )
)

export const Api = HttpApi.make("storyshot")
  .add(Projects)
  .add(Builds)
  .add(Story)
  .add(Files)
  .add(Session)
  .addError(Unauthorized)
  .addError(Forbidden)
  .addError(PayloadTooLarge)
  .addError(BadRequest)
  // A project whose config or transcript cannot be read answers 422 on any route that opens it.
  .addError(Unprocessable)
  .annotate(OpenApi.Title, "storyshot")
  .annotate(OpenApi.Version, version)
  .annotate(
    OpenApi.Description,
    "Make a narrated film from a transcript: projects, dry runs with prices, builds (the same builds as `storyshot build`: same store, lock and money rules), live events, the story, per-shot re-rolls and prompt pins, downloads. Off loopback every request needs `Authorization: Bearer $STORYSHOT_TOKEN` (or the session cookie); writes from pages of another origin are refused."
  )
