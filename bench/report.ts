import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { markdownTable } from "../train/reportMarkdown.ts";

/** A benchmark suite's output: one table (printed and saved) plus the raw figures. */
export interface SuiteResult {
  readonly title: string;
  readonly headers: string[];
  readonly rows: (string | number)[][];
  readonly notes?: string[];
  readonly data: unknown;
}

export function machineInfo() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.arch()}`,
  };
}

/** Median and range of repeated measurements (these machines drift, so never a single figure). */
export function stats(xs: readonly number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

export function saveSuite(name: string, r: SuiteResult): string {
  const dir = path.join("bench", "results");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ suite: name, machine: machineInfo(), title: r.title, headers: r.headers, rows: r.rows, notes: r.notes, data: r.data }, null, 1));
  fs.writeFileSync(path.join(dir, `${name}.md`), `# ${r.title}\n\n${markdownTable(r.headers, r.rows)}\n\n${(r.notes ?? []).map((n) => `- ${n}`).join("\n")}\n`);
  return file;
}

/** Cheap deterministic values in [-0.5, 0.5) for benchmark inputs (an LCG: speed, not statistics). */
export function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}
