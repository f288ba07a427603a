import * as E from "fp-ts/lib/Either.js";
import { loadCorpus } from "./corpus.ts";
import { DOC_SEPARATOR, loadTokens } from "./tokenCache.ts";
import { tokenizerByName, type Tokenizer } from "./tokenizer.ts";
import type { TrainError } from "./errors.ts";
import type { TrainData } from "./loop.ts";

/** Tokenized data and where it came from (corpus, tokenizer, cache). */
export interface LoadedData extends TrainData {
  readonly corpus: string;
  readonly fingerprint: string;
  readonly tokenizer: Tokenizer;
  readonly fromCache: boolean;
}

/**
 * Text to token ids: the shipped Gutenberg corpus (or the user's --data), tokenized and cached on disk.
 * `bytesPerToken` (UTF-8 bytes of validation text per validation token) turns nats per token into
 * bits per byte, which compares across tokenizers.
 */
export async function loadData(opts: {
  data?: string;
  tokenizer?: string;
  cacheDir?: string;
}): Promise<E.Either<TrainError, LoadedData>> {
  const tok = await tokenizerByName(opts.tokenizer ?? "bytes");
  if (E.isLeft(tok)) return tok;
  const corpus = loadCorpus(opts.data ? { data: opts.data } : {});
  if (E.isLeft(corpus)) return corpus;
  const tokens = loadTokens(corpus.right, tok.right, opts.cacheDir);
  if (E.isLeft(tokens)) return tokens;
  const valBytes = Buffer.byteLength(corpus.right.val.join(DOC_SEPARATOR), "utf8");
  return E.right({
    train: tokens.right.train,
    val: tokens.right.val,
    bytesPerToken: valBytes / Math.max(tokens.right.val.length, 1),
    corpus: corpus.right.name,
    fingerprint: corpus.right.fingerprint,
    tokenizer: tok.right,
    fromCache: tokens.right.fromCache,
  });
}
