/** What the readers of corpus files share: a source file, its split, and where its documents go. */

/** The formats a corpus file can have. */
export type SourceFormat = "text" | "jsonl" | "jsonl.gz" | "parquet";
/** One input file: its path, its name relative to the data root (its id), its format, size and mtime. */
export type SourceFile = { path: string; id: string; format: SourceFormat; size: number; mtimeMs: number };
/** The two splits a corpus is prepared into. */
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

/** A user-caused problem found while reading; prepare turns it into a DataError. */
export class DataFault extends Error {}
