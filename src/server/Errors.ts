/**
 * What the API answers when it cannot do what was asked: JSON `{ "_tag", "message" }`, where the message says
 * what to do. Each carries its HTTP status (HttpApi's empty-bodied `HttpApiError.NotFound` & co. are not used:
 * an empty 404 tells a person nothing).
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/** 400: the request itself is malformed (its JSON, a parameter's form). */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }, HttpApiSchema.annotations({ status: 400 })) {}

/** 401: the server is bound off loopback and the request did not carry its token. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", { message: Schema.String }, HttpApiSchema.annotations({ status: 401 })) {}

/** 403: a write from a page of another origin, or a Host this server does not answer for. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { message: Schema.String }, HttpApiSchema.annotations({ status: 403 })) {}

/** 404: no such project, run, shot or file. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }, HttpApiSchema.annotations({ status: 404 })) {}

/** 409: the request clashes with the state of things (a run that already ended, a project that exists). */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", { message: Schema.String }, HttpApiSchema.annotations({ status: 409 })) {}

/** 413: the request body is over the server's limit. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", { message: Schema.String }, HttpApiSchema.annotations({ status: 413 })) {}

/** 422: well-formed but refused: a transcript with no sentence, a bad setting, an unknown target, a missing key. */
export class Unprocessable extends Schema.TaggedError<Unprocessable>()("Unprocessable", { message: Schema.String }, HttpApiSchema.annotations({ status: 422 })) {}
