/**
 * How a person reads each provider's name (the run log and records keep the short id: "openai", "replicate").
 * One table, so a new provider's messages ("2 clips still being made by Replicate are kept") need no edit of
 * the reporters.
 */
const names: Readonly<Record<string, string>> = {
  fal: "fal",
  openai: "OpenAI",
  openrouter: "OpenRouter",
  replicate: "Replicate",
  elevenlabs: "ElevenLabs",
  anthropic: "Anthropic",
  chat: "the chat server",
  a1111: "the AUTOMATIC1111 server"
}

export const displayName = (provider: string): string => names[provider] ?? provider
