import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import fc from "fast-check";
import { byteTokenizer, loadLlama2Tokenizer, streamEncoder, type Tokenizer } from "../../train/tokenizer.ts";

/** Feed `text` in pieces cut at `cuts` (code unit offsets, never inside a surrogate pair), resuming from saved state midway. */
const streamed = (tok: Tokenizer, text: string, cuts: number[]): number[] => {
  const out: number[] = [];
  const emit = (ids: ArrayLike<number>) => out.push(...Array.from(ids));
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))]
    .filter((c) => !(c > 0 && c < text.length && /[\uDC00-\uDFFF]/.test(text[c])))
    .sort((a, b) => a - b);
  let enc = streamEncoder(tok);
  let prev = 0;
  for (const [i, p] of [...points, text.length].entries()) {
    enc.push(text.slice(prev, p), emit);
    prev = p;
    if (i === 1) enc = streamEncoder(tok, JSON.parse(JSON.stringify(enc.state()))); // as a continued preparation would
  }
  enc.end(emit);
  return out;
};

const texts = fc.string({
  unit: fc.constantFrom("a", "b", "the", " ", "  ", "\n", "\n\n", "é", "€", "😀", "ß", "日本", ".", "\t"),
  maxLength: 80,
});

describe("stream encoders equal whole-text encoding, id for id", () => {
  it("bytes", () => {
    fc.assert(
      fc.property(texts, fc.array(fc.nat(100), { maxLength: 6 }), (t, cuts) => {
        expect(streamed(byteTokenizer, t, cuts)).toEqual(Array.from(byteTokenizer.encode(t)));
      }),
    );
  });

  it("llama2", async () => {
    const tok = await loadLlama2Tokenizer();
    if (E.isLeft(tok)) throw new Error(tok.left.message);
    fc.assert(
      fc.property(texts, fc.array(fc.nat(100), { maxLength: 6 }), (t, cuts) => {
        expect(streamed(tok.right, t, cuts)).toEqual(Array.from(tok.right.encode(t)));
      }),
      { numRuns: 150 },
    );
  });
});
