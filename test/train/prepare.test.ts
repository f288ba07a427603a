import { describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import * as E from "fp-ts/lib/Either.js";
import fc from "fast-check";
import { parquetWriteFile } from "hyparquet-writer";
import { DOC_SEPARATOR, prepareTokens, openPrepared, type PrepareOptions, type Prepared } from "../../train/prepare.ts";
import { loadCorpus } from "../../train/corpus.ts";
import { byteTokenizer, type Tokenizer } from "../../train/tokenizer.ts";
import { TextChunker } from "../../train/utf8Chunkers.ts";
import { arraySource, type TokenSource } from "../../train/tokenSource.ts";
import { BatchSampler, evalWindows } from "../../train/batches.ts";
import { tempDir } from "./tempDir.ts";

const must = async (opts: PrepareOptions): Promise<Prepared> => {
  const p = await prepareTokens(opts);
  if (E.isLeft(p)) throw new Error(p.left.message);
  return p.right;
};
const readAll = (src: TokenSource): number[] => {
  const out = new Int32Array(src.length);
  src.read(0, src.length, out, 0);
  return Array.from(out);
};
const tokensOf = (p: Prepared) => {
  const o = openPrepared(p.dir);
  if (E.isLeft(o)) throw new Error(o.left.message);
  return { train: readAll(o.right.train), val: readAll(o.right.val) };
};
const bytes = (s: string) => Array.from(new TextEncoder().encode(s));

describe("TextChunker", () => {
  it("decodes UTF-8 split anywhere across chunks and CRLF across chunk boundaries, like decoding the whole", () => {
    const text = fc.string({ unit: fc.constantFrom("a", "\r", "\n", "é", "€", "😀", " ", "\r\n"), maxLength: 60 });
    fc.assert(
      fc.property(text, fc.array(fc.nat(20), { maxLength: 8 }), (s, cuts) => {
        const b = new TextEncoder().encode(s);
        const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
        const ch = new TextChunker("t");
        let out = "";
        let prev = 0;
        for (const p of [...points, b.length]) {
          out += ch.push(b.subarray(prev, p));
          prev = p;
        }
        out += ch.end();
        expect(out).toBe(s.replace(/\r\n/g, "\n"));
      }),
    );
  });
});

describe("prepareTokens", () => {
  it("shipped books: the token files equal whole-text encoding of the in-memory corpus, id for id", async () => {
    const cacheDir = tempDir();
    const p = await must({ tokenizer: byteTokenizer, cacheDir });
    const c = loadCorpus();
    if (E.isLeft(c)) throw new Error(c.left.message);
    const o = openPrepared(p.dir);
    if (E.isLeft(o)) throw new Error(o.left.message);
    const whole = byteTokenizer.encode(c.right.train.join(DOC_SEPARATOR));
    expect(o.right.train.length).toBe(whole.length);
    // same windows from the file as from memory, so the default run's batches are unchanged
    const opts = { seqLen: 64, batch: 4, seed: 0 };
    const a = new BatchSampler(o.right.train, opts);
    const b = new BatchSampler(whole, opts);
    for (let i = 0; i < 5; i++) expect(a.next()).toEqual(b.next());
    expect(evalWindows(o.right.val, 64, 4, 2)).toEqual(
      evalWindows(byteTokenizer.encode(c.right.val.join("\n\n")), 64, 4, 2),
    );
    expect(p.manifest.fingerprint).toBe(c.right.fingerprint);
    expect(p.manifest.dtype).toBe("uint16");
    expect((await must({ tokenizer: byteTokenizer, cacheDir })).reused).toBe(true);
  });

  it("reads .txt, .jsonl, .jsonl.gz and .parquet with a text field, holding out whole last files", async () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, "a.txt"), "héllo\r\nworld");
    fs.writeFileSync(path.join(root, "b.jsonl"), '{"text":"one"}\n\n{"body":1,"text":"two"}\n{"text":null}\n');
    fs.writeFileSync(path.join(root, "c.jsonl.gz"), gzipSync('{"text":"gz€"}\n{"text":"last"}'));
    parquetWriteFile({
      filename: path.join(root, "d.parquet"),
      columnData: [
        { name: "text", data: ["pq1", "pq2", "pq3"], type: "STRING" },
        { name: "n", data: [1, 2, 3], type: "INT32" },
      ],
    });
    fs.writeFileSync(path.join(root, "skip.json"), "{}");
    const p = await must({ data: root, tokenizer: byteTokenizer, cacheDir: tempDir(), valFraction: 0.01 });
    const t = tokensOf(p);
    expect(p.manifest.sources.map((s) => [s.id, s.format, s.split])).toEqual([
      ["a.txt", "text", "train"],
      ["b.jsonl", "jsonl", "train"],
      ["c.jsonl.gz", "jsonl.gz", "train"],
      ["d.parquet", "parquet", "val"],
    ]);
    expect(t.train).toEqual(bytes(["héllo\nworld", "one", "two", "gz€", "last"].join("\n\n")));
    expect(t.val).toEqual(bytes("pq1\n\npq2\n\npq3"));
    expect(p.manifest.val.textBytes).toBe(13);
  });

  it("holds out the tail of a single file of each format", async () => {
    const root = tempDir();
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    fs.writeFileSync(path.join(root, "t.txt"), lines.join("\n"));
    fs.writeFileSync(path.join(root, "t.jsonl"), lines.map((l) => JSON.stringify({ body: l })).join("\n"));
    fs.writeFileSync(path.join(root, "t.jsonl.gz"), gzipSync(lines.map((l) => JSON.stringify({ text: l })).join("\n")));
    parquetWriteFile({
      filename: path.join(root, "t.parquet"),
      columnData: [{ name: "text", data: lines, type: "STRING" }],
    });
    const cacheDir = tempDir();
    const txt = tokensOf(
      await must({ data: path.join(root, "t.txt"), tokenizer: byteTokenizer, cacheDir, valFraction: 0.1 }),
    );
    expect(txt.train.concat(txt.val)).toEqual(bytes(lines.join("\n")));
    expect(txt.val.length).toBe(Math.round(lines.join("\n").length * 0.1));
    const jl = tokensOf(
      await must({
        data: path.join(root, "t.jsonl"),
        textField: "body",
        tokenizer: byteTokenizer,
        cacheDir,
        valFraction: 0.1,
      }),
    );
    expect(jl.val).toEqual(bytes(lines.slice(18).join("\n\n")));
    const gz = tokensOf(
      await must({ data: path.join(root, "t.jsonl.gz"), tokenizer: byteTokenizer, cacheDir, valFraction: 0.1 }),
    );
    expect(gz.val).toEqual(jl.val);
    const pq = tokensOf(
      await must({ data: path.join(root, "t.parquet"), tokenizer: byteTokenizer, cacheDir, valFraction: 0.1 }),
    );
    expect(pq.val).toEqual(jl.val);
    expect(pq.train).toEqual(bytes(lines.slice(0, 18).join("\n\n")));
  });

  it("refuses a missing text field, bad JSON, binary text and non-regular files, naming the file", async () => {
    const root = tempDir();
    const cacheDir = tempDir();
    const fail = async (name: string, content: string | Uint8Array, extra: Partial<PrepareOptions> = {}) => {
      fs.writeFileSync(path.join(root, name), content);
      const p = await prepareTokens({ data: path.join(root, name), tokenizer: byteTokenizer, cacheDir, ...extra });
      if (E.isRight(p)) throw new Error("expected a Left");
      expect(p.left.tag).toBe("DataError");
      expect(p.left.message).toContain(name);
      return p.left.message;
    };
    expect(await fail("a.jsonl", '{"body":"x"}\n')).toMatch(/a.jsonl:1 has no string field "text".*--text-field/);
    expect(await fail("b.jsonl", "{oops\n")).toMatch(/b.jsonl:1 is not JSON/);
    expect(await fail("c.txt", new Uint8Array([104, 0, 105]))).toMatch(/looks binary/);
    expect(await fail("d.txt", new Uint8Array([104, 0xff, 105]))).toMatch(/not valid UTF-8/);
    const dev = await prepareTokens({ data: "/dev/zero", tokenizer: byteTokenizer, cacheDir });
    expect(E.isLeft(dev) && dev.left.message).toMatch(/character device/);
  });

  it("reuses a prepared corpus while its sources match, and prepares again when one changes", async () => {
    const root = tempDir();
    const cacheDir = tempDir();
    fs.writeFileSync(path.join(root, "a.txt"), "first file ".repeat(50));
    fs.writeFileSync(path.join(root, "b.txt"), "second file ".repeat(5));
    const opts = { data: root, tokenizer: byteTokenizer, cacheDir };
    const first = await must(opts);
    expect(first.reused).toBe(false);
    expect((await must(opts)).reused).toBe(true);
    fs.writeFileSync(path.join(root, "b.txt"), "changed ".repeat(5));
    const again = await must(opts);
    expect(again.reused).toBe(false);
    expect(again.dir).toBe(first.dir); // replaced in place, not piled up
    expect(again.manifest.fingerprint).not.toBe(first.manifest.fingerprint);
    expect(tokensOf(again).val).toEqual(bytes("changed ".repeat(5)));
    const other = await must({ ...opts, tokenizer: { ...byteTokenizer, name: "bytes2" } });
    expect(other.dir).not.toBe(first.dir);
    expect(fs.readdirSync(cacheDir).sort()).toHaveLength(2);
  });

  it("continues a killed preparation after its last finished file, or restarts cleanly when the sources changed", async () => {
    const root = tempDir();
    const cacheDir = tempDir();
    for (const [i, f] of ["a", "b", "c", "d"].entries())
      fs.writeFileSync(path.join(root, `${f}.txt`), `${f} `.repeat(100 + i));
    const opts = { data: root, tokenizer: byteTokenizer, cacheDir };
    const clean = tokensOf(await must({ ...opts, cacheDir: tempDir() }));
    // a tokenizer that dies on the third file, as a killed process would
    let calls = 0;
    const dying: Tokenizer = {
      ...byteTokenizer,
      encoder: () => ({
        push: (t, emit) => {
          if (t.startsWith("c ") && calls++ === 0) throw new Error("killed");
          emit(new TextEncoder().encode(t));
        },
        end: () => {},
        state: () => ({ pending: "", started: false }),
      }),
    };
    const dead = await prepareTokens({ ...opts, tokenizer: dying });
    expect(E.isLeft(dead)).toBe(true);
    const partial = fs.readdirSync(cacheDir).find((e) => e.endsWith(".partial"))!;
    expect(partial).toBeDefined();
    // garbage past the recorded progress (a write the kill interrupted) is cut off
    fs.appendFileSync(path.join(cacheDir, partial, "train.bin"), Buffer.alloc(6, 7));
    const resumed = await must({ ...opts, tokenizer: dying });
    expect(resumed.resumedFiles).toBe(2);
    expect(tokensOf(resumed)).toEqual(clean);
    expect(fs.readdirSync(cacheDir)).toEqual([partial.replace(".partial", "")]);

    // an interrupted run whose sources then change starts over
    calls = 0;
    fs.writeFileSync(path.join(root, "a.txt"), "new ".repeat(100));
    expect(E.isLeft(await prepareTokens({ ...opts, tokenizer: dying }))).toBe(true);
    fs.writeFileSync(path.join(root, "b.txt"), "newer ".repeat(100));
    const restarted = await must({ ...opts, tokenizer: dying });
    expect(restarted.resumedFiles).toBe(0);
    expect(tokensOf(restarted).train.slice(0, 4)).toEqual(bytes("new "));
  });

  it("writes uint32 token files for vocabularies over 65,536", async () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, "a.txt"), "abcdefghij".repeat(20));
    const big: Tokenizer = {
      ...byteTokenizer,
      name: "big",
      vocabSize: 100_000,
      encode: (t) => Int32Array.from(new TextEncoder().encode(t), (b) => b + 70_000),
      encoder: undefined,
    };
    const p = await must({ data: path.join(root, "a.txt"), tokenizer: big, cacheDir: tempDir() });
    expect(p.manifest.dtype).toBe("uint32");
    expect(tokensOf(p).train.slice(0, 3)).toEqual([97 + 70_000, 98 + 70_000, 99 + 70_000]);
  });
});

describe("BatchSampler over a token source", () => {
  it("an array and its TokenSource give the same batches and resume state", () => {
    const tokens = Int32Array.from({ length: 5000 }, (_, i) => (i * 7) % 1000);
    const opts = { seqLen: 16, batch: 3, seed: 9 };
    const a = new BatchSampler(tokens, opts);
    const b = new BatchSampler(arraySource(tokens), opts);
    for (let i = 0; i < 200; i++) expect(a.next()).toEqual(b.next());
    expect(a.state()).toEqual(b.state());
  });
});
