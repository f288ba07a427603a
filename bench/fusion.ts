import * as E from "fp-ts/lib/Either.js";
import { dim } from "../ir/dim.ts";
import { spec } from "../dsl/spec.ts";
import type { Tensor } from "../dsl/trace.ts";
import * as op from "../dsl/ops.ts";
import { loadBackend } from "../backends/index.ts";
import { CONFIGS } from "../models/config.ts";
import { colaLinear } from "../models/layers.ts";
import { formatNumber } from "../util/format.ts";
import type { SuiteResult } from "./report.ts";
import { benchFusion } from "./benchFusion.ts";
import { formatRatio, formatStat } from "./stats.ts";

type Program = { layer: unknown; shapes: readonly unknown[] };

/**
 * A CoLA layer y = silu(x·A)·B (d → d, rank r) at the shapes of the 60M, 350M and 1B configs with
 * n = 2048 tokens: fused against unfused, forward and forward+backward (the gradient of Σ y ⊙ w with
 * respect to x, A and B), on every backend that loads (native, webgpu, wasm), through benchFusion (the
 * same helper as `rankfuse bench fusion`): unfused and fused run interleaved round by round, in
 * alternating order, and the speedup is the median of the per-round ratios, with their range. Times
 * include writing inputs and reading outputs (the same for both).
 * GFLOP/s counts the unfused plan's FLOPs for both, so they compare the same work; bytes moved are the
 * plan's prediction (a fused kernel moves only its inputs and outputs). `--quick`: fewer repeats.
 * An attention row times causal attention at the tiny/small presets' heads the same way (fused: one
 * kernel each way, skipping the masked half; its GFLOP/s also count the unfused plan's full t×t work).
 */
const N = 2048;
const SHAPES = ["60m", "350m", "1b"] as const;

/** The CoLA layer y = silu(x·A)·B, d → d at rank r, over N tokens. */
function colaProgram(d: number, r: number) {
  const [n, dd, rr] = [dim("n", N), dim("d", d), dim("r", r)];
  const layer = (p: { A: Tensor; B: Tensor }, x: Tensor) => colaLinear(x as never, p as never);
  return { layer, shapes: [{ A: spec([dd, rr]), B: spec([rr, dd]) }, spec([n, dd])] as const };
}

/** Causal attention (scores, causal softmax, ·v) at the tiny/small presets' heads: b·h = 32 slices of t 256, dh 64. */
function attentionProgram() {
  const [b, h, t, dh] = [dim("b", 8), dim("h", 4), dim("t", 256), dim("dh", 64)];
  const s = spec([b, h, t, dh]);
  type QKV = { q: Tensor; k: Tensor; v: Tensor };
  const layer = (p: QKV) => op.matmul(op.softmax(op.matmulNT(p.q, p.k), true), p.v as never);
  return { layer, shapes: [{ q: s, k: s, v: s }] as const };
}

export async function run(): Promise<SuiteResult> {
  const quick = process.argv.includes("--quick");
  const [warm, reps] = quick ? [1, 3] : [2, 7];
  const rows: (string | number)[][] = [];
  const data: unknown[] = [];
  const notes: string[] = [];
  for (const name of ["native", "webgpu", "wasm"] as const) {
    const loaded = await loadBackend(name);
    if (E.isLeft(loaded)) {
      notes.push(`${name}: not available (${loaded.left.message})`);
      continue;
    }
    const be = loaded.right;
    // native's kernels take any rank; its caps stop the planner at the rank where fusing stopped paying
    // (backends/native/fused.ts). The fused column times the kernels at every rank, to keep that measured.
    const anyRank = name === "native";
    if (anyRank)
      notes.push(
        `native: fused = the fused kernels at every rank; training fuses only up to rank ${be.caps.maxFusedRank} (caps.maxFusedRank, set from these rows), so larger ranks train unfused`,
      );
    if (!be.caps.fusedChains)
      notes.push(
        `${name}: no fused chain kernels in its caps, so the planner keeps the unfused plan (fused = unfused; only unfused is timed)`,
      );
    // wasm runs one thread at ~30 GFLOP/s: the 350M and 1B layers would take minutes per repeat set
    // webgpu on a software adapter (Mesa's llvmpipe, SwiftShader) runs its shaders on the CPU: same limit
    const software = (be as { adapter?: { software?: boolean } }).adapter?.software === true;
    const shapes = name === "wasm" || software ? SHAPES.filter((s) => s === "60m") : SHAPES;
    if (name === "wasm") notes.push("wasm: 350M and 1B shapes left out (single-threaded, too slow for this suite)");
    if (software)
      notes.push(
        `webgpu: ${be.describe()}: shaders run on the CPU, so these are not GPU figures; 350M and 1B shapes left out`,
      );
    const cases = shapes.map((s) => ({
      s: s as string,
      label: `${s} d${CONFIGS[s]!.d} r${CONFIGS[s]!.rank}`,
      d: CONFIGS[s]!.d,
      r: CONFIGS[s]!.rank,
      program: () => colaProgram(CONFIGS[s]!.d, CONFIGS[s]!.rank) as Program,
    }));
    if (!software)
      cases.push({ s: "attention", label: "attention b8 h4 t256 dh64", d: 64, r: 0, program: attentionProgram });
    for (const { s, label, d, r, program } of cases) {
      const { layer, shapes: args } = program();
      const bench = await benchFusion(layer as never, args, {
        backend: be,
        rounds: reps,
        warmup: warm,
        anyRank,
        name: label,
      });
      if (E.isLeft(bench)) throw new Error(`${name} ${label}: ${bench.left.message}`);
      for (const p of bench.right.passes) {
        const { unfused: un, fused: fu } = p;
        // GFLOP/s count the unfused plan's FLOPs for both, so they compare the same work
        const gf = (ms: number) => (un.flops / ms / 1e6).toFixed(1);
        rows.push([
          name,
          label,
          p.pass,
          formatNumber(un.flops),
          formatStat(un.stat, 1),
          gf(un.stat.median),
          `${un.kernels} / ${formatNumber(un.bytesMoved)}B`,
          fu ? formatStat(fu.stat, 1) : "—",
          fu ? gf(fu.stat.median) : "—",
          fu ? `${fu.kernels} / ${formatNumber(fu.bytesMoved)}B` : "—",
          fu ? `${formatRatio(p.ratio.median)} [${formatRatio(p.ratio.min)}-${formatRatio(p.ratio.max)}]` : "—",
        ]);
        data.push({
          backend: name,
          config: s,
          n: N,
          d,
          r,
          pass: p.pass,
          flops: un.flops,
          unfused: { ms: un.stat, rounds: un.ms, kernels: un.kernels, bytes: un.bytesMoved },
          fused: fu && { ms: fu.stat, rounds: fu.ms, kernels: fu.kernels, bytes: fu.bytesMoved },
          speedup: fu ? p.ratio : null,
          order: p.order,
        });
        process.stderr.write(
          `fusion ${name} ${s} ${p.pass}: unfused ${un.stat.median.toFixed(1)} ms${fu ? `, fused ${fu.stat.median.toFixed(1)} ms, per-round speedup ${formatRatio(p.ratio.median)}` : ""}\n`,
        );
      }
    }
  }
  notes.push(
    `n = ${N} tokens, d → d CoLA layer with SiLU; ${quick ? "--quick: 1 warm-up round, 3 timed rounds" : "2 warm-up rounds, 7 timed rounds"}, unfused and fused interleaved in each round (alternating which goes first); ms are median [min-max]; speedup is the median [min-max] of the per-round ratios unfused/fused; kernels / bytes are the plan's launches and predicted bytes moved; forward+backward is the vjp of random cotangents (gradients of x, A and B)`,
  );
  return {
    title: "Fusion: CoLA layer (n = 2048) and causal attention fused vs unfused",
    headers: [
      "backend",
      "shape",
      "pass",
      "FLOP",
      "unfused ms",
      "GFLOP/s",
      "kernels / bytes",
      "fused ms",
      "GFLOP/s",
      "kernels / bytes",
      "speedup",
    ],
    rows,
    notes,
    data: { n: N, quick, results: data },
  };
}
