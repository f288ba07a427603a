/**
 * Token streams the sampler reads windows from: an in-memory Int32Array, or
 * a token file on disk read by positional reads (train/tokenFile.ts), so
 * memory stays flat whatever the corpus size. Both are one interface, so
 * the sampler and the validation windows have one code path. This file
 * imports no Node module: the playground's bundle samples from arrays.
 */

/** Element type of a token file: uint16 when the vocabulary fits (nanoGPT's train.bin), else uint32. */
export type TokenDtype = "uint16" | "uint32";

export const dtypeBytes = (dtype: TokenDtype): number => (dtype === "uint16" ? 2 : 4);
/** The narrowest dtype that holds every id of a vocabulary of `vocabSize`. */
export const dtypeFor = (vocabSize: number): TokenDtype => (vocabSize <= 65536 ? "uint16" : "uint32");

/** A read-only sequence of token ids. */
export interface TokenSource {
  readonly length: number;
  /** Copy tokens [start, start + count) into `out` at `outOffset`. */
  read(start: number, count: number, out: Int32Array, outOffset: number): void;
}

/** Token ids as the sampler takes them: an array in memory or any TokenSource. */
export type TokenData = Int32Array | TokenSource;

/** An Int32Array as a TokenSource. */
export const arraySource = (tokens: Int32Array): TokenSource => ({
  length: tokens.length,
  read: (start, count, out, outOffset) => out.set(tokens.subarray(start, start + count), outOffset),
});

export const asTokenSource = (data: TokenData): TokenSource => (data instanceof Int32Array ? arraySource(data) : data);
