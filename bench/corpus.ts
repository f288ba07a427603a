/**
 * Corpus preparation at scale: generates a large text file (and a .jsonl.gz of the same text),
 * prepares it with `rankfuse prepare`, then trains a few steps on it, each in its own process, and
 * reports prepare throughput (MB of source per second), peak RSS, and the time from preparation
 * finished to training done. Sizes: RANKFUSE_BENCH_CORPUS_MB (default 64; --quick 8), the llama2
 * tokenizer on RANKFUSE_BENCH_LLAMA_MB (default 16; it is far slower), jsonl.gz when
 * RANKFUSE_BENCH_JSONL=1. The targets: peak RSS ≤ 1 GB, first step within 2 minutes of
 * preparation, bytes ≥ 100 MB/s, llama2 ≥ 5 MB/s.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { createGzip } from "node:zlib";
import { fileURLToPath } from "node:url";
import { gutenbergDir } from "../train/corpus.ts";
import type { SuiteResult } from "./report.ts";

const bin = fileURLToPath(new URL("../cli/bin.js", import.meta.url));
const rssHook = fileURLToPath(new URL("./rssOnExit.mjs", import.meta.url));

/** Text of about `mb` MB: the shipped books' paragraphs, numbered so no two repeats are identical. */
async function writeCorpus(file: string, mb: number, jsonl: boolean): Promise<number> {
  const dir = gutenbergDir();
  const paras = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".txt"))
    .slice(0, 4)
    .flatMap((f) => fs.readFileSync(path.join(dir, f), "latin1").split(/\n\s*\n/));
  const raw = fs.createWriteStream(jsonl ? `${file}` : file);
  const out = jsonl ? createGzip({ level: 1 }) : raw;
  if (jsonl) (out as ReturnType<typeof createGzip>).pipe(raw);
  let written = 0;
  const target = mb * 1e6;
  for (let i = 0; written < target; i++) {
    const text = `${i}. ${paras[i % paras.length]}`;
    const piece = jsonl ? `${JSON.stringify({ text })}\n` : `${text}\n\n`;
    written += Buffer.byteLength(piece);
    if (!out.write(piece)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((r) => {
    raw.once("close", () => r());
    out.end();
  });
  return written;
}

type Measured = { seconds: number; maxRssMB: number; out: string };

function measure(args: string[], cache: string): Measured {
  const t = Date.now();
  const r = spawnSync(process.execPath, ["--import", rssHook, bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, RANKFUSE_CACHE_DIR: cache },
    maxBuffer: 64 << 20,
  });
  const seconds = (Date.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`rankfuse ${args.join(" ")} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const kb = Number(/maxRSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? NaN);
  return { seconds, maxRssMB: kb / 1024, out: r.stdout.trim() };
}

export async function run(opts: { quick?: boolean } = {}): Promise<SuiteResult> {
  const mb = Number(process.env.RANKFUSE_BENCH_CORPUS_MB ?? (opts.quick ? 8 : 64));
  const llamaMb = Number(process.env.RANKFUSE_BENCH_LLAMA_MB ?? (opts.quick ? 2 : 16));
  const withJsonl = process.env.RANKFUSE_BENCH_JSONL === "1";
  const work = fs.mkdtempSync(path.join(process.env.RANKFUSE_BENCH_DIR ?? os.tmpdir(), "rankfuse-corpus-bench-"));
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown>[] = [];
  try {
    const cases: { name: string; file: string; mb: number; tokenizer: string; jsonl: boolean; train: boolean }[] = [
      { name: "txt", file: path.join(work, "big.txt"), mb, tokenizer: "bytes", jsonl: false, train: true },
      { name: "txt", file: path.join(work, "small.txt"), mb: llamaMb, tokenizer: "llama2", jsonl: false, train: false },
    ];
    if (withJsonl)
      cases.push({
        name: "jsonl.gz",
        file: path.join(work, "big.jsonl.gz"),
        mb,
        tokenizer: "bytes",
        jsonl: true,
        train: true,
      });
    for (const c of cases) {
      const textBytes = await writeCorpus(c.file, c.mb, c.jsonl);
      const cache = path.join(work, `cache-${c.name}-${c.tokenizer}`);
      const prep = measure(["prepare", "--data", c.file, "--tokenizer", c.tokenizer], cache);
      const mbps = textBytes / 1e6 / prep.seconds;
      let trainS = NaN;
      let trainRss = NaN;
      if (c.train) {
        const t = measure(
          [
            "train",
            "--data",
            c.file,
            "--tokenizer",
            c.tokenizer,
            "--steps",
            "3",
            "--eval-batches",
            "2",
            "--config",
            "tiny",
          ],
          cache,
        );
        trainS = t.seconds;
        trainRss = t.maxRssMB;
      }
      const row = {
        input: c.name,
        tokenizer: c.tokenizer,
        textMB: +(textBytes / 1e6).toFixed(1),
        fileMB: +(fs.statSync(c.file).size / 1e6).toFixed(1),
        prepareS: +prep.seconds.toFixed(1),
        prepareMBps: +mbps.toFixed(1),
        prepareMaxRssMB: Math.round(prep.maxRssMB),
        train3StepsS: +trainS.toFixed(1),
        trainMaxRssMB: Math.round(trainRss),
      };
      data.push(row);
      rows.push(Object.values(row));
      console.error(`corpus: ${JSON.stringify(row)}`);
      fs.rmSync(c.file, { force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return {
    title: "Corpus preparation: throughput and peak memory",
    headers: [
      "input",
      "tokenizer",
      "text MB",
      "file MB",
      "prepare s",
      "prepare MB/s",
      "prepare max RSS MB",
      "train 3 steps s (from prepared)",
      "train max RSS MB",
    ],
    rows,
    notes: [
      "each command in its own process (node cli/bin.js); max RSS from process.resourceUsage() at exit",
      "MB/s counts UTF-8 text bytes (uncompressed) per second of the whole prepare command",
      "train: 3 steps of the tiny config on the prepared token files, started after preparation finished",
    ],
    data,
  };
}
