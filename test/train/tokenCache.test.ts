import { describe, it, expect } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { Corpus } from "../../train/corpus.ts";
import { loadTokens, tokenCacheKey, type TokenSplits } from "../../train/tokenCache.ts";
import { byteTokenizer, type Tokenizer } from "../../train/tokenizer.ts";
import { tempDir } from "./tempDir.ts";

const corpus: Corpus = { name: "tiny", train: ["hello", "wörld"], val: ["bye"], fingerprint: "f".repeat(64) };

/** The byte tokenizer, counting encode calls so tests can tell a cache hit from a rebuild. */
const counting = (name = "bytes"): Tokenizer & { calls: number } => {
  const t = { ...byteTokenizer, name, calls: 0 };
  t.encode = (s: string) => (t.calls++, byteTokenizer.encode(s));
  return t;
};
const must = (r: E.Either<{ message: string }, TokenSplits>): TokenSplits => {
  if (E.isLeft(r)) throw new Error(r.left.message);
  return r.right;
};

describe("loadTokens", () => {
  it("encodes documents joined by a blank line, then serves them from the cache", () => {
    const dir = tempDir();
    const tok = counting();
    const first = must(loadTokens(corpus, tok, dir));
    expect(first.fromCache).toBe(false);
    expect(byteTokenizer.decode(first.train)).toBe("hello\n\nwörld");
    expect(byteTokenizer.decode(first.val)).toBe("bye");
    const second = must(loadTokens(corpus, tok, dir));
    expect(second).toEqual({ ...first, fromCache: true });
    expect(tok.calls).toBe(2);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("stores raw little-endian int32", () => {
    const dir = tempDir();
    must(loadTokens(corpus, byteTokenizer, dir));
    const raw = fs.readFileSync(path.join(dir, `${tokenCacheKey(corpus, byteTokenizer)}.val.i32`));
    expect([...raw]).toEqual([98, 0, 0, 0, 121, 0, 0, 0, 101, 0, 0, 0]);
  });

  it("rebuilds a corrupt or truncated cache file instead of using it", () => {
    const dir = tempDir();
    const tok = counting();
    const good = must(loadTokens(corpus, tok, dir));
    const file = path.join(dir, `${tokenCacheKey(corpus, tok)}.train.i32`);
    const bytes = fs.readFileSync(file);
    bytes[4] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const rebuilt = must(loadTokens(corpus, tok, dir));
    expect(rebuilt).toEqual({ ...good, fromCache: false });
    fs.truncateSync(file, 6);
    expect(must(loadTokens(corpus, tok, dir)).fromCache).toBe(false);
    expect(must(loadTokens(corpus, tok, dir))).toEqual({ ...good, fromCache: true });
  });

  it("keys the cache by corpus fingerprint and tokenizer name", () => {
    const dir = tempDir();
    must(loadTokens(corpus, byteTokenizer, dir));
    expect(must(loadTokens(corpus, counting("other"), dir)).fromCache).toBe(false);
    expect(must(loadTokens({ ...corpus, fingerprint: "e".repeat(64) }, byteTokenizer, dir)).fromCache).toBe(false);
  });

  it("reports an unusable cache directory as a DataError", () => {
    const dir = tempDir();
    const blocker = path.join(dir, "file");
    fs.writeFileSync(blocker, "x");
    const r = loadTokens(corpus, byteTokenizer, path.join(blocker, "cache"));
    expect(E.isLeft(r) && r.left.tag).toBe("DataError");
  });

  it("reports a tokenizer failure as a TokenizerError", () => {
    const broken: Tokenizer = {
      ...byteTokenizer,
      name: "broken",
      encode: () => {
        throw new Error("boom");
      },
    };
    const r = loadTokens(corpus, broken, tempDir());
    expect(E.isLeft(r) && r.left).toEqual({
      tag: "TokenizerError",
      message: "tokenizer broken failed on corpus tiny: boom",
    });
  });
});
