/**
 * The fast path of reading `.jsonl` for a tokenizer that takes bytes: a line that is exactly one object
 * with one string field, `{"text": "..."}` (whitespace allowed), is unescaped straight from its UTF-8
 * bytes into the bytes of the value, as JSON.parse and then UTF-8 encoding would give them, without a
 * string in between. Anything else (other keys, null, numbers, a bad escape, a raw control character,
 * a BOM) is left to JSON.parse, which also gives the error message.
 */

/** JSON's whitespace before and after a token, but for "\n", which ends the line. */
const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0d;

/** Where the line a call of simpleStringField read ends: the index of its "\n", or the end of the bytes. */
export type LineEnd = { lineEnd: number };

const hexValue = (b: number): number =>
  b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1;

/** Four hex digits at `i`, or -1. */
const hex4 = (s: Uint8Array, i: number, end: number): number => {
  if (i + 4 > end) return -1;
  const [a, b, c, d] = [hexValue(s[i]), hexValue(s[i + 1]), hexValue(s[i + 2]), hexValue(s[i + 3])];
  return a < 0 || b < 0 || c < 0 || d < 0 ? -1 : (a << 12) | (b << 8) | (c << 4) | d;
};

/** Writes code point `cp` as UTF-8 at `o`; returns the new end. */
const putUtf8 = (out: Uint8Array, o: number, cp: number): number => {
  if (cp < 0x80) out[o++] = cp;
  else if (cp < 0x800) {
    out[o++] = 0xc0 | (cp >> 6);
    out[o++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[o++] = 0xe0 | (cp >> 12);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  } else {
    out[o++] = 0xf0 | (cp >> 18);
    out[o++] = 0x80 | ((cp >> 12) & 0x3f);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  }
  return o;
};

/** The byte each one-letter escape stands for (0: not one), by the letter after the backslash. */
const SIMPLE_ESCAPES = new Uint8Array(128);
for (const [letter, byte] of [
  ['"', 0x22],
  ["\\", 0x5c],
  ["/", 0x2f],
  ["b", 0x08],
  ["f", 0x0c],
  ["n", 0x0a],
  ["r", 0x0d],
  ["t", 0x09],
] as const)
  SIMPLE_ESCAPES[letter.charCodeAt(0)] = byte;

/** Bytes inside a JSON string: 0 copied as they are, 1 the closing quote, 2 a backslash, 3 a control character. */
const STRING_BYTE = new Uint8Array(256);
STRING_BYTE.fill(3, 0, 0x20);
STRING_BYTE[0x22] = 1;
STRING_BYTE[0x5c] = 2;

/**
 * The key `field` as the bytes a line must hold between its quotes for the fast path, or undefined when
 * JSON would escape some of its characters (such a field always takes JSON.parse).
 */
export const plainKey = (field: string): Uint8Array | undefined =>
  JSON.stringify(field) === `"${field}"` ? new TextEncoder().encode(field) : undefined;

/**
 * The value of the line that starts at `line[from]` (valid UTF-8; it ends at the next "\n" or at `end`)
 * when it is `{"<key>":"<string>"}` with whitespace anywhere JSON allows it: its UTF-8 bytes written to
 * `out` (at least as long as the line), with each "\r\n" turned into "\n" and a lone surrogate escape as
 * U+FFFD (as UTF-8 encoding of the parsed string gives), and the line's end in `pos`. Returns the bytes
 * written, or -1 when the line is any other JSON or not JSON (`pos` is then not set). Finding the line's
 * end here saves a second pass over its bytes; offsets rather than a subarray save an allocation.
 */
export function simpleStringField(
  line: Uint8Array,
  from: number,
  end: number,
  key: Uint8Array,
  out: Uint8Array,
  pos: LineEnd,
): number {
  let i = from;
  while (i < end && isSpace(line[i])) i++;
  if (line[i++] !== 0x7b) return -1; // {
  while (i < end && isSpace(line[i])) i++;
  if (line[i++] !== 0x22) return -1;
  for (let k = 0; k < key.length; k++) if (line[i++] !== key[k]) return -1;
  if (line[i++] !== 0x22) return -1;
  while (i < end && isSpace(line[i])) i++;
  if (line[i++] !== 0x3a) return -1; // :
  while (i < end && isSpace(line[i])) i++;
  if (line[i++] !== 0x22) return -1;
  let o = 0;
  for (;;) {
    if (i >= end) return -1;
    const b = line[i++];
    const kind = STRING_BYTE[b];
    if (kind === 0) {
      out[o++] = b;
      continue;
    }
    if (kind === 1) break;
    if (kind === 3) return -1; // a raw control character: JSON.parse refuses it
    const e = i < end ? line[i++] : 0;
    const simple = e < 128 ? SIMPLE_ESCAPES[e] : 0;
    if (simple !== 0) {
      if (simple === 0x0a && o > 0 && out[o - 1] === 0x0d) o--; // "\r\n" → "\n"
      out[o++] = simple;
      continue;
    }
    if (e !== 0x75) return -1; // not \u: JSON.parse refuses it
    const unit = hex4(line, i, end);
    if (unit < 0) return -1;
    i += 4;
    if (unit >= 0xd800 && unit < 0xdc00 && i + 1 < end && line[i] === 0x5c && line[i + 1] === 0x75) {
      const low = hex4(line, i + 2, end);
      if (low >= 0xdc00 && low < 0xe000) {
        o = putUtf8(out, o, 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00));
        i += 6;
        continue;
      }
    }
    if (unit === 0x0a && o > 0 && out[o - 1] === 0x0d) o--; // "\r\n" → "\n", however escaped
    o = putUtf8(out, o, unit >= 0xd800 && unit < 0xe000 ? 0xfffd : unit);
  }
  while (i < end && isSpace(line[i])) i++;
  if (line[i++] !== 0x7d) return -1; // }
  while (i < end && isSpace(line[i])) i++;
  if (i < end && line[i] !== 0x0a) return -1;
  pos.lineEnd = i;
  return o;
}
