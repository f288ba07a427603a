import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { openPrepared, prepareTokens, type Manifest, type PrepareProgress } from "./prepare.ts";
import { tokenizerByName, type Tokenizer } from "./tokenizer.ts";
import { trainError, type TrainError } from "./errors.ts";
import type { TrainData } from "./loop.ts";
import type { TokenSource } from "./tokenSource.ts";

/** Tokenized data and where it came from (corpus, tokenizer, prepared folder). */
export interface LoadedData extends TrainData {
  readonly train: TokenSource;
  readonly val: TokenSource;
  readonly corpus: string;
  readonly fingerprint: string;
  readonly tokenizer: Tokenizer;
  /** True when an earlier preparation was reused as it was. */
  readonly fromCache: boolean;
  /** The prepared folder (token files and manifest.json) the run reads. */
  readonly dir: string;
  readonly manifest: Manifest;
}

/** A folder written by `prepare --out` (it holds a rankfuse manifest.json). */
export const isPreparedDir = (p: string): boolean => {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(p, "manifest.json"), "utf8"));
    return m?.format === "rankfuse-tokens";
  } catch {
    return false;
  }
};

/**
 * Text to token ids: the shipped Gutenberg corpus (or the user's --data: files, a directory, or a folder that
 * `prepare --out` wrote), prepared once into token files in the cache and read window by window from disk.
 * `bytesPerToken` (UTF-8 bytes of validation text per validation token) turns nats per token into
 * bits per byte, which compares across tokenizers.
 */
export async function loadData(opts: {
  data?: string;
  tokenizer?: string;
  textField?: string;
  cacheDir?: string;
  onProgress?: (p: PrepareProgress) => void;
}): Promise<E.Either<TrainError, LoadedData>> {
  const prepared = opts.data !== undefined && isPreparedDir(opts.data);
  let tokName = opts.tokenizer;
  if (prepared && tokName === undefined) {
    const m = JSON.parse(fs.readFileSync(path.join(opts.data!, "manifest.json"), "utf8")) as Manifest;
    tokName = m.tokenizer;
  }
  const tok = await tokenizerByName(tokName ?? "bytes");
  if (E.isLeft(tok)) return tok;
  let dir: string;
  let reused = true;
  if (prepared) dir = path.resolve(opts.data!);
  else {
    const p = await prepareTokens({
      data: opts.data,
      tokenizer: tok.right,
      textField: opts.textField,
      cacheDir: opts.cacheDir,
      onProgress: opts.onProgress,
    });
    if (E.isLeft(p)) return p;
    dir = p.right.dir;
    reused = p.right.reused;
  }
  const open = openPrepared(dir);
  if (E.isLeft(open)) return open;
  const { manifest, train, val } = open.right;
  if (manifest.tokenizer !== tok.right.name)
    return E.left(
      trainError(
        "TokenizerError",
        `${dir} was prepared with the ${manifest.tokenizer} tokenizer, not ${tok.right.name}; prepare it again or drop --tokenizer`,
      ),
    );
  return E.right({
    train,
    val,
    bytesPerToken: manifest.val.textBytes / Math.max(manifest.val.tokens, 1),
    corpus: manifest.corpus,
    fingerprint: manifest.fingerprint,
    tokenizer: tok.right,
    fromCache: reused,
    dir,
    manifest,
  });
}
