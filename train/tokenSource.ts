/**
 * Token streams the sampler reads windows from: an in-memory Int32Array, or
 * a token file on disk read by positional reads (fs.readSync at an offset),
 * so memory stays flat whatever the corpus size. Both are one interface, so
 * the sampler and the validation windows have one code path.
 */
import * as fs from "node:fs";

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

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A little-endian token file (uint16 or uint32) read window by window. The
 * file descriptor stays open for the life of the process (one per split);
 * a file that shrinks under a run is an error on the read that notices it.
 */
export const fileTokenSource = (file: string, dtype: TokenDtype): TokenSource => {
  const width = dtypeBytes(dtype);
  const size = fs.statSync(file).size;
  if (size % width !== 0) throw new RangeError(`token file ${file} has ${size} bytes, not a multiple of ${width}`);
  const fd = fs.openSync(file, "r");
  let buf = Buffer.alloc(0);
  return {
    length: size / width,
    read(start, count, out, outOffset) {
      const bytes = count * width;
      if (buf.length < bytes) buf = Buffer.from(new ArrayBuffer(bytes)); // offset 0: aligned views
      let got = 0;
      while (got < bytes) {
        const n = fs.readSync(fd, buf, got, bytes - got, start * width + got);
        if (n === 0)
          throw new RangeError(`token file ${file} ended at token ${start + got / width} (was it truncated?)`);
        got += n;
      }
      if (littleEndian) {
        const view =
          width === 2
            ? new Uint16Array(buf.buffer, buf.byteOffset, count)
            : new Uint32Array(buf.buffer, buf.byteOffset, count);
        for (let i = 0; i < count; i++) out[outOffset + i] = view[i];
      } else {
        for (let i = 0; i < count; i++)
          out[outOffset + i] = width === 2 ? buf.readUInt16LE(i * 2) : buf.readUInt32LE(i * 4);
      }
    },
  };
};
