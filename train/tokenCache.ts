/**
 * Tokenized corpora cached on disk. Tokenizing the Gutenberg books with the
 * 32k tokenizer takes ~40 s; the cache makes every later run start
 * instantly. Each split is a raw little-endian Int32 file with a checksum
 * sidecar, so a truncated or corrupt file is rebuilt rather than trained on.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { readVerified, writeVerified } from "./atomicFile.ts";
import type { Corpus } from "./corpus.ts";
import { causeMessage, trainError, type TrainError } from "./errors.ts";
import { sha256Hex } from "../util/hash.ts";
import { fromLittleEndianBytes, toLittleEndianBytes } from "./littleEndian.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** Bump when the encoding of a cache file (or how documents are joined) changes. */
export const TOKEN_CACHE_VERSION = 1;
export const DEFAULT_TOKEN_CACHE_DIR = ".cache/rankfuse/tokens";

/**
 * Text placed between documents: a blank line, which both tokenizers see
 * as a paragraph break. Encoding the joined text (rather than each document)
 * keeps one rule for every tokenizer.
 */
export const DOC_SEPARATOR = "\n\n";

export type TokenSplits = { train: Int32Array; val: Int32Array; fromCache: boolean };

/** File prefix for one (corpus, tokenizer, format) combination. */
export const tokenCacheKey = (corpus: Corpus, tokenizer: Tokenizer): string =>
  sha256Hex(
    `v${TOKEN_CACHE_VERSION}\0${corpus.fingerprint}\0${tokenizer.name}\0${JSON.stringify(DOC_SEPARATOR)}`,
  ).slice(0, 32);

const splitFile = (cacheDir: string, key: string, split: "train" | "val") => path.join(cacheDir, `${key}.${split}.i32`);

/** Both splits from the cache, or Left if either is missing, truncated or corrupt. */
const readCached = (cacheDir: string, key: string): E.Either<TrainError, { train: Int32Array; val: Int32Array }> => {
  const read = (split: "train" | "val") =>
    E.flatMap(readVerified(splitFile(cacheDir, key, split), "token cache", "DataError"), (bytes) =>
      bytes.length % 4 === 0
        ? E.right(fromLittleEndianBytes(Int32Array, bytes))
        : E.left(
            trainError(
              "DataError",
              `token cache ${splitFile(cacheDir, key, split)} has ${bytes.length} bytes, not a multiple of 4`,
            ),
          ),
    );
  return E.flatMap(read("train"), (train) =>
    pipe(
      read("val"),
      E.map((val) => ({ train, val })),
    ),
  );
};

const writeCached = (
  cacheDir: string,
  key: string,
  splits: { train: Int32Array; val: Int32Array },
): E.Either<TrainError, void> => {
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
  } catch (cause) {
    return E.left(trainError("DataError", `cannot create token cache directory ${cacheDir}: ${causeMessage(cause)}`));
  }
  return E.flatMap(
    writeVerified(splitFile(cacheDir, key, "train"), toLittleEndianBytes(splits.train), "DataError"),
    () => writeVerified(splitFile(cacheDir, key, "val"), toLittleEndianBytes(splits.val), "DataError"),
  );
};

/**
 * Token ids of the corpus' train and validation splits, from the cache when
 * a valid entry exists, otherwise encoded and written back (atomically).
 * A cache that cannot be written is an error, not a silent slow path.
 */
export const loadTokens = (
  corpus: Corpus,
  tokenizer: Tokenizer,
  cacheDir: string = DEFAULT_TOKEN_CACHE_DIR,
): E.Either<TrainError, TokenSplits> => {
  const key = tokenCacheKey(corpus, tokenizer);
  const cached = readCached(cacheDir, key);
  if (E.isRight(cached)) return E.right({ ...cached.right, fromCache: true });
  let splits: { train: Int32Array; val: Int32Array };
  try {
    splits = {
      train: tokenizer.encode(corpus.train.join(DOC_SEPARATOR)),
      val: tokenizer.encode(corpus.val.join(DOC_SEPARATOR)),
    };
  } catch (cause) {
    return E.left(
      trainError(
        "TokenizerError",
        `tokenizer ${tokenizer.name} failed on corpus ${corpus.name}: ${causeMessage(cause)}`,
      ),
    );
  }
  return pipe(
    writeCached(cacheDir, key, splits),
    E.map(() => ({ ...splits, fromCache: false })),
  );
};
