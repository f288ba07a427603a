/**
 * The token file of one split as preparation writes it: documents encoded in a stream, appended through
 * buffers that are written in the background (positional writes on libuv's threads), so the page-cache
 * copies of a multi-GB token file overlap with reading and tokenizing instead of following them.
 */
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

/** Buffers of 1M tokens written at once, at most: beyond that a flush writes in the foreground (backpressure). */
const MAX_IN_FLIGHT = 4;
/** Buffers between background write-backs (fdatasync on libuv's threads): 64 MB of uint16 tokens. */
const SYNC_EVERY = 32;

/** Tokens of one split, appended to its file through buffers written in the background. */
export class SplitWriter {
  private readonly fd: number;
  private buf: Uint16Array | Uint32Array;
  private readonly spare: (Uint16Array | Uint32Array)[] = [];
  private inFlight = 0;
  private failed: unknown;
  private idle: (() => void)[] = [];
  private n = 0;
  private flushes = 0;
  private closed = false;
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

  /** Everything so far on disk (fsync'd); the state to continue from. A failed background write throws here. */
  async checkpoint(): Promise<WriterState> {
    this.flush();
    await this.drained();
    fs.fsyncSync(this.fd);
    return { tokens: this.tokens, textBytes: this.textBytes, documents: this.documents, encoder: this.encoder.state() };
  }

  async finish(): Promise<void> {
    this.encoder.end(this.emit);
    await this.checkpoint();
    this.closeFile();
  }

  /** Closes the file once its background writes are done (after a failure: nothing more is kept). */
  async close(): Promise<void> {
    await this.drained().catch(() => {});
    this.closeFile();
  }

  private closeFile(): void {
    if (!this.closed) fs.closeSync(this.fd);
    this.closed = true;
  }

  /** Resolves when no write is in flight; rejects with the first write that failed. */
  private drained(): Promise<void> {
    const settle = () => (this.failed === undefined ? Promise.resolve() : Promise.reject(this.failed));
    return this.inFlight === 0 ? settle() : new Promise<void>((r) => this.idle.push(r)).then(settle);
  }

  private flush(): void {
    if (this.failed !== undefined) throw this.failed;
    if (this.n === 0) return;
    const width = this.buf.BYTES_PER_ELEMENT;
    const bytes = new Uint8Array(this.buf.buffer, 0, this.n * width);
    const at = this.tokens * width; // explicit: a continued file is opened at 0
    this.tokens += this.n;
    this.n = 0;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      for (let off = 0; off < bytes.length;) off += fs.writeSync(this.fd, bytes, off, bytes.length - off, at + off);
      return;
    }
    const full = this.buf;
    this.buf =
      this.spare.pop() ?? (full instanceof Uint16Array ? new Uint16Array(full.length) : new Uint32Array(full.length));
    this.inFlight++;
    const done = (err: unknown) => {
      this.failed ??= err ?? undefined;
      this.spare.push(full);
      if (--this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
    };
    const write = (off: number) =>
      fs.write(this.fd, bytes, off, bytes.length - off, at + off, (err, n) =>
        err ? done(err) : off + n < bytes.length ? write(off + n) : done(null),
      );
    write(0);
    if (++this.flushes % SYNC_EVERY === 0) this.syncInBackground();
  }

  /** Starts writing back what is written so far, so the fsync of the next checkpoint has little left to wait for. */
  private syncInBackground(): void {
    this.inFlight++;
    fs.fdatasync(this.fd, (err) => {
      this.failed ??= err ?? undefined;
      if (--this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
    });
  }
}
