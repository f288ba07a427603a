/** The token file of one split as preparation writes it: documents encoded in a stream, appended through a fixed buffer. */
import * as fs from "node:fs";
import { streamEncoder, type EncoderState, type StreamEncoder, type Tokenizer } from "./tokenizer.ts";
import { dtypeBytes, type TokenDtype } from "./tokenSource.ts";

/**
 * Text placed between documents: a blank line, which both tokenizers see as
 * a paragraph break. Documents of a split are encoded as one text joined by
 * it, so every tokenizer follows one rule.
 */
export const DOC_SEPARATOR = "\n\n";

const utf8 = new TextEncoder();

/** Where a split's writer got to: enough to continue it after a kill. */
export type WriterState = { tokens: number; textBytes: number; documents: number; encoder: EncoderState };

/** Tokens of one split, appended to its file through a fixed buffer. */
export class SplitWriter {
  private readonly fd: number;
  private readonly buf: Uint16Array | Uint32Array;
  private n = 0;
  private scratch = new Uint8Array(0);
  tokens: number;
  textBytes: number;
  documents: number;
  private readonly encoder: StreamEncoder;
  readonly emit = (ids: ArrayLike<number>): void => {
    for (let i = 0; i < ids.length;) {
      const take = Math.min(ids.length - i, this.buf.length - this.n);
      if (ids instanceof Uint8Array || ids instanceof Int32Array || ids instanceof Uint32Array)
        this.buf.set(ids.subarray(i, i + take), this.n);
      else for (let k = 0; k < take; k++) this.buf[this.n + k] = ids[i + k];
      this.n += take;
      i += take;
      if (this.n === this.buf.length) this.flush();
    }
  };

  constructor(
    readonly file: string,
    dtype: TokenDtype,
    tokenizer: Tokenizer,
    from?: WriterState,
  ) {
    const width = dtypeBytes(dtype);
    this.fd = fs.openSync(file, from ? "r+" : "w");
    if (from) fs.ftruncateSync(this.fd, from.tokens * width);
    this.buf = dtype === "uint16" ? new Uint16Array(1 << 20) : new Uint32Array(1 << 20);
    this.tokens = from?.tokens ?? 0;
    this.textBytes = from?.textBytes ?? 0;
    this.documents = from?.documents ?? 0;
    this.encoder = streamEncoder(tokenizer, from?.encoder);
  }

  begin(): void {
    if (this.documents++ > 0) this.text(DOC_SEPARATOR);
  }

  text(s: string): void {
    if (s.length === 0) return;
    if (this.encoder.pushBytes) {
      // encoded once into a reused buffer (3 bytes per UTF-16 unit at most) instead of counted and then encoded
      if (this.scratch.length < 3 * s.length) this.scratch = new Uint8Array(Math.max(3 * s.length, 1 << 16));
      return this.bytes(this.scratch.subarray(0, utf8.encodeInto(s, this.scratch).written));
    }
    this.textBytes += Buffer.byteLength(s, "utf8");
    this.encoder.push(s, this.emit);
  }

  /** Whether `bytes` skips decoding (the encoder reads UTF-8 bytes). */
  get takesBytes(): boolean {
    return this.encoder.pushBytes !== undefined;
  }

  /** Text as valid UTF-8 bytes; decoded first for an encoder that only takes strings. */
  bytes(b: Uint8Array): void {
    if (b.length === 0) return;
    if (!this.encoder.pushBytes) return this.text(Buffer.from(b.buffer, b.byteOffset, b.length).toString("utf8"));
    this.textBytes += b.length;
    this.encoder.pushBytes(b, this.emit);
  }

  /** Everything so far on disk (fsync'd); the state to continue from. */
  checkpoint(): WriterState {
    this.flush();
    fs.fsyncSync(this.fd);
    return { tokens: this.tokens, textBytes: this.textBytes, documents: this.documents, encoder: this.encoder.state() };
  }

  finish(): void {
    this.encoder.end(this.emit);
    this.checkpoint();
    fs.closeSync(this.fd);
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private flush(): void {
    if (this.n === 0) return;
    const bytes = new Uint8Array(this.buf.buffer, 0, this.n * this.buf.BYTES_PER_ELEMENT);
    const at = this.tokens * this.buf.BYTES_PER_ELEMENT; // explicit: a continued file is opened at 0
    for (let off = 0; off < bytes.length;) off += fs.writeSync(this.fd, bytes, off, bytes.length - off, at + off);
    this.tokens += this.n;
    this.n = 0;
  }
}
