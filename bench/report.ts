import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { loadNativeAddon } from "../backends/native/build.ts";
import { markdownTable } from "../report/markdownTable.ts";
import type { SuiteChart } from "./charts.ts";
import { writeSummary, type SavedSuite } from "./summary.ts";

/** A benchmark suite's output: one table (printed and saved), the raw figures, and the charts it asks for. */
export interface SuiteResult {
  readonly title: string;
  readonly headers: string[];
  readonly rows: (string | number)[][];
  readonly notes?: string[];
  readonly data: unknown;
  readonly charts?: SuiteChart[];
  /** Facts only this suite learns (a peer's BLAS, its framework's version), merged into the machine record. */
  readonly machine?: Record<string, unknown>;
}

/** Versions of the packages the suites measure, read from node_modules (a missing one says so). */
export function packageVersions(names = PACKAGES): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const file = n === "rankfuse" ? "package.json" : path.join("node_modules", n, "package.json");
    try {
      out[n] = (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
    } catch {
      out[n] = "not installed";
    }
  }
  return out;
}
const PACKAGES = ["rankfuse", "@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-wasm", "@jax-js/jax", "tsx"];

/** rankfuse's own BLAS is the native addon's GEMM; where it does not load, the reason. */
function nativeBlas(): string {
  const a = loadNativeAddon();
  return E.isRight(a)
    ? `rankfuse native GEMM (${a.right.gemmKernel()} micro-kernel, ${a.right.threads()} OpenMP threads)`
    : `rankfuse native addon unavailable: ${a.left}`;
}

/** The facts that make a figure comparable: date, Node, CPU model and count, memory, load, package versions, BLAS. */
export function machineInfo() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
    packages: packageVersions(),
    blas: nativeBlas(),
  };
}

/** Median and range of repeats (bench/stats.ts), re-exported for the suites that import it from here. */
export { stats } from "./stats.ts";

/** Where suites save their JSON, markdown, SVGs and summary.md. */
export const RESULTS_DIR = path.join("bench", "results");

/**
 * Writes <suite>.json (machine, table, notes, data, charts) and <suite>.md, then redraws summary.md and
 * every saved suite's SVGs from their JSON (writeSummary), so a run's charts and a redraw's look the same.
 */
export function saveSuite(
  name: string,
  r: SuiteResult,
  dir = RESULTS_DIR,
  machine: Record<string, unknown> = machineInfo(),
): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  const saved: SavedSuite = {
    suite: name,
    machine: { ...machine, ...r.machine },
    title: r.title,
    headers: r.headers,
    rows: r.rows,
    notes: r.notes,
    charts: r.charts,
    data: r.data,
  };
  fs.writeFileSync(file, JSON.stringify(saved, null, 1));
  fs.writeFileSync(
    path.join(dir, `${name}.md`),
    `# ${r.title}\n\n${markdownTable(r.headers, r.rows)}\n\n${(r.notes ?? []).map((n) => `- ${n}`).join("\n")}\n`,
  );
  writeSummary(dir);
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
