import { describe, it, expect } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { loadCorpus, type Corpus, type CorpusOptions } from "../../train/corpus.ts";
import { tempDir } from "./tempDir.ts";

const must = (opts?: CorpusOptions): Corpus => {
  const c = loadCorpus(opts);
  if (E.isLeft(c)) throw new Error(c.left.message);
  return c.right;
};
const failure = (opts: CorpusOptions): string => {
  const c = loadCorpus(opts);
  if (E.isRight(c)) throw new Error("expected a Left");
  expect(c.left.tag).toBe("DataError");
  return c.left.message;
};
const write = (root: string, files: Record<string, string | Uint8Array>) => {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
};

describe("loadCorpus: Gutenberg default", () => {
  it("holds out Persuasion and The Ball and the Cross as whole books", () => {
    const c = must();
    expect(c.name).toBe("gutenberg");
    expect(c.train.length).toBe(16);
    expect(c.val.length).toBe(2);
    expect(c.val[0].startsWith("[Persuasion by Jane Austen")).toBe(true);
    expect(c.val[1]).toMatch(/^\[The Ball and The Cross/);
    expect(c.train.some((t) => t.startsWith("[Persuasion"))).toBe(false);
    expect(c.val[1]).toContain("Brunetière, Coppée"); // this book ships as Latin-1
    expect(c.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(must().fingerprint).toBe(c.fingerprint);
  });
});

describe("loadCorpus: --data", () => {
  it("reads .txt/.md recursively in sorted order, skipping hidden and other files, and holds out whole files", () => {
    const root = tempDir();
    write(root, {
      "b.txt": "bbbb",
      "a.md": "aaaa",
      "sub/c.txt": "cccc",
      "sub/skip.json": "{}",
      ".git/d.txt": "hidden",
      ".e.txt": "hidden",
    });
    const c = must({ data: root, valFraction: 0.2 });
    expect(c.name).toBe(path.basename(root));
    expect(c.train).toEqual(["aaaa", "bbbb"]);
    expect(c.val).toEqual(["cccc"]);
  });

  it("holds out the tail of a single file, normalizing CRLF", () => {
    const root = tempDir();
    write(root, { "one.txt": "0123456789\r\n".repeat(10) });
    const c = must({ data: path.join(root, "one.txt"), valFraction: 0.1 });
    expect(c.train.join("") + c.val.join("")).toBe("0123456789\n".repeat(10));
    expect(c.val[0].length).toBe(11);
  });

  it("changes the fingerprint when content or split changes", () => {
    const root = tempDir();
    write(root, { "a.txt": "hello world, some text", "b.txt": "more text" });
    const f1 = must({ data: root }).fingerprint;
    expect(must({ data: root }).fingerprint).toBe(f1);
    write(root, { "b.txt": "more text!" });
    const f2 = must({ data: root }).fingerprint;
    expect(f2).not.toBe(f1);
    const single = path.join(root, "a.txt");
    expect(must({ data: single, valFraction: 0.1 }).fingerprint).not.toBe(
      must({ data: single, valFraction: 0.5 }).fingerprint,
    );
  });

  it("refuses missing paths, empty directories, binary and non-UTF-8 files, naming the path", () => {
    const root = tempDir();
    expect(failure({ data: path.join(root, "missing") })).toMatch(/cannot read data path .*missing/);
    fs.mkdirSync(path.join(root, "empty"));
    expect(failure({ data: path.join(root, "empty") })).toMatch(/no \.txt or \.md files under .*empty/);
    write(root, { "bin/x.txt": Uint8Array.of(104, 105, 0, 1), "latin/y.txt": Uint8Array.of(0x63, 0x61, 0x66, 0xe9) });
    expect(failure({ data: path.join(root, "bin") })).toMatch(/bin\/x\.txt looks binary \(NUL byte at offset 2\)/);
    expect(failure({ data: path.join(root, "latin") })).toMatch(/latin\/y\.txt is not valid UTF-8/);
    write(root, { "blank/a.txt": "", "blank/b.txt": "" });
    expect(failure({ data: path.join(root, "blank") })).toMatch(/no training text/);
    expect(failure({ data: path.join(root, "latin"), valFraction: 1 })).toMatch(/valFraction/);
  });
});
