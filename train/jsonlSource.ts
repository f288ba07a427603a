/**
 * Reading `.jsonl` and `.jsonl.gz`: one document per non-empty line, the string field `--text-field`.
 * gzip is inflated on libuv's threads a megabyte ahead of the parser; a single file's validation cut can
 * be placed from its gzip trailer (declaredUncompressedSize) without a counting pass.
 */
import * as fs from "node:fs";
import { isUtf8 } from "node:buffer";
import { createGunzip } from "node:zlib";
import { causeMessage } from "./errors.ts";
import { plainKey, simpleStringField, type LineEnd } from "./jsonStringField.ts";
import { DataFault, type DocSink, type FileSplit, type SourceFile } from "./sourceFile.ts";

/** Bytes of a file, decompressed when it is gzip. */
async function* fileBytes(file: SourceFile, onRaw: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  const raw = fs.createReadStream(file.path, { highWaterMark: 1 << 20 });
  let rawBytes = 0;
  raw.on("data", (c) => onRaw((rawBytes += c.length)));
  const stream = file.format === "jsonl.gz" ? raw.pipe(createGunzip({ chunkSize: 1 << 20 })) : raw;
  raw.on("error", (e) => stream.destroy(e));
  try {
    // plain Uint8Array views, not Buffers: the byte loops that read them see one array type
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      yield new Uint8Array(b.buffer, b.byteOffset, b.length);
    }
  } catch (cause) {
    throw new DataFault(`cannot read ${file.path}: ${causeMessage(cause)}`);
  }
}

/**
 * The uncompressed size a `.jsonl.gz` declares in its gzip trailer (ISIZE,
 * the size modulo 2^32 of its last member): a guess, read in one positional
 * read, that places the validation cut of a single file without a counting
 * pass. The read itself reports the true size; prepare checks the guess
 * against it and reads again only when they differ (several members, or
 * more than 4 GiB). A file too short to have a trailer guesses 0.
 */
export function declaredUncompressedSize(file: SourceFile): number {
  if (file.size < 18) return 0;
  const fd = fs.openSync(file.path, "r");
  try {
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, file.size - 4);
    return b.readUInt32LE(0);
  } finally {
    fs.closeSync(fd);
  }
}

/** The index (from 0) of the first line of `bytes` that is not valid UTF-8. */
const firstInvalidLine = (bytes: Uint8Array): number => {
  let line = 0;
  let start = 0;
  for (let nl = bytes.indexOf(0x0a); ; nl = bytes.indexOf(0x0a, start)) {
    const end = nl < 0 ? bytes.length : nl;
    if (!isUtf8(bytes.subarray(start, end))) return line;
    if (nl < 0) return line;
    start = nl + 1;
    line++;
  }
};

/**
 * One document per non-empty line; the line's `field` must be a string
 * (null skips the line). Whole lines are decoded a chunk at a time (one
 * decode, not one per line) and parsed line by line; byte offsets, which
 * place the validation cut, are counted on the bytes only in the chunk the
 * cut falls in. Returns the file's (uncompressed) bytes.
 */
export async function readJsonl(file: SourceFile, where: FileSplit, field: string, sink: DocSink): Promise<number> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let carry: Uint8Array = new Uint8Array(0);
  let pos = 0; // uncompressed offset of carry[0]
  let lineNo = 0;
  const cut = where.cut;
  const line = (text: string, val: boolean) => {
    lineNo++;
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a BOM, as a per-line decode would drop it
    if (text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === "")) return;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (cause) {
      throw new DataFault(`${file.path}:${lineNo} is not JSON: ${causeMessage(cause)}`);
    }
    const value =
      record !== null && typeof record === "object" ? (record as Record<string, unknown>)[field] : undefined;
    if (value === null) return;
    if (typeof value !== "string")
      throw new DataFault(
        `${file.path}:${lineNo} has no string field "${field}"${value === undefined ? "" : ` (it is ${typeof value})`}; name the field with --text-field`,
      );
    sink.begin(val ? "val" : where.split);
    sink.text(value.includes("\r\n") ? value.replace(/\r\n/g, "\n") : value);
  };
  /** Whole lines (`bytes` ends at a line's end), starting at uncompressed offset `at`. */
  const lines = (bytes: Uint8Array, at: number) => {
    if (fast) return fastLines(bytes, at);
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      throw new DataFault(`${file.path}:${lineNo + 1 + firstInvalidLine(bytes)} is not valid UTF-8`);
    }
    const straddles = cut !== undefined && at < cut && at + bytes.length > cut;
    const allVal = cut !== undefined && at >= cut;
    let byteStart = 0; // of the current line in `bytes`, tracked only where the cut falls
    let start = 0;
    for (let nl = text.indexOf("\n"); ; nl = text.indexOf("\n", start)) {
      const end = nl < 0 ? text.length : nl;
      line(text.slice(start, end), allVal || (straddles && at + byteStart >= cut));
      if (nl < 0) return;
      start = nl + 1;
      if (straddles) byteStart = bytes.indexOf(0x0a, byteStart) + 1;
    }
  };
  // a sink that takes bytes gets `{"<field>": "..."}` lines unescaped from their bytes (jsonStringField.ts)
  const key = sink.bytes ? plainKey(field) : undefined;
  const fast = key !== undefined;
  let out = new Uint8Array(1 << 16);
  const scan: LineEnd = { lineEnd: 0 };
  const fastLines = (bytes: Uint8Array, at: number) => {
    if (!isUtf8(bytes)) throw new DataFault(`${file.path}:${lineNo + 1 + firstInvalidLine(bytes)} is not valid UTF-8`);
    if (out.length < bytes.length) out = new Uint8Array(bytes.length);
    for (let start = 0; start <= bytes.length;) {
      const val = cut !== undefined && at + start >= cut;
      const n = simpleStringField(bytes, start, bytes.length, key!, out, scan);
      let nl = scan.lineEnd;
      if (n < 0) {
        nl = bytes.indexOf(0x0a, start);
        if (nl < 0) nl = bytes.length;
        line(decoder.decode(bytes.subarray(start, nl)), val);
      } else {
        lineNo++;
        sink.begin(val ? "val" : where.split);
        sink.bytes!(out.subarray(0, n));
      }
      start = nl + 1;
    }
  };
  for await (const chunk of fileBytes(file, (raw) => sink.progress(raw))) {
    const last = chunk.lastIndexOf(0x0a);
    if (last < 0) {
      carry = concat(carry, chunk);
      continue;
    }
    let from = 0;
    if (carry.length > 0) {
      // only the line that spans the chunks is joined; the chunk's other lines are read where they are
      const first = chunk.indexOf(0x0a);
      const joined = concat(carry, chunk.subarray(0, first));
      lines(joined, pos);
      pos += joined.length + 1;
      from = first + 1;
    }
    if (from <= last) {
      const block = chunk.subarray(from, last);
      lines(block, pos);
      pos += block.length + 1;
    }
    carry = Uint8Array.from(chunk.subarray(last + 1)); // a copy: the stream may reuse its buffer
  }
  if (carry.length > 0) lines(carry, pos);
  return pos + carry.length;
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};
