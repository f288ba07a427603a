/**
 * `.jsonl` and `.jsonl.gz` read a chunk at a time: the documents, the validation cut (placed by the gzip
 * trailer's declared size, checked by the read) and the errors' line numbers equal reading line by line.
 */
import { describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import * as E from "fp-ts/lib/Either.js";
import fc from "fast-check";
import { DOC_SEPARATOR, openPrepared, prepareTokens, type Prepared } from "../../train/prepare.ts";
import { byteTokenizer } from "../../train/tokenizer.ts";
import type { TokenSource } from "../../train/tokenSource.ts";
import { tempDir } from "./tempDir.ts";

const readAll = (src: TokenSource): number[] => {
  const out = new Int32Array(src.length);
  src.read(0, src.length, out, 0);
  return Array.from(out);
};
const prepared = async (data: string, cacheDir: string, valFraction = 0.1): Promise<Prepared> => {
  const p = await prepareTokens({ data, tokenizer: byteTokenizer, cacheDir, valFraction });
  if (E.isLeft(p)) throw new Error(p.left.message);
  return p.right;
};
const splits = (p: Prepared) => {
  const o = openPrepared(p.dir);
  if (E.isLeft(o)) throw new Error(o.left.message);
  const text = (s: TokenSource) => Buffer.from(readAll(s)).toString("utf8");
  return { train: text(o.right.train), val: text(o.right.val) };
};

/** What a line-by-line reader makes of `file`'s lines: each document whole, split by the line's start byte. */
const expected = (lines: string[], valFraction: number) => {
  const total = Buffer.byteLength(lines.join("\n"));
  const cut = Math.round(total * (1 - valFraction));
  const train: string[] = [];
  const val: string[] = [];
  let at = 0;
  for (const l of lines) {
    const text = l.trim() === "" ? null : (JSON.parse(l) as { text: string | null }).text;
    if (text !== null) (at >= cut ? val : train).push(text.replace(/\r\n/g, "\n"));
    at += Buffer.byteLength(l) + 1;
  }
  return { train: train.join(DOC_SEPARATOR), val: val.join(DOC_SEPARATOR) };
};

const line = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: "binary", maxLength: 300 }).map((text) => JSON.stringify({ text })) },
  { weight: 1, arbitrary: fc.constantFrom("", "  ", '{"text":null}', '\t{"id":1,"text":"a\\r\\nb"}\r') },
);

describe("jsonl read a chunk at a time", () => {
  it("gives the documents and the validation cut of a line-by-line read (several gzip chunks, any text)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 400, maxLength: 900 }), async (lines) => {
        const all = lines.join("\n");
        const want = expected(lines, 0.1);
        fc.pre(want.train !== "" && want.val !== "");
        const root = tempDir();
        fs.writeFileSync(path.join(root, "d.jsonl.gz"), gzipSync(all));
        const p = await prepared(path.join(root, "d.jsonl.gz"), tempDir());
        expect(splits(p)).toEqual(want);
        expect(p.manifest.sources[0].declaredSize).toBe(Buffer.byteLength(all));
        fs.rmSync(root, { recursive: true });
      }),
      { numRuns: 6 },
    );
  });

  it("joins lines across read chunks (several MB; one line longer than a chunk), .jsonl and .jsonl.gz alike", async () => {
    const lines = fc
      .sample(line, { numRuns: 20_000, seed: 7 })
      .map((l, i) => (i % 997 === 0 ? JSON.stringify({ text: `${i} ` + "é".repeat(40_000) }) : l));
    lines[5000] = JSON.stringify({ text: "long ".repeat(300_000) }); // 1.5 MB: longer than a read chunk
    const all = lines.join("\n");
    expect(Buffer.byteLength(all)).toBeGreaterThan(3 << 20);
    const root = tempDir();
    fs.writeFileSync(path.join(root, "big.jsonl"), all);
    fs.writeFileSync(path.join(root, "big.jsonl.gz"), gzipSync(all));
    const want = expected(lines, 0.1);
    expect(splits(await prepared(path.join(root, "big.jsonl"), tempDir()))).toEqual(want);
    expect(splits(await prepared(path.join(root, "big.jsonl.gz"), tempDir()))).toEqual(want);
  });

  it("reads a multi-member .jsonl.gz again with the true cut when its trailer's size is not the file's, then reuses it", async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ text: `document ${i} é 日本` }));
    const root = tempDir();
    const cacheDir = tempDir();
    const first = lines.slice(0, 2500).join("\n") + "\n";
    const second = lines.slice(2500).join("\n");
    const file = path.join(root, "m.jsonl.gz");
    fs.writeFileSync(file, Buffer.concat([gzipSync(first), gzipSync(second)]));
    const p = await prepared(file, cacheDir);
    expect(p.manifest.sources[0].declaredSize).toBe(Buffer.byteLength(second)); // the last member's only
    expect(p.manifest.sources[0].cut).toBe(Math.round(Buffer.byteLength(first + second) * 0.9));
    expect(splits(p)).toEqual(expected(lines, 0.1));
    const again = await prepared(file, cacheDir);
    expect(again.reused).toBe(true);
    expect(again.dir).toBe(p.dir);
  });

  it("names the line of invalid UTF-8 and of bad JSON deep in a file", async () => {
    const root = tempDir();
    const good = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ text: `line ${i} ü` }));
    const bad = (at: number, raw: Buffer) =>
      Buffer.concat([
        Buffer.from(good.slice(0, at).join("\n") + "\n"),
        raw,
        Buffer.from("\n" + good.slice(at).join("\n")),
      ]);
    const fail = async (name: string, content: Buffer) => {
      fs.writeFileSync(path.join(root, name), name.endsWith(".gz") ? gzipSync(content) : content);
      const p = await prepareTokens({ data: path.join(root, name), tokenizer: byteTokenizer, cacheDir: tempDir() });
      if (E.isRight(p)) throw new Error("expected a Left");
      return p.left.message;
    };
    expect(await fail("u.jsonl.gz", bad(4321, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])))).toMatch(
      /u\.jsonl\.gz:4322 is not valid UTF-8/,
    );
    expect(await fail("j.jsonl", bad(3999, Buffer.from("{nope")))).toMatch(/j\.jsonl:4000 is not JSON/);
  });
});
