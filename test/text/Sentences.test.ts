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
    expect(split("The Rev. Dr. King spoke. Then Lt. Col. Smith did.")).toEqual(["The Rev. Dr. King spoke.", "Then Lt. Col. Smith did."])
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

describe("split: narrative prose", () => {
  it("reads a page of a story as a careful reader does", () => {
    const page = `Chapter 3

The 7:40 train was late again. Dr. Okafor checked her watch: 8:05 a.m. She had a meeting with Mr. J. D. Salinger's estate at 10 a.m. sharp, and the lawyers billed $450.00 an hour.

"You're late," said Tom when she finally arrived. "Again."
"Blame the railway," she said. "They blame the weather. Nobody blames the timetable."
He laughed. "Fair enough. Coffee?"

The file was at https://files.example.org/estate/v2.0.1/notes.pdf. Tom had e-mailed it from tom.baker@example.co.uk at 11:52 p.m. the night before. It ran to 312 pp. and weighed, printed, about 1.5 kg.

The estate wanted three things: (a) the letters, (b) the photographs, and (c) the 1951 typescript. They offered approx. $2.5 million, i.e. far less than it was worth. "No," she said. "Not a cent under four."

At 4 p.m. the lawyers called back. They had agreed. She hung up at 4:15 p.m. Then she called her sister in the U.K. and told her everything.`
    expect(split(page)).toEqual([
      "Chapter 3",
      "The 7:40 train was late again.",
      "Dr. Okafor checked her watch: 8:05 a.m.",
      "She had a meeting with Mr. J. D. Salinger's estate at 10 a.m. sharp, and the lawyers billed $450.00 an hour.",
      '"You\'re late," said Tom when she finally arrived.',
      '"Again."',
      '"Blame the railway," she said.',
      '"They blame the weather. Nobody blames the timetable."',
      "He laughed.",
      '"Fair enough. Coffee?"',
      "The file was at https://files.example.org/estate/v2.0.1/notes.pdf.",
      "Tom had e-mailed it from tom.baker@example.co.uk at 11:52 p.m. the night before.",
      "It ran to 312 pp. and weighed, printed, about 1.5 kg.",
      "The estate wanted three things: (a) the letters, (b) the photographs, and (c) the 1951 typescript.",
      "They offered approx. $2.5 million, i.e. far less than it was worth.",
      '"No," she said.',
      '"Not a cent under four."',
      "At 4 p.m. the lawyers called back.",
      "They had agreed.",
      "She hung up at 4:15 p.m.",
      "Then she called her sister in the U.K. and told her everything."
    ])
  })

  it("keeps dialogue with its attribution, and starts a new sentence after it", () => {
    expect(split('"Where are you going?" she asked. "Home," he said. "It\'s late."')).toEqual([
      '"Where are you going?" she asked.',
      '"Home," he said.',
      '"It\'s late."'
    ])
    expect(split("\u201cWait!\u201d he shouted. \u201cDon\u2019t go.\u201d But she was already gone.")).toEqual([
      "\u201cWait!\u201d he shouted.",
      "\u201cDon\u2019t go.\u201d",
      "But she was already gone."
    ])
    expect(split("He asked, 'Is it true?' I nodded.")).toEqual(["He asked, 'Is it true?'", "I nodded."])
  })

  it("reads times: a.m. and p.m. end a sentence only before a new one", () => {
    expect(split("We met at 4 p.m. and left at 6 p.m. The next day it rained.")).toEqual([
      "We met at 4 p.m. and left at 6 p.m.",
      "The next day it rained."
    ])
    expect(split("The meeting starts at 4 p.m. Bring coffee.")).toEqual(["The meeting starts at 4 p.m.", "Bring coffee."])
    expect(split("We left at 5:30 a.m. It was still dark.")).toEqual(["We left at 5:30 a.m.", "It was still dark."])
    expect(split("By 9 a.m. Mrs. Hale had gone.")).toEqual(["By 9 a.m. Mrs. Hale had gone."])
  })

  it("reads money, versions, URLs and e-mail addresses", () => {
    expect(split("It cost $4.99. That was cheap. The other one cost \u20ac12.50, which was not.")).toEqual([
      "It cost $4.99.",
      "That was cheap.",
      "The other one cost \u20ac12.50, which was not."
    ])
    expect(split("Version 2.0.1 fixed the bug. Version 2.1 broke it again. Upgrade to v2.1.3.")).toEqual([
      "Version 2.0.1 fixed the bug.",
      "Version 2.1 broke it again.",
      "Upgrade to v2.1.3."
    ])
    expect(split("Visit https://example.com/a.b?c=1. Or email me at bob.smith@mail.example.org. Thanks.")).toEqual([
      "Visit https://example.com/a.b?c=1.",
      "Or email me at bob.smith@mail.example.org.",
      "Thanks."
    ])
    expect(split("Open report.pdf. It is short.")).toEqual(["Open report.pdf.", "It is short."])
  })

  it("reads measurements and units after a number", () => {
    expect(split("The board is 2.5 m long and 30 cm wide. It weighs 4 kg.")).toEqual([
      "The board is 2.5 m long and 30 cm wide.",
      "It weighs 4 kg."
    ])
    expect(split("He is 6 ft. tall. She is 5 ft. 4 in. tall. He weighed 180 lbs. He was strong.")).toEqual([
      "He is 6 ft. tall.",
      "She is 5 ft. 4 in. tall.",
      "He weighed 180 lbs.",
      "He was strong."
    ])
    expect(split("The temperature was 20\u00b0C. It felt warmer.")).toEqual(["The temperature was 20\u00b0C.", "It felt warmer."])
  })

  it("reads streets apart from saints and doctors", () => {
    expect(split("He lives on Baker St. The house is old.")).toEqual(["He lives on Baker St.", "The house is old."])
    expect(split("Dr. Watson met him at 221B Baker St. in London. They went to St. Paul's.")).toEqual([
      "Dr. Watson met him at 221B Baker St. in London.",
      "They went to St. Paul's."
    ])
  })

  it("reads a sign in capitals and a company's full name inside the sentence", () => {
    expect(split("The sign read OPEN 7 A.M. TO 5 P.M. Inside, a fire burned.")).toEqual([
      "The sign read OPEN 7 A.M. TO 5 P.M.",
      "Inside, a fire burned."
    ])
    expect(split("Invoices from Campbell & Co. Ltd. lay on the desk. She read them.")).toEqual([
      "Invoices from Campbell & Co. Ltd. lay on the desk.",
      "She read them."
    ])
  })

  it("splits a text written all in lower case at its full stops", () => {
    expect(split("i went home. then i slept. it was late.")).toEqual(["i went home.", "then i slept.", "it was late."])
  })

  it("keeps every word, in order, once", () => {
    const text = "Mr. and Mrs. Smith arrived at 6 p.m. They were late! Why? Nobody knew... The U.S. Army had closed the road."
    expect(split(text).join(" ")).toBe(text)
  })
})

describe("split: quotations", () => {
  const balanced = (piece: string) =>
    (piece.match(/"/gu) ?? []).length % 2 === 0 &&
    (piece.match(/\u201c/gu) ?? []).length === (piece.match(/\u201d/gu) ?? []).length

  it("keeps a short quotation whole", () => {
    expect(split('It said only: "Take care of them. I couldn\'t."')).toEqual(['It said only: "Take care of them. I couldn\'t."'])
    expect(split("\u201cI don\u2019t know. Maybe tomorrow,\u201d she said. We left.")).toEqual([
      "\u201cI don\u2019t know. Maybe tomorrow,\u201d she said.",
      "We left."
    ])
    expect(split("He teaches science (He worked for 5 years as an engineer. He liked it.) at the school.")).toEqual([
      "He teaches science (He worked for 5 years as an engineer. He liked it.) at the school."
    ])
  })

  it("splits a long quotation at its sentences, and each piece shows balanced marks", () => {
    const speech = Array.from({ length: 8 }, (_, i) => `This is sentence number ${i + 1} of a long speech that goes on.`)
    const pieces = split(`"${speech.join(" ")}" he said. Then silence.`)
    expect(pieces).toEqual([
      ...speech.slice(0, 7).map((s) => `"${s}"`),
      `"${speech[7]}" he said.`,
      "Then silence."
    ])
    for (const piece of pieces) expect(balanced(piece)).toBe(true)
  })

  it("balances a quotation cut by the length limit", () => {
    const clause = "the river ran past the old mill and the children followed it for hours"
    const pieces = split(`She said, \u201c${Array.from({ length: 12 }, () => clause).join(", ")}.\u201d`)
    expect(pieces.length).toBeGreaterThan(1)
    for (const piece of pieces) {
      expect(balanced(piece)).toBe(true)
      expect(piece.length).toBeLessThanOrEqual(400)
    }
  })

  it("closes and reopens a speech the writer leaves open at the end of a paragraph", () => {
    expect(split('She said: "I went home. I slept.\n\n"Then I woke up."')).toEqual([
      'She said: "I went home."',
      '"I slept."',
      '"Then I woke up."'
    ])
  })

  it("does not take apostrophes for quotation marks", () => {
    expect(split("Back in the '90s we danced. Then the dogs' bowls were empty. We couldn't stay.")).toEqual([
      "Back in the '90s we danced.",
      "Then the dogs' bowls were empty.",
      "We couldn't stay."
    ])
  })
})

describe("split: the writer's overrides", () => {
  it("forces a boundary at a | standing alone", () => {
    expect(split("At 6 p.m. the bell rang | Everyone stood up.")).toEqual(["At 6 p.m. the bell rang", "Everyone stood up."])
    expect(split("The storm came,\n|\nand then it went.")).toEqual(["The storm came,", "and then it went."])
    expect(split('He said "Go home. | Now." She left.')).toEqual(['He said "Go home."', '"Now."', "She left."])
  })

  it("joins with a ~ after a sentence's end mark, or at the end of a line", () => {
    expect(split("I live in the U.S.~How about you? Me too.")).toEqual(["I live in the U.S. How about you?", "Me too."])
    expect(split("I live in the U.S.~\nHow about you?")).toEqual(["I live in the U.S. How about you?"])
    expect(split("Chapter One~\nIt was a dark night.")).toEqual(["Chapter One It was a dark night."])
  })

  it("leaves other tildes and pipes alone", () => {
    expect(split("It costs ~5 dollars. See http://x.org/~bob today. Use a|b.")).toEqual([
      "It costs ~5 dollars.",
      "See http://x.org/~bob today.",
      "Use a|b."
    ])
  })
})

describe("split: lines", () => {
  it("gives a heading on its own line a sentence of its own", () => {
    expect(split("Chapter One\nIt was a dark and stormy night. The rain fell.")).toEqual([
      "Chapter One",
      "It was a dark and stormy night.",
      "The rain fell."
    ])
    expect(split("# The Storm\nIt was a dark night.")).toEqual(["# The Storm", "It was a dark night."])
  })

  it("reads a caption-style transcript, a phrase a line, as running text", () => {
    expect(split("so yesterday I told him\nJohn you can't do that\nand then\nI went home.")).toEqual([
      "so yesterday I told him John you can't do that and then I went home."
    ])
    // A heading after a sentence's end still stands alone.
    expect(split("The storm came in from the west, and the boats ran for the shelter of the bay.\nThe Harbour\nIt was empty.")).toEqual([
      "The storm came in from the west, and the boats ran for the shelter of the bay.",
      "The Harbour",
      "It was empty."
    ])
  })

  it("never splits prose hard-wrapped at 80 columns, even where a line starts with a capital", () => {
    const wrapped = [
      "The lighthouse keeper woke before dawn, as she had every day for forty years, and",
      "climbed the spiral stairs with a lantern in one hand and a cup of tea in the",
      "other. Out on the water a small boat drifted towards the rocks near Cape",
      "Ann, where the Atlantic meets the coast of Massachusetts and the tide runs fast",
      "Sunday after Sunday."
    ].join("\n")
    expect(split(wrapped)).toEqual([
      "The lighthouse keeper woke before dawn, as she had every day for forty years, and climbed the spiral stairs with a lantern in one hand and a cup of tea in the other.",
      "Out on the water a small boat drifted towards the rocks near Cape Ann, where the Atlantic meets the coast of Massachusetts and the tide runs fast Sunday after Sunday."
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

  it("reads French, German and Spanish quotation and question marks", () => {
    expect(split("Il a dit \u00ab Bonjour. \u00bb Puis il est parti.")).toEqual(["Il a dit \u00ab Bonjour. \u00bb", "Puis il est parti."])
    expect(split("Er sagte: \u201eHallo.\u201c Dann ging er. Herr Dr. M\u00fcller kam um 8 Uhr.")).toEqual([
      "Er sagte: \u201eHallo.\u201c",
      "Dann ging er.",
      "Herr Dr. M\u00fcller kam um 8 Uhr."
    ])
    expect(split("\u00bfD\u00f3nde est\u00e1? No lo s\u00e9. \u00a1V\u00e1monos!")).toEqual(["\u00bfD\u00f3nde est\u00e1?", "No lo s\u00e9.", "\u00a1V\u00e1monos!"])
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
