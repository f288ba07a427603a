/** Token files on disk as token sources, read by positional reads (Node only). */
import * as fs from "node:fs";
import { dtypeBytes, type TokenDtype, type TokenSource } from "./tokenSource.ts";

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
