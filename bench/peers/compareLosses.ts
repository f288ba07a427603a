/**
 * Compares peer results (the `<out>.json` files of bench/peers/tfjsLlama.ts, torch_llama.py, or the
 * rankfuse side) trained from the same inputs: checks that the losses agree step by step and prints a
 * table. The first file is the reference.
 *
 *   npx tsx bench/peers/compareLosses.ts a.json b.json [c.json ...] [--tol-first 1e-4] [--tol 1e-2]
 *
 * The step-1 loss is computed before any update, so it should agree to float32 rounding (--tol-first,
 * relative); later steps drift as float32 differences are amplified by Adam (--tol, relative, checked at
 * every step). Exits 1 when a tolerance is exceeded, 2 on bad input.
 */
import fs from "node:fs";
import type { PeerResult } from "./peerFiles.ts";

const args = process.argv.slice(2);
const files: string[] = [];
const flags: Record<string, number> = { "tol-first": 1e-4, tol: 1e-2 };
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a.startsWith("--")) {
    const k = a.slice(2);
    const v = Number(args[++i]);
    if (!(k in flags) || !Number.isFinite(v)) {
      console.error(`compareLosses: unknown flag or bad value: ${a} ${args[i]}`);
      process.exit(2);
    }
    flags[k] = v;
  } else files.push(a);
}
if (files.length < 2) {
  console.error("usage: compareLosses.ts ref.json other.json [...] [--tol-first 1e-4] [--tol 1e-2]");
  process.exit(2);
}

const results: PeerResult[] = files.map((f) => {
  try {
    const r = JSON.parse(fs.readFileSync(f, "utf8")) as PeerResult;
    if (!Array.isArray(r.losses) || r.losses.length === 0) throw new Error("no losses");
    return r;
  } catch (e) {
    console.error(`compareLosses: cannot read ${f}: ${(e as Error).message}`);
    process.exit(2);
  }
});

const methods = new Set(results.map((r) => r.method));
if (methods.size > 1) console.warn(`warning: the files mix methods (${[...methods].join(", ")})`);

const ref = results[0]!;
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
const mib = (b: number) => (b / 2 ** 20).toFixed(1) + " MiB";

const rows: string[][] = [
  [
    "peer",
    "version",
    "tokens/s (median)",
    "peak memory",
    "loss @1",
    `loss @last`,
    "max |Δloss| vs " + ref.peer,
    "rel Δ @1",
    "rel Δ @last",
  ],
];
let failed = false;
const problems: string[] = [];
for (const [i, r] of results.entries()) {
  const n = Math.min(r.losses.length, ref.losses.length);
  if (r.losses.length !== ref.losses.length)
    problems.push(
      `${files[i]}: ${r.losses.length} steps vs ${ref.losses.length} in ${files[0]}; comparing the first ${n}`,
    );
  let maxAbs = 0;
  for (let s = 0; s < n; s++) {
    maxAbs = Math.max(maxAbs, Math.abs(r.losses[s]! - ref.losses[s]!));
    const d = rel(r.losses[s]!, ref.losses[s]!);
    const tol = s === 0 ? flags["tol-first"]! : flags.tol!;
    if (!(d <= tol)) {
      failed = true;
      problems.push(
        `${r.peer} step ${s + 1}: loss ${r.losses[s]} vs ${ref.losses[s]} (relative ${d.toExponential(2)} > ${tol})`,
      );
    }
  }
  const last = n - 1;
  rows.push([
    r.peer,
    String(r.version),
    r.tokensPerSec.toFixed(0),
    mib(r.peakMemoryBytes),
    r.losses[0]!.toFixed(6),
    `${r.losses[last]!.toFixed(6)} (step ${last + 1})`,
    i === 0 ? "-" : maxAbs.toExponential(2),
    i === 0 ? "-" : rel(r.losses[0]!, ref.losses[0]!).toExponential(2),
    i === 0 ? "-" : rel(r.losses[last]!, ref.losses[last]!).toExponential(2),
  ]);
}

const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
const line = (r: string[]) => `| ${r.map((x, c) => x.padEnd(widths[c]!)).join(" | ")} |`;
console.log(`method: ${[...methods].join(", ")}; reference: ${ref.peer} (${files[0]})`);
console.log(line(rows[0]!));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows.slice(1)) console.log(line(r));
console.log(`\nsteps (loss per peer):`);
const n = Math.max(...results.map((r) => r.losses.length));
for (let s = 0; s < n; s++)
  console.log(
    `  ${String(s + 1).padStart(3)}  ${results.map((r) => (r.losses[s] === undefined ? "-" : r.losses[s]!.toFixed(6)).padStart(10)).join("  ")}`,
  );
for (const p of problems) console.log(`! ${p}`);
console.log(
  failed
    ? `FAIL: losses disagree beyond tolerance (step 1: ${flags["tol-first"]}, later: ${flags.tol})`
    : `OK: step-1 losses within ${flags["tol-first"]} relative, later steps within ${flags.tol}`,
);
process.exit(failed ? 1 : 0);
