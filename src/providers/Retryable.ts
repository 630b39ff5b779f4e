/**
 * The one predicate that decides whether the scheduler tries a failed node again (contract 1 with the engine),
 * with the pay-once meaning: a node is tried again only when nothing it already paid for would be paid again.
 *
 * - A paid request the provider refused before accepting it (429, 5xx at submit, connection refused) was not
 *   billed: yes, after the provider's `Retry-After` when it gave one.
 * - A free read (status, result, upload, download) that still failed after its own retries in the adapter:
 *   yes, because the node's next try re-attaches to the request it kept instead of buying a new one.
 * - A paid answer that arrived damaged, or never arrived, may have been billed: never (`PaidAnswerLost`
 *   says what to run to pay again).
 * - Everything else (the model's verdict, a moderation block, a bad key, a missing model): never.
 *
 * Each service's error decides from its tag, call and reason (`worthRetrying`). The engine answers for its own
 * errors (a node's time-out) before it asks this; anything else that is not a provider's is not tried again.
 */
import { A1111Error } from "./a1111/A1111Error.ts"
import { AnthropicError } from "./anthropic/AnthropicError.ts"
import { ChatError } from "./chat/ChatError.ts"
import { ElevenLabsError } from "./elevenlabs/ElevenLabsError.ts"
import { FalError } from "./fal/FalError.ts"
import { PaidAnswerLost, ProviderUnavailable } from "./Failure.ts"
import { OpenAIError } from "./openai/OpenAIError.ts"
import { OpenRouterError } from "./openrouter/OpenRouterError.ts"
import { ReplicateError } from "./replicate/ReplicateError.ts"

import type { Retryable } from "../engine/Retry.ts"

export type { Retryable, RetryVerdict } from "../engine/Retry.ts"

export type ServiceError =
  | FalError
  | OpenAIError
  | OpenRouterError
  | ReplicateError
  | ElevenLabsError
  | AnthropicError
  | ChatError
  | A1111Error

const services = [FalError, OpenAIError, OpenRouterError, ReplicateError, ElevenLabsError, AnthropicError, ChatError, A1111Error]

export const isServiceError = (error: unknown): error is ServiceError => services.some((s) => error instanceof s)

export const retryable: Retryable = (error) => {
  if (isServiceError(error)) return error.worthRetrying ? { retry: true, afterMs: error.retryAfterMs } : { retry: false }
  if (error instanceof PaidAnswerLost || error instanceof ProviderUnavailable) return { retry: false }
  return { retry: false }
}
