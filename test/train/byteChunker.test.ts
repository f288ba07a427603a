import { describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import fc from "fast-check";
import { ByteChunker, TextChunker } from "../../train/utf8Chunkers.ts";
import { prepareTokens, openPrepared } from "../../train/prepare.ts";
import { byteTokenizer, type Tokenizer } from "../../train/tokenizer.ts";
import { tempDir } from "./tempDir.ts";

type Run = { out: number[]; error?: string };

/** The general path: TextChunker's strings, as the byte tokenizer encodes them. */
const general = (chunks: Uint8Array[]): Run => {
  const c = new TextChunker("f.txt");
  const out: number[] = [];
  try {
    for (const b of chunks) out.push(...byteTokenizer.encode(c.push(b)));
    out.push(...byteTokenizer.encode(c.end()));
  } catch (e) {
    return { out, error: (e as Error).message };
  }
  return { out };
};

/**
 * The byte path: ByteChunker's bytes, copied at once (they are only valid
 * during the call). Chunks arrive in one reused Buffer, as readText reads
 * them, scribbled over after each push.
 */
const fast = (chunks: Uint8Array[]): Run => {
  const c = new ByteChunker("f.txt");
  const out: number[] = [];
  const emit = (b: Uint8Array) => out.push(...b);
  const buf = Buffer.alloc(Math.max(0, ...chunks.map((b) => b.length)));
  try {
    for (const b of chunks) {
      buf.set(b);
      c.push(buf.subarray(0, b.length), emit);
      buf.fill(0xaa);
    }
    c.end(emit);
  } catch (e) {
    return { out, error: (e as Error).message };
  }
  return { out };
};

const split = (b: Uint8Array, size: number): Uint8Array[] => {
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.slice(i, i + size));
  return out;
};

const enc = (s: string) => Array.from(new TextEncoder().encode(s));
const valid = fc.constantFrom(
  ...["a", " ", "\r", "\n", "\r\n", "\r\r\n", "é", "€", "😀", "日本", "\uFEFF", "\u07FF", "\uFFFF", "\u{10FFFF}"].map(
    enc,
  ),
);
// bytes no valid UTF-8 text holds where they stand: NUL, stray continuations, bad leads, overlongs, surrogates, > U+10FFFF, cut characters
const invalid = fc.constantFrom(
  [0],
  [0x80],
  [0xbf],
  [0xc0, 0x80],
  [0xc1],
  [0xc3],
  [0xe0, 0x80, 0x80],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xf0, 0x80],
  [0xf0, 0x9f, 0x98],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5],
  [0xff],
);
const texts = fc
  .array(fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: invalid }), { maxLength: 30 })
  .map((units) => Uint8Array.from(units.flat()));

describe("ByteChunker equals TextChunker then the byte tokenizer, id for id and refusal for refusal", () => {
  it("with chunk boundaries at every position (chunks of 1..7 bytes)", () => {
    fc.assert(
      fc.property(texts, (b) => {
        for (let size = 1; size <= 7; size++) expect(fast(split(b, size))).toEqual(general(split(b, size)));
        expect(fast([b])).toEqual(general([b]));
      }),
      { numRuns: 400 },
    );
  });

  it("with arbitrary cuts, empty chunks included", () => {
    fc.assert(
      fc.property(texts, fc.array(fc.nat(60), { maxLength: 8 }), (b, cuts) => {
        const points = cuts.map((c) => c % (b.length + 1)).sort((x, y) => x - y);
        const chunks: Uint8Array[] = [];
        let prev = 0;
        for (const p of [...points, b.length]) {
          chunks.push(b.slice(prev, p));
          prev = p;
        }
        expect(fast(chunks)).toEqual(general(chunks));
      }),
      { numRuns: 400 },
    );
  });

  it("names the same byte ranges", () => {
    const bad = Uint8Array.from([...enc("ab€"), 0xe2, 0x28, ...enc("cd")]);
    const r = fast(split(bad, 4));
    expect(r).toEqual(general(split(bad, 4)));
    expect(r.error).toBe("f.txt is not valid UTF-8 text (in bytes 4..8)");
    expect(fast(split(Uint8Array.from([0x61, 0x62, 0x63, 0, 0x64]), 2)).error).toBe(
      "f.txt looks binary (NUL byte at offset 3); expected UTF-8 text",
    );
    expect(fast([Uint8Array.from([0x61, 0xe2, 0x82])]).error).toBe(
      "f.txt is not valid UTF-8 text (it ends inside a character)",
    );
  });
});

describe("prepareTokens: the byte path writes what the string path writes", () => {
  // the byte tokenizer without pushBytes: the reader decodes to strings
  const viaStrings: Tokenizer = {
    ...byteTokenizer,
    encoder: () => ({
      push: (t, emit) => emit(new TextEncoder().encode(t)),
      end: () => {},
      state: () => ({ pending: "", started: false }),
    }),
  };
  const prepare = async (file: string, tokenizer: Tokenizer) => {
    const p = await prepareTokens({ data: file, tokenizer, cacheDir: tempDir(), valFraction: 0.3 });
    if (E.isLeft(p)) return { error: p.left.message };
    const o = openPrepared(p.right.dir);
    if (E.isLeft(o)) throw new Error(o.left.message);
    const read = (s: { length: number; read: (a: number, n: number, out: Int32Array, at: number) => void }) => {
      const out = new Int32Array(s.length);
      s.read(0, s.length, out, 0);
      return Array.from(out);
    };
    const { train, val, createdAt: _, ...manifest } = p.right.manifest;
    return { train: read(o.right.train), val: read(o.right.val), manifest, infos: [train, val] };
  };

  it("for text with multi-byte characters, CRLF and a BOM, cut into train and val", async () => {
    const root = tempDir();
    const file = path.join(root, "t.txt");
    fs.writeFileSync(file, "\uFEFFhéllo\r\nwörld 😀\r\n\r\n日本\r\r\n€".repeat(50));
    expect(await prepare(file, byteTokenizer)).toEqual(await prepare(file, viaStrings));
  });

  it("refuses NUL and invalid UTF-8 with the same messages", async () => {
    const root = tempDir();
    for (const [name, content] of [
      ["nul.txt", Uint8Array.from([...enc("abc"), 0, 0x61])],
      ["bad.txt", Uint8Array.from([...enc("ab€"), 0xe2, 0x28])],
      ["cut.txt", Uint8Array.from([...enc("ab"), 0xf0, 0x9f])],
    ] as const) {
      const file = path.join(root, name);
      fs.writeFileSync(file, content);
      const a = await prepare(file, byteTokenizer);
      expect(a.error).toContain(name);
      expect(a).toEqual(await prepare(file, viaStrings));
    }
  });
});
