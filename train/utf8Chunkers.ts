/**
 * Bytes read in chunks, as text: a character split between two chunks is joined, NUL bytes are refused
 * as binary, invalid UTF-8 is refused with its byte range, CRLF becomes LF even across chunks.
 * TextChunker gives strings; ByteChunker gives the same text as UTF-8 bytes, for tokenizers that read
 * bytes.
 */
import { isUtf8 } from "node:buffer";
import { DataFault } from "./sourceFile.ts";

/**
 * Bytes to text: UTF-8 decoded in a stream (a character split between two
 * chunks is joined), NUL bytes refused as binary, CRLF turned into LF even
 * when "\r" ends one chunk and "\n" starts the next.
 */
export class TextChunker {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  private cr = false;
  private offset = 0;

  constructor(private readonly file: string) {}

  push(bytes: Uint8Array): string {
    const nul = bytes.indexOf(0);
    if (nul >= 0)
      throw new DataFault(`${this.file} looks binary (NUL byte at offset ${this.offset + nul}); expected UTF-8 text`);
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: true });
    } catch {
      throw new DataFault(
        `${this.file} is not valid UTF-8 text (in bytes ${this.offset}..${this.offset + bytes.length})`,
      );
    }
    this.offset += bytes.length;
    return this.normalize(text);
  }

  end(): string {
    let text: string;
    try {
      text = this.decoder.decode();
    } catch {
      throw new DataFault(`${this.file} is not valid UTF-8 text (it ends inside a character)`);
    }
    const tail = this.normalize(text) + (this.cr ? "\r" : "");
    this.cr = false;
    return tail;
  }

  private normalize(text: string): string {
    if (this.cr) text = "\r" + text;
    this.cr = text.endsWith("\r");
    if (this.cr) text = text.slice(0, -1);
    return text.includes("\r\n") ? text.replace(/\r\n/g, "\n") : text;
  }
}

/** Bytes a UTF-8 sequence led by `lead` has (1 for a byte that cannot lead, so validation refuses it). */
const seqLength = (lead: number): number => (lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf8 ? 4 : 1);

/**
 * Whether `tail` (a lead byte and fewer continuation bytes than it needs)
 * can still become a valid character: it is completed with the smallest
 * bytes valid in each position and checked whole.
 */
const validPrefix = (tail: Uint8Array): boolean => {
  const lead = tail[0];
  const done = new Uint8Array(seqLength(lead));
  done.set(tail);
  for (let i = tail.length; i < done.length; i++)
    done[i] = i === 1 && lead === 0xe0 ? 0xa0 : i === 1 && lead === 0xf0 ? 0x90 : 0x80;
  return isUtf8(done);
};

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/**
 * TextChunker without the string: the same bytes in, the UTF-8 bytes of
 * TextChunker's text out (a leading BOM dropped, CRLF turned into LF even
 * across chunks), the same refusals with the same messages. Validation runs
 * on the bytes up to the last whole character; an unfinished one is carried
 * into the next chunk. Emitted arrays are only valid during the call.
 */
export class ByteChunker {
  private carry: Uint8Array = new Uint8Array(0);
  private cr = false;
  private start = true;
  private offset = 0;
  private scratch: Uint8Array = new Uint8Array(0);

  constructor(private readonly file: string) {}

  push(bytes: Uint8Array, emit: (b: Uint8Array) => void): void {
    const nul = bytes.indexOf(0);
    if (nul >= 0)
      throw new DataFault(`${this.file} looks binary (NUL byte at offset ${this.offset + nul}); expected UTF-8 text`);
    let data = bytes;
    if (this.carry.length > 0) {
      data = new Uint8Array(this.carry.length + bytes.length);
      data.set(this.carry);
      data.set(bytes, this.carry.length);
    }
    // the last character's lead byte, if it is not all here
    let whole = data.length;
    for (let i = data.length - 1; i >= 0 && i >= data.length - 4; i--) {
      if ((data[i] & 0xc0) === 0x80) continue;
      if (i + seqLength(data[i]) > data.length) whole = i;
      break;
    }
    const body = data.subarray(0, whole);
    const tail = data.subarray(whole);
    if (!isUtf8(body) || (tail.length > 0 && !validPrefix(tail)))
      throw new DataFault(
        `${this.file} is not valid UTF-8 text (in bytes ${this.offset}..${this.offset + bytes.length})`,
      );
    this.carry = Uint8Array.from(tail); // a copy: Buffer#slice would be a view of the reused read buffer
    this.offset += bytes.length;
    this.normalize(body, emit);
  }

  end(emit: (b: Uint8Array) => void): void {
    if (this.carry.length > 0) throw new DataFault(`${this.file} is not valid UTF-8 text (it ends inside a character)`);
    if (this.cr) emit(Uint8Array.of(0x0d));
    this.cr = false;
  }

  private normalize(body: Uint8Array, emit: (b: Uint8Array) => void): void {
    if (body.length === 0) return;
    if (this.start) {
      this.start = false;
      if (body.length >= 3 && body[0] === UTF8_BOM[0] && body[1] === UTF8_BOM[1] && body[2] === UTF8_BOM[2]) {
        body = body.subarray(3);
        if (body.length === 0) return;
      }
    }
    if (this.cr && body[0] !== 0x0a) emit(Uint8Array.of(0x0d));
    let end = body.length;
    this.cr = body[end - 1] === 0x0d;
    if (this.cr) end--;
    const first = body.indexOf(0x0d);
    if (first < 0 || first >= end) {
      if (end > 0) emit(body.subarray(0, end));
      return;
    }
    // drop every "\r" followed by "\n"
    if (this.scratch.length < end) this.scratch = new Uint8Array(Math.max(end, body.length));
    const out = this.scratch;
    let o = 0;
    let from = 0; // start of the bytes not yet copied
    for (let cr = first; cr >= 0 && cr < end; cr = body.indexOf(0x0d, cr + 1)) {
      if (body[cr + 1] !== 0x0a) continue;
      out.set(body.subarray(from, cr), o);
      o += cr - from;
      from = cr + 1;
    }
    out.set(body.subarray(from, end), o);
    o += end - from;
    emit(out.subarray(0, o));
  }
}
