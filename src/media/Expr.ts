/**
 * The part of ffmpeg's expression language the draft plate is written in (`Composition.ts`), compiled to a
 * JavaScript function and evaluated over the drawing's pixels here, instead of by `geq` in the ffmpeg that
 * renders the card. `geq` interprets its expression tree for every pixel; it was more than half a card's CPU
 * (0.08 of 0.14 CPU-s at 320x180), where the compiled function takes a few milliseconds.
 *
 * The same semantics as libavutil/eval.c for what is used: numbers, `X` and `Y` (the pixel's column and row),
 * `+ - * /`, unary minus, parentheses, `a;b` (evaluates both, is b), and the functions `st(i,v)` (stores v in
 * register i, a literal 0–9, and is v), `ld(i)`, `if(c,a,b)`, `lt(a,b)`, `gt(a,b)`, `min`, `max`, `abs`, `hypot`,
 * `clip(v,lo,hi)`. A pixel is the value truncated to 0–255, as `geq` stores it in an 8-bit plane.
 * Anything else in an expression is a bug in the composer and throws.
 */

type Token = { readonly kind: "num"; readonly value: number } | { readonly kind: "name"; readonly value: string } | { readonly kind: "op"; readonly value: string }

const tokenize = (source: string): Array<Token> => {
  const tokens: Array<Token> = []
  const re = /\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|([A-Za-z_][A-Za-z_0-9]*)|([-+*/(),;]))/y
  let at = 0
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break
    re.lastIndex = at
    const m = re.exec(source)
    if (!m) throw new Error(`Expr: cannot read ${JSON.stringify(source.slice(at, at + 20))}`)
    at = re.lastIndex
    if (m[1] !== undefined) tokens.push({ kind: "num", value: Number(m[1]) })
    else if (m[2] !== undefined) tokens.push({ kind: "name", value: m[2] })
    else tokens.push({ kind: "op", value: m[3]! })
  }
  return tokens
}

/** Registers are locals of the compiled function (`r0`…`r9`): their numbers are literals in our expressions. */
const register = (i: string): string => {
  const n = Number(i)
  if (!Number.isInteger(n) || n < 0 || n > 9) throw new Error(`Expr: register ${i} is not a literal 0–9`)
  return `r${n}`
}

const functions: Record<string, { readonly arity: number; readonly js: (args: ReadonlyArray<string>) => string }> = {
  st: { arity: 2, js: ([i, v]) => `(${register(i!)}=${v})` },
  ld: { arity: 1, js: ([i]) => register(i!) },
  if: { arity: 3, js: ([c, a, b]) => `((${c})!==0?${a}:${b})` },
  lt: { arity: 2, js: ([a, b]) => `((${a})<(${b})?1:0)` },
  gt: { arity: 2, js: ([a, b]) => `((${a})>(${b})?1:0)` },
  min: { arity: 2, js: ([a, b]) => `Math.min(${a},${b})` },
  max: { arity: 2, js: ([a, b]) => `Math.max(${a},${b})` },
  abs: { arity: 1, js: ([a]) => `Math.abs(${a})` },
  // Math.hypot takes any number of arguments and is several times slower than this in V8.
  hypot: { arity: 2, js: ([a, b]) => `hyp(${a},${b})` },
  clip: { arity: 3, js: ([v, lo, hi]) => `Math.min(Math.max(${v},${lo}),${hi})` }
}

/** Compiles an expression to JavaScript source over `X`, `Y` and the registers `R`. */
const compile = (source: string): string => {
  const tokens = tokenize(source)
  let i = 0
  const peek = () => tokens[i]
  const isOp = (value: string) => peek()?.kind === "op" && peek()!.value === value
  const expect = (value: string) => {
    if (!isOp(value)) throw new Error(`Expr: expected "${value}" in ${source.slice(0, 60)}`)
    i++
  }
  const sequence = (): string => {
    const parts = [sum()]
    while (isOp(";")) {
      i++
      parts.push(sum())
    }
    return parts.length === 1 ? parts[0]! : `(${parts.join(",")})`
  }
  /** A left-associative level: `next` joined by any of `ops`. */
  const level = (ops: ReadonlyArray<string>, next: () => string) => (): string => {
    let e = next()
    while (ops.some(isOp)) {
      const op = tokens[i++]!.value
      e = `(${e}${op}${next()})`
    }
    return e
  }
  const product = level(["*", "/"], () => unary())
  const sum = level(["+", "-"], product)
  const unary = (): string => {
    if (isOp("-")) {
      i++
      return `(-${unary()})`
    }
    if (isOp("+")) {
      i++
      return unary()
    }
    return primary()
  }
  const primary = (): string => {
    const t = tokens[i++]
    if (t === undefined) throw new Error(`Expr: ${source.slice(0, 60)} ends early`)
    if (t.kind === "num") return String(t.value)
    if (t.kind === "op") {
      if (t.value !== "(") throw new Error(`Expr: unexpected "${t.value}"`)
      const e = sequence()
      expect(")")
      return `(${e})`
    }
    if (t.value === "X" || t.value === "Y") return t.value
    const f = functions[t.value]
    if (f === undefined) throw new Error(`Expr: unknown name ${t.value}`)
    expect("(")
    const args = [sequence()]
    while (isOp(",")) {
      i++
      args.push(sequence())
    }
    expect(")")
    if (args.length !== f.arity) throw new Error(`Expr: ${t.value} takes ${f.arity} arguments`)
    return f.js(args)
  }
  const body = sequence()
  if (i !== tokens.length) throw new Error(`Expr: trailing input in ${source.slice(0, 60)}`)
  return body
}

/** The expression evaluated at every pixel of a w×h grey picture, as `geq=lum='...'` would draw it. */
export const drawGrey = (expression: string, w: number, h: number): Uint8Array => {
  // Our own expression, compiled once per card: the loop is inside, so the whole picture is one optimized call.
  const draw = new Function(
    "w",
    "h",
    "out",
    `const hyp = (a, b) => Math.sqrt(a * a + b * b)
    let r0 = 0, r1 = 0, r2 = 0, r3 = 0, r4 = 0, r5 = 0, r6 = 0, r7 = 0, r8 = 0, r9 = 0
    for (let Y = 0; Y < h; Y++)
      for (let X = 0; X < w; X++) {
        const v = ${compile(expression)}
        // geq's double-to-uint8 store truncates; NaN (never drawn by the composer) is 0.
        out[Y * w + X] = v >= 255 ? 255 : v > 0 ? Math.trunc(v) : 0
      }`
  ) as (w: number, h: number, out: Uint8Array) => void
  const out = new Uint8Array(w * h)
  draw(w, h, out)
  return out
}
