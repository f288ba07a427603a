/**
 * Source files of a corpus and how to read their documents in a stream:
 * `.txt`/`.md` (one document per file; any other extension named directly
 * counts as text), `.jsonl` and `.jsonl.gz` (one document per line, the
 * string field `textField`), `.parquet` (one document per row of the
 * column `textField`, read row group by row group). Nothing is ever held
 * whole: text arrives in chunks of at most CHUNK_BYTES.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isUtf8 } from "node:buffer";
import { createGunzip } from "node:zlib";
import * as E from "fp-ts/lib/Either.js";
import { causeMessage, trainError, type TrainError } from "./errors.ts";
import { plainKey, simpleStringField, type LineEnd } from "./jsonStringField.ts";

export type SourceFormat = "text" | "jsonl" | "jsonl.gz" | "parquet";
/** One input file: its path, its name relative to the data root (its id), its format, size and mtime. */
export type SourceFile = { path: string; id: string; format: SourceFormat; size: number; mtimeMs: number };
export type Split = "train" | "val";

/** Where a reader's text goes: `begin` starts a document of a split, `text` appends to it. */
export interface DocSink {
  begin(split: Split): void;
  text(s: string): void;
  /**
   * Appends text given as UTF-8 bytes (validated, CRLF already turned into
   * LF), read synchronously: the bytes may be overwritten after the call.
   * Offered only when the tokenizer reads bytes; readers then skip decoding.
   */
  bytes?(b: Uint8Array): void;
  /** Source bytes consumed so far in this file (for progress). */
  progress(bytes: number): void;
}

/** How much of one file is validation: all, none, or what lies at/after `cut` (bytes of text, or rows of parquet). */
export type FileSplit = { split: Split; cut?: number };

export const CHUNK_BYTES = 4 << 20;

const dataError = (message: string) => E.left(trainError("DataError", message));

export const formatOf = (name: string): SourceFormat | undefined =>
  /\.(txt|md)$/i.test(name)
    ? "text"
    : /\.jsonl$/i.test(name)
      ? "jsonl"
      : /\.jsonl\.gz$/i.test(name)
        ? "jsonl.gz"
        : /\.parquet$/i.test(name)
          ? "parquet"
          : undefined;

const kindOf = (st: fs.Stats): string =>
  st.isFIFO()
    ? "a FIFO"
    : st.isCharacterDevice()
      ? "a character device"
      : st.isBlockDevice()
        ? "a block device"
        : st.isSocket()
          ? "a socket"
          : "not a regular file";

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Regular corpus files under `dir`, recursively, skipping dot-files and dot-directories, in code-point order. */
const walk = (dir: string): string[] => {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else if (entry.isFile() && formatOf(entry.name)) out.push(full);
  }
  return out.sort(byCodePoint);
};

/**
 * The corpus files at `root`: the file itself (any extension reads as text
 * unless it names another format) or a directory's corpus files. Anything
 * that is not a regular file (a FIFO, /dev/zero) is refused before it is
 * opened, so a read can never block or run forever.
 */
export const listSources = (root: string): E.Either<TrainError, SourceFile[]> => {
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch (cause) {
    return dataError(`cannot read data path ${root}: ${causeMessage(cause)}`);
  }
  const describe = (file: string, s: fs.Stats): SourceFile => ({
    path: file,
    id: st.isDirectory() ? path.relative(root, file) : path.basename(file),
    format: formatOf(file) ?? "text",
    size: s.size,
    mtimeMs: s.mtimeMs,
  });
  if (!st.isDirectory()) {
    if (!st.isFile()) return dataError(`--data ${root} is ${kindOf(st)}; give a regular file or a directory`);
    return E.right([describe(root, st)]);
  }
  try {
    const files = walk(root).map((f) => describe(f, fs.statSync(f)));
    return files.length > 0
      ? E.right(files)
      : dataError(`no .txt, .md, .jsonl, .jsonl.gz or .parquet files under ${root}`);
  } catch (cause) {
    return dataError(`cannot read data path ${root}: ${causeMessage(cause)}`);
  }
};

/**
 * Bytes to text: UTF-8 decoded in a stream (a character split between two
 * chunks is joined), NUL bytes refused as binary, CRLF turned into LF even
 * when "\r" ends one chunk and "\n" starts the next.
 */
export class TextChunker {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  private cr = false;
  private offset = 0;

  constructor(private readonly file: string) {}

  push(bytes: Uint8Array): string {
    const nul = bytes.indexOf(0);
    if (nul >= 0)
      throw new DataFault(`${this.file} looks binary (NUL byte at offset ${this.offset + nul}); expected UTF-8 text`);
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: true });
    } catch {
      throw new DataFault(
        `${this.file} is not valid UTF-8 text (in bytes ${this.offset}..${this.offset + bytes.length})`,
      );
    }
    this.offset += bytes.length;
    return this.normalize(text);
  }

  end(): string {
    let text: string;
    try {
      text = this.decoder.decode();
    } catch {
      throw new DataFault(`${this.file} is not valid UTF-8 text (it ends inside a character)`);
    }
    const tail = this.normalize(text) + (this.cr ? "\r" : "");
    this.cr = false;
    return tail;
  }

  private normalize(text: string): string {
    if (this.cr) text = "\r" + text;
    this.cr = text.endsWith("\r");
    if (this.cr) text = text.slice(0, -1);
    return text.includes("\r\n") ? text.replace(/\r\n/g, "\n") : text;
  }
}

/** Bytes a UTF-8 sequence led by `lead` has (1 for a byte that cannot lead, so validation refuses it). */
const seqLength = (lead: number): number => (lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf8 ? 4 : 1);

/**
 * Whether `tail` (a lead byte and fewer continuation bytes than it needs)
 * can still become a valid character: it is completed with the smallest
 * bytes valid in each position and checked whole.
 */
const validPrefix = (tail: Uint8Array): boolean => {
  const lead = tail[0];
  const done = new Uint8Array(seqLength(lead));
  done.set(tail);
  for (let i = tail.length; i < done.length; i++)
    done[i] = i === 1 && lead === 0xe0 ? 0xa0 : i === 1 && lead === 0xf0 ? 0x90 : 0x80;
  return isUtf8(done);
};

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/**
 * TextChunker without the string: the same bytes in, the UTF-8 bytes of
 * TextChunker's text out (a leading BOM dropped, CRLF turned into LF even
 * across chunks), the same refusals with the same messages. Validation runs
 * on the bytes up to the last whole character; an unfinished one is carried
 * into the next chunk. Emitted arrays are only valid during the call.
 */
export class ByteChunker {
  private carry: Uint8Array = new Uint8Array(0);
  private cr = false;
  private start = true;
  private offset = 0;
  private scratch: Uint8Array = new Uint8Array(0);

  constructor(private readonly file: string) {}

  push(bytes: Uint8Array, emit: (b: Uint8Array) => void): void {
    const nul = bytes.indexOf(0);
    if (nul >= 0)
      throw new DataFault(`${this.file} looks binary (NUL byte at offset ${this.offset + nul}); expected UTF-8 text`);
    let data = bytes;
    if (this.carry.length > 0) {
      data = new Uint8Array(this.carry.length + bytes.length);
      data.set(this.carry);
      data.set(bytes, this.carry.length);
    }
    // the last character's lead byte, if it is not all here
    let whole = data.length;
    for (let i = data.length - 1; i >= 0 && i >= data.length - 4; i--) {
      if ((data[i] & 0xc0) === 0x80) continue;
      if (i + seqLength(data[i]) > data.length) whole = i;
      break;
    }
    const body = data.subarray(0, whole);
    const tail = data.subarray(whole);
    if (!isUtf8(body) || (tail.length > 0 && !validPrefix(tail)))
      throw new DataFault(
        `${this.file} is not valid UTF-8 text (in bytes ${this.offset}..${this.offset + bytes.length})`,
      );
    this.carry = Uint8Array.from(tail); // a copy: Buffer#slice would be a view of the reused read buffer
    this.offset += bytes.length;
    this.normalize(body, emit);
  }

  end(emit: (b: Uint8Array) => void): void {
    if (this.carry.length > 0) throw new DataFault(`${this.file} is not valid UTF-8 text (it ends inside a character)`);
    if (this.cr) emit(Uint8Array.of(0x0d));
    this.cr = false;
  }

  private normalize(body: Uint8Array, emit: (b: Uint8Array) => void): void {
    if (body.length === 0) return;
    if (this.start) {
      this.start = false;
      if (body.length >= 3 && body[0] === UTF8_BOM[0] && body[1] === UTF8_BOM[1] && body[2] === UTF8_BOM[2]) {
        body = body.subarray(3);
        if (body.length === 0) return;
      }
    }
    if (this.cr && body[0] !== 0x0a) emit(Uint8Array.of(0x0d));
    let end = body.length;
    this.cr = body[end - 1] === 0x0d;
    if (this.cr) end--;
    const first = body.indexOf(0x0d);
    if (first < 0 || first >= end) {
      if (end > 0) emit(body.subarray(0, end));
      return;
    }
    // drop every "\r" followed by "\n"
    if (this.scratch.length < end) this.scratch = new Uint8Array(Math.max(end, body.length));
    const out = this.scratch;
    let o = 0;
    let from = 0; // start of the bytes not yet copied
    for (let cr = first; cr >= 0 && cr < end; cr = body.indexOf(0x0d, cr + 1)) {
      if (body[cr + 1] !== 0x0a) continue;
      out.set(body.subarray(from, cr), o);
      o += cr - from;
      from = cr + 1;
    }
    out.set(body.subarray(from, end), o);
    o += end - from;
    emit(out.subarray(0, o));
  }
}

/** A user-caused problem found while reading; prepare turns it into a DataError. */
export class DataFault extends Error {}

const isContinuation = (b: number) => (b & 0xc0) === 0x80;

/** TextChunker into `sink.text`, or ByteChunker into `sink.bytes` when the sink takes bytes. */
const chunkerFor = (file: string, sink: DocSink) => {
  const emit = sink.bytes?.bind(sink);
  if (emit) {
    const c = new ByteChunker(file);
    return { push: (b: Uint8Array) => c.push(b, emit), end: () => c.end(emit) };
  }
  const c = new TextChunker(file);
  return {
    push: (b: Uint8Array) => sink.text(c.push(b)),
    end: () => sink.text(c.end()),
    pushEnd: (b: Uint8Array) => sink.text(c.push(b) + c.end()),
  };
};

/** A text file as one document (or two, train then val, around byte `cut`). */
async function readText(file: SourceFile, where: FileSplit, sink: DocSink): Promise<void> {
  const fd = fs.openSync(file.path, "r");
  try {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let chunker = chunkerFor(file.path, sink);
    let pos = 0;
    let split = where.cut !== undefined && where.cut <= 0 ? "val" : where.split;
    sink.begin(split);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      let bytes = buf.subarray(0, n);
      const cut = where.cut;
      if (split === "train" && cut !== undefined && cut < pos + n) {
        // move the cut off a UTF-8 continuation byte and out of a CRLF pair
        let c = Math.max(0, cut - pos);
        while (c < n && (isContinuation(bytes[c]) || (bytes[c] === 0x0a && c > 0 && bytes[c - 1] === 0x0d))) c++;
        if (c < n) {
          if (chunker.pushEnd) chunker.pushEnd(bytes.subarray(0, c));
          else {
            chunker.push(bytes.subarray(0, c));
            chunker.end();
          }
          chunker = chunkerFor(file.path, sink);
          split = "val";
          sink.begin("val");
          bytes = bytes.subarray(c);
        }
      }
      chunker.push(bytes);
      pos += n;
      sink.progress(pos);
    }
    chunker.end();
  } finally {
    fs.closeSync(fd);
  }
}

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
async function readJsonl(file: SourceFile, where: FileSplit, field: string, sink: DocSink): Promise<number> {
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

/** One document per row of the column `field`, a row group at a time; null rows are skipped. */
async function readParquet(file: SourceFile, where: FileSplit, field: string, sink: DocSink): Promise<number> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } = await import("hyparquet");
  const { compressors } = await import("hyparquet-compressors");
  let buffer, metadata;
  try {
    buffer = await asyncBufferFromFile(file.path);
    metadata = await parquetMetadataAsync(buffer);
  } catch (cause) {
    throw new DataFault(`${file.path} is not a readable parquet file: ${causeMessage(cause)}`);
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  if (!columns.includes(field))
    throw new DataFault(
      `${file.path} has no column "${field}" (columns: ${columns.join(", ")}); name the text column with --text-field`,
    );
  const utf8Loose = new TextDecoder("utf-8");
  let row = 0;
  let bytes = 0;
  for (const group of metadata.row_groups) {
    const rows = Number(group.num_rows);
    let values: unknown[][] = [];
    try {
      await parquetRead({
        file: buffer,
        metadata,
        columns: [field],
        rowStart: row,
        rowEnd: row + rows,
        compressors,
        onComplete: (r: unknown[][]) => void (values = r),
      });
    } catch (cause) {
      throw new DataFault(`cannot read ${file.path} (rows ${row}..${row + rows}): ${causeMessage(cause)}`);
    }
    for (const [value] of values) {
      const at = row++;
      if (value === null || value === undefined) continue;
      const text =
        typeof value === "string" ? value : value instanceof Uint8Array ? utf8Loose.decode(value) : undefined;
      if (text === undefined)
        throw new DataFault(
          `${file.path}: column "${field}" holds ${typeof value}, not text; name the text column with --text-field`,
        );
      sink.begin(where.cut !== undefined && at >= where.cut ? "val" : where.split);
      sink.text(text.includes("\r\n") ? text.replace(/\r\n/g, "\n") : text);
    }
    bytes += Number(group.total_compressed_size ?? 0);
    sink.progress(Math.min(bytes, file.size));
  }
  return row;
}

/** Rows of a parquet file, from its footer. */
export async function parquetRows(file: SourceFile): Promise<number> {
  const { asyncBufferFromFile, parquetMetadataAsync } = await import("hyparquet");
  try {
    return Number((await parquetMetadataAsync(await asyncBufferFromFile(file.path))).num_rows);
  } catch (cause) {
    throw new DataFault(`${file.path} is not a readable parquet file: ${causeMessage(cause)}`);
  }
}

/**
 * Stream the documents of one file into `sink`. Throws DataFault on bad
 * content. Resolves to the bytes read: uncompressed for `.jsonl.gz`, the
 * file's size for text, its rows for parquet (the units of `FileSplit.cut`).
 */
export const readSource = async (
  file: SourceFile,
  where: FileSplit,
  textField: string,
  sink: DocSink,
): Promise<number> =>
  file.format === "text"
    ? (await readText(file, where, sink), file.size)
    : file.format === "parquet"
      ? readParquet(file, where, textField, sink)
      : readJsonl(file, where, textField, sink);
