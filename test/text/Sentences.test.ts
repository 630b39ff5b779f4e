import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { firstInvalidUtf8Offset, normalize, parseTranscript, split, TranscriptError } from "../../src/text/Sentences.ts"

const utf8 = (text: string) => new TextEncoder().encode(text)

describe("normalize: the cache key", () => {
  it("ignores case and spacing, so re-typing a sentence re-pays nothing", () => {
    expect(normalize("  The Storm  rolled\n\tIN. ")).toBe("the storm rolled in.")
    expect(normalize("The storm rolled in.")).toBe(normalize("the STORM rolled  in."))
  })

  it("keeps what a narrator would say differently", () => {
    expect(normalize("The storm rolled in.")).not.toBe(normalize("The storm rolled in!"))
  })

  it("treats the same visible text typed two ways (precomposed or combining accent) as one sentence", () => {
    expect(normalize("Caf\u00e9 au lait.")).toBe(normalize("Cafe\u0301 au lait."))
  })
})

describe("split: everyday transcripts", () => {
  it("keeps titles and abbreviations inside the sentence", () => {
    expect(split("Dr. Patel met Mr. Jones and Mrs. Okafor on St. Mark's Square. They talked for hours.")).toEqual([
      "Dr. Patel met Mr. Jones and Mrs. Okafor on St. Mark's Square.",
      "They talked for hours."
    ])
    expect(split("We hiked approx. twelve miles that day. Then we camped.")).toEqual([
      "We hiked approx. twelve miles that day.",
      "Then we camped."
    ])
    expect(split("Pack light, e.g. a tent and a stove, i.e. nothing heavy. Leave early.")).toEqual([
      "Pack light, e.g. a tent and a stove, i.e. nothing heavy.",
      "Leave early."
    ])
    expect(split("It was Ali vs. Frazier in Manila. The crowd roared.")).toEqual([
      "It was Ali vs. Frazier in Manila.",
      "The crowd roared."
    ])
  })

  it("reads 'etc.' as an end only before a new sentence", () => {
    expect(split("We packed tents, stoves, etc. and left at dawn. It rained.")).toEqual([
      "We packed tents, stoves, etc. and left at dawn.",
      "It rained."
    ])
    expect(split("We packed tents, stoves, etc. Then it rained.")).toEqual([
      "We packed tents, stoves, etc.",
      "Then it rained."
    ])
  })

  it("keeps initials and dotted acronyms inside the sentence", () => {
    expect(split("The book is by J. R. R. Tolkien and it is long. I loved it.")).toEqual([
      "The book is by J. R. R. Tolkien and it is long.",
      "I loved it."
    ])
    expect(split("In the final, the U.S. team won by a point. Everyone cheered.")).toEqual([
      "In the final, the U.S. team won by a point.",
      "Everyone cheered."
    ])
  })

  it("ends a quoted sentence at the closing quote, but not when the sentence goes on", () => {
    expect(split('He said "Stop." Then he left.')).toEqual(['He said "Stop."', "Then he left."])
    expect(split('She whispered, \u201cIt\u2019s over!\u201d Nobody moved.')).toEqual([
      "She whispered, \u201cIt\u2019s over!\u201d",
      "Nobody moved."
    ])
    expect(split('"Stop!" she shouted. Then she left.')).toEqual(['"Stop!" she shouted.', "Then she left."])
    expect(split('"Stop," he said.')).toEqual(['"Stop," he said.'])
  })

  it("keeps a hesitation together, and ends at an ellipsis before a new sentence", () => {
    expect(split("Wait... what? That is strange.")).toEqual(["Wait... what?", "That is strange."])
    expect(split("I waited\u2026 Then I left.")).toEqual(["I waited\u2026", "Then I left."])
  })

  it("does not merge short sentences (sbd alone reads 'Hi. My' as a name)", () => {
    expect(split("Hi. My name is Sam. No. I refuse.")).toEqual(["Hi.", "My name is Sam.", "No.", "I refuse."])
    expect(split("He lives at No. 5 Baker St. in London.")).toEqual(["He lives at No. 5 Baker St. in London."])
  })

  it("makes each numbered or bulleted list line its own sentence", () => {
    expect(split("Before the trip:\n1. Buy milk\n2. Call mom\n3. Pick up the kids.\n- Lock the door")).toEqual([
      "Before the trip:",
      "1. Buy milk",
      "2. Call mom",
      "3. Pick up the kids.",
      "- Lock the door"
    ])
  })

  it("keeps decimals, prices, URLs and e-mail addresses whole", () => {
    expect(split("It costs 3.50 dollars, up 2.5% from 2019. Pi is 3.14.")).toEqual([
      "It costs 3.50 dollars, up 2.5% from 2019.",
      "Pi is 3.14."
    ])
    expect(
      split("Read https://example.com/docs/v1.2/index.html?page=2 first. Or write to jane.doe@example.org today.")
    ).toEqual(["Read https://example.com/docs/v1.2/index.html?page=2 first.", "Or write to jane.doe@example.org today."])
  })

  it("reads single newlines as soft wraps, blank lines as hard ends, and accepts CRLF", () => {
    expect(split("The rain kept falling\non the tin roof\r\nall night long\r\n\r\nMorning came")).toEqual([
      "The rain kept falling on the tin roof all night long",
      "Morning came"
    ])
  })

  it("drops scene-break lines with nothing to say", () => {
    expect(split("The end of part one.\n\n* * *\n\n---\n\nPart two begins.")).toEqual([
      "The end of part one.",
      "Part two begins."
    ])
  })
})

describe("split: other scripts and emoji", () => {
  it("ends Japanese and Chinese sentences at 。！？, with no spaces needed", () => {
    expect(split("今日は晴れです。明日は雨ですか？はい！")).toEqual(["今日は晴れです。", "明日は雨ですか？", "はい！"])
    expect(split("“你好。”他说。我们走吧！")).toEqual(["“你好。”他说。", "我们走吧！"])
    expect(split("「そうです。」と彼は言った。「はい。」「いいえ。」")).toEqual([
      "「そうです。」と彼は言った。",
      "「はい。」",
      "「いいえ。」"
    ])
  })

  it("ends a Japanese sentence typed with an ASCII ! or ?, but keeps a name like Mr.田中 whole", () => {
    expect(split("本当?うそ!行こう。")).toEqual(["本当?", "うそ!", "行こう。"])
    expect(split("Mr.田中が来た。")).toEqual(["Mr.田中が来た。"])
  })

  it("splits Cyrillic, Greek, Arabic and Hindi at their own punctuation", () => {
    expect(split("Привет, мир. Как дела? Всё хорошо!")).toEqual(["Привет, мир.", "Как дела?", "Всё хорошо!"])
    expect(split("Γεια σου κόσμε. Τι κάνεις; Καλά.")).toEqual(["Γεια σου κόσμε.", "Τι κάνεις;", "Καλά."])
    expect(split("مرحبا بالعالم. كيف حالك؟ أنا بخير!")).toEqual(["مرحبا بالعالم.", "كيف حالك؟", "أنا بخير!"])
    expect(split("यह पहला वाक्य है। यह दूसरा वाक्य है।")).toEqual(["यह पहला वाक्य है।", "यह दूसरा वाक्य है।"])
  })

  it("does not take an English semicolon for a Greek question mark", () => {
    expect(split("We ran; Then we hid.")).toEqual(["We ran; Then we hid."])
  })

  it("keeps emoji intact, including skin tones and family sequences", () => {
    const text = "I love it \u{1F60D}. See you tomorrow \u{1F389}! Bye \u{1F44B}\u{1F3FD}. Family: \u{1F468}\u200D\u{1F469}\u200D\u{1F467}."
    const sentences = split(text)
    expect(sentences).toEqual([
      "I love it \u{1F60D}.",
      "See you tomorrow \u{1F389}!",
      "Bye \u{1F44B}\u{1F3FD}.",
      "Family: \u{1F468}\u200D\u{1F469}\u200D\u{1F467}."
    ])
    expect(sentences.join(" ")).toBe(text)
  })
})

describe("split: very long sentences", () => {
  const clause = "the river ran past the old mill and the children followed it for hours"

  it("cuts at the strongest break before the limit, and no piece exceeds it", () => {
    const long = Array.from({ length: 70 }, (_, i) => clause + (i % 5 === 4 ? ";" : ",")).join(" ") + "."
    expect(long.length).toBeGreaterThan(5000)
    const pieces = split(long)
    expect(pieces.length).toBeGreaterThan(12)
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(400)
    // Semicolons win over commas wherever one falls in reach.
    for (const piece of pieces.slice(0, -1)) expect(piece.endsWith(";")).toBe(true)
    expect(pieces.join(" ")).toBe(long)
  })

  it("falls back to commas, a spaced dash, then spaces, never cutting a word", () => {
    const commas = Array.from({ length: 10 }, () => clause).join(", ") + "."
    for (const piece of split(commas).slice(0, -1)) expect(piece.endsWith(",")).toBe(true)
    const dashes = Array.from({ length: 10 }, () => clause).join(" — ") + "."
    for (const piece of split(dashes).slice(0, -1)) expect(piece.endsWith("—")).toBe(true)
    const words = Array.from({ length: 10 }, () => clause).join(" ") + "."
    const pieces = split(words)
    const vocabulary = new Set(clause.split(" "))
    for (const piece of pieces) {
      expect(piece.length).toBeLessThanOrEqual(400)
      for (const word of piece.replace(/\.$/u, "").split(" ")) expect(vocabulary.has(word)).toBe(true)
    }
    expect(pieces.join(" ")).toBe(words)
  })

  it("honours maxChars", () => {
    const pieces = split(`${clause}, ${clause}, ${clause}.`, { maxChars: 80 })
    expect(pieces).toEqual([`${clause},`, `${clause},`, `${clause}.`])
  })

  it("cuts text without spaces (Japanese) between characters and a giant token at the limit", () => {
    const japanese = split("東京の空は青く晴れていた".repeat(60) + "。")
    for (const piece of japanese) expect(piece.length).toBeLessThanOrEqual(400)
    expect(japanese.join("")).toBe("東京の空は青く晴れていた".repeat(60) + "。")
    const token = split("x".repeat(1000))
    expect(token.map((p) => p.length)).toEqual([400, 400, 200])
  })
})

describe("parseTranscript", () => {
  const parse = (bytes: Uint8Array) => parseTranscript(bytes, "transcript.txt").pipe(Effect.either)
  const failure = (result: Either.Either<ReadonlyArray<string>, TranscriptError>) => {
    if (Either.isRight(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.right)}`)
    return result.left
  }

  it.effect("strips a BOM and accepts CRLF", () =>
    Effect.gen(function*() {
      const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8("The ship left port.\r\nIt never came back.\r\n")])
      expect(yield* parseTranscript(bytes, "transcript.txt")).toEqual(["The ship left port.", "It never came back."])
    }))

  it.effect("reads emoji and non-Latin scripts", () =>
    Effect.gen(function*() {
      expect(yield* parseTranscript(utf8("東京に着いた。🎉 Мы дома!"), "t.txt")).toEqual(["東京に着いた。", "🎉 Мы дома!"])
    }))

  it.effect("says where invalid UTF-8 is and what to do", () =>
    Effect.gen(function*() {
      const error = failure(yield* parse(new Uint8Array([...utf8("Line one.\nCaf"), 0xe9, ...utf8(" noir.")])))
      expect(error).toBeInstanceOf(TranscriptError)
      expect(error.reason).toBe("invalid-utf8")
      expect(error.path).toBe("transcript.txt")
      expect(error.message).toContain("offset 13")
      expect(error.message).toContain("line 2")
      expect(error.message).toContain("save it as UTF-8")
      expect(error.message).not.toContain("\n")
    }))

  it.effect("recognises a UTF-16 file", () =>
    Effect.gen(function*() {
      const error = failure(yield* parse(new Uint8Array([0xff, 0xfe, 0x48, 0x00, 0x69, 0x00])))
      expect(error.message).toMatch(/UTF-16.*save it as UTF-8/)
    }))

  it.effect("refuses an empty or whitespace-only transcript", () =>
    Effect.gen(function*() {
      expect(failure(yield* parse(new Uint8Array()))).toMatchObject({ reason: "empty" })
      const blank = failure(yield* parse(utf8(" \r\n\t\n  ")))
      expect(blank.reason).toBe("empty")
      expect(blank.message).toContain("write the text to narrate")
    }))

  it.effect("refuses punctuation and symbols only: nothing to narrate", () =>
    Effect.gen(function*() {
      for (const text of ["?!...", "***\n\n---", "— … ‼"]) {
        const error = failure(yield* parse(utf8(text)))
        expect(error.reason).toBe("nothing-to-narrate")
        expect(error.message).toContain("nothing to narrate")
      }
    }))

  it.effect("splits a 5,000-character sentence into pieces within the limit", () =>
    Effect.gen(function*() {
      const text = Array.from({ length: 80 }, (_, i) => `wave number ${i} broke on the rocks`).join(", ") + "."
      expect(text.length).toBeGreaterThan(2500)
      const long = text + " " + text
      const sentences = yield* parseTranscript(utf8(long), "t.txt")
      expect(sentences.length).toBeGreaterThan(1)
      for (const sentence of sentences) expect(sentence.length).toBeLessThanOrEqual(400)
    }))
})

describe("firstInvalidUtf8Offset", () => {
  it("finds overlongs, surrogates, truncated sequences and stray continuation bytes", () => {
    expect(firstInvalidUtf8Offset(utf8("plain ascii, é, 東, 🎉"))).toBe(-1)
    expect(firstInvalidUtf8Offset(new Uint8Array([0x41, 0xc0, 0xaf]))).toBe(1) // overlong "/"
    expect(firstInvalidUtf8Offset(new Uint8Array([0x41, 0x42, 0xed, 0xa0, 0x80]))).toBe(2) // surrogate
    expect(firstInvalidUtf8Offset(new Uint8Array([0x41, 0xe6, 0x9d]))).toBe(1) // cut short
    expect(firstInvalidUtf8Offset(new Uint8Array([0x80]))).toBe(0)
    expect(firstInvalidUtf8Offset(new Uint8Array([0xf4, 0x90, 0x80, 0x80]))).toBe(0) // above U+10FFFF
  })
})
