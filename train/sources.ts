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
import * as E from "fp-ts/lib/Either.js";
import { causeMessage, trainError, type TrainError } from "./errors.ts";
import { readJsonl } from "./jsonlSource.ts";
import { DataFault, type DocSink, type FileSplit, type SourceFile, type SourceFormat } from "./sourceFile.ts";
import { ByteChunker, TextChunker } from "./utf8Chunkers.ts";

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

/**
 * Regular files under `dir` whose names `accept` takes, recursively, skipping dot-files and
 * dot-directories (.git, caches), in code-point order.
 */
export const walkCorpusFiles = (dir: string, accept: (name: string) => boolean): string[] => {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walkCorpusFiles(full, accept));
    else if (entry.isFile() && accept(entry.name)) out.push(full);
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
    const files = walkCorpusFiles(root, (name) => formatOf(name) !== undefined).map((f) => describe(f, fs.statSync(f)));
    return files.length > 0
      ? E.right(files)
      : dataError(`no .txt, .md, .jsonl, .jsonl.gz or .parquet files under ${root}`);
  } catch (cause) {
    return dataError(`cannot read data path ${root}: ${causeMessage(cause)}`);
  }
};

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
