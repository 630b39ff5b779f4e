// The `espeak-ng` package ships no types. This is the part of its Emscripten module that Espeak.ts uses.
declare module "espeak-ng" {
  interface ESpeakNgModule {
    readonly FS: { readFile(path: string): Uint8Array }
  }
  interface ESpeakNgOptions {
    arguments: Array<string>
    thisProgram?: string
    print?: (line: string) => void
    printErr?: (line: string) => void
  }
  const ESpeakNg: (options: ESpeakNgOptions) => Promise<ESpeakNgModule>
  export default ESpeakNg
}
