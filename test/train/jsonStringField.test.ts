import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { plainKey, simpleStringField } from "../../train/jsonStringField.ts";

const utf8 = new TextEncoder();
const key = plainKey("text")!;

/** What the reader's JSON.parse path gives for `line`: the value's UTF-8 bytes, or undefined for "not this form". */
const viaParse = (line: string): number[] | undefined => {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  const text = (v as Record<string, unknown>).text;
  if (keys.length !== 1 || typeof text !== "string") return undefined;
  return Array.from(utf8.encode(text.replace(/\r\n/g, "\n")));
};

/** A line as a file holds it: UTF-8, so a lone surrogate left raw reads back as U+FFFD. */
const asStored = (line: string): string => new TextDecoder().decode(utf8.encode(line));

const run = (line: string): number[] | undefined => {
  const bytes = utf8.encode(line);
  const out = new Uint8Array(bytes.length);
  const pos = { lineEnd: -1 };
  const n = simpleStringField(bytes, 0, bytes.length, key, out, pos);
  if (n >= 0) expect(pos.lineEnd).toBe(bytes.length);
  return n < 0 ? undefined : Array.from(out.subarray(0, n));
};

/** Any UTF-16 code unit, lone surrogates included. */
const units = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
  maxLength: 40,
});
const anyText = fc.oneof(
  units,
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("a\r\nb", "\r\r\n", "\r"),
);
const space = fc.constantFrom("", " ", "\t", "  ", "\r");

/** JSON.stringify's string with some characters written as \uXXXX or \/ instead. */
const escaped = (s: string, every: number): string =>
  JSON.stringify(s)
    .slice(1, -1)
    .replace(/\\u[0-9a-f]{4}|\\.|[^\\]/g, (c, i: number) =>
      (i * 7919) % every === 0 && c.length === 1
        ? c === "/"
          ? "\\/"
          : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}`
        : c,
    );

describe("simpleStringField (the byte-level fast path of .jsonl)", () => {
  it("gives the bytes JSON.parse then UTF-8 encoding give, for any text, escaping and whitespace", () => {
    fc.assert(
      fc.property(
        anyText,
        fc.integer({ min: 1, max: 5 }),
        fc.array(space, { minLength: 6, maxLength: 6 }),
        (t, every, ws) => {
          const line = asStored(`${ws[0]}{${ws[1]}"text"${ws[2]}:${ws[3]}"${escaped(t, every)}"${ws[4]}}${ws[5]}`);
          const want = viaParse(line);
          expect(want).toBeDefined();
          expect(run(line)).toEqual(want);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("never gives a value JSON.parse would not (other keys, null, bad escapes, raw control characters, damage)", () => {
    const line = fc.oneof(
      anyText.map((t) => JSON.stringify({ text: t })),
      anyText.map((t) => JSON.stringify({ id: 1, text: t })),
      fc.constantFrom(
        '{"text":null}',
        '{"text":1}',
        '{"text":"a\\x"}',
        '{"text":"a\tb"}',
        '{"text":"\\ud800"}',
        '{"text":"a"} x',
      ),
    );
    fc.assert(
      fc.property(
        line,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 127 }).filter((b) => b !== 0x0a) /* a line holds no "\n" */,
        (l, at, len, byte) => {
          const cut = at % (l.length + 1);
          const damaged = l.slice(0, cut) + (len % 3 === 0 ? String.fromCharCode(byte) : "") + l.slice(cut + (len % 2));
          for (const candidate of [l, damaged].map(asStored)) {
            const got = run(candidate);
            if (got !== undefined) expect(got).toEqual(viaParse(candidate));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("reads one line of several and says where it ends", () => {
    const bytes = utf8.encode('{"text":"a\\nb"} \n{"text":"c"}');
    const out = new Uint8Array(bytes.length);
    const pos = { lineEnd: -1 };
    expect(simpleStringField(bytes, 0, bytes.length, key, out, pos)).toBe(3);
    expect(pos.lineEnd).toBe(bytes.indexOf(0x0a));
    expect(simpleStringField(bytes, pos.lineEnd + 1, bytes.length, key, out, pos)).toBe(1);
    expect(pos.lineEnd).toBe(bytes.length);
    expect(simpleStringField(utf8.encode('{"text":\n"x"}'), 0, 14, key, out, pos)).toBe(-1); // a line ends at "\n"
  });

  it("takes only keys JSON writes without escapes", () => {
    expect(plainKey("text")).toEqual(utf8.encode("text"));
    expect(plainKey('a"b')).toBeUndefined();
    expect(plainKey("tab\there")).toBeUndefined();
  });
});
