import * as E from "fp-ts/lib/Either.js";
import { dim } from "../ir/dim.ts";
import { spec } from "../dsl/spec.ts";
import { compile } from "../run/compile.ts";
import { valueAndGrad } from "../dsl/autodiff.ts";
import type { Tensor } from "../dsl/trace.ts";
import * as op from "../dsl/ops.ts";
import type { Backend } from "../ir/backend.ts";
import { loadBackend } from "../backends/index.ts";
import { CONFIGS } from "../models/config.ts";
import { colaLinear } from "../models/layers.ts";
import { formatNumber } from "../util/format.ts";
import { random, stats, type SuiteResult } from "./report.ts";

/**
 * A CoLA layer y = silu(x·A)·B (d → d, rank r) at the shapes of the 60M, 350M and 1B configs with
 * n = 2048 tokens: fused against unfused, forward and forward+backward (the gradient of Σ y ⊙ w with
 * respect to x, A and B), on every backend that loads (native, webgpu, wasm). Time is the median of repeated runs after
 * warm-up, with the range, and includes writing inputs and reading outputs (the same for both).
 * GFLOP/s counts the unfused plan's FLOPs for both, so they compare the same work; bytes moved are the
 * plan's prediction (a fused kernel moves only its inputs and outputs). `--quick`: fewer repeats.
 * An attention row times causal attention at the tiny/small presets' heads the same way (fused: one
 * kernel each way, skipping the masked half; its GFLOP/s also count the unfused plan's full t×t work).
 */
const N = 2048;
const SHAPES = ["60m", "350m", "1b"] as const;

function programs(d: number, r: number) {
  const [n, dd, rr] = [dim("n", N), dim("d", d), dim("r", r)];
  const fwdArgs = [{ A: spec([dd, rr]), B: spec([rr, dd]) }, spec([n, dd])] as const;
  const layer = (p: { A: Tensor; B: Tensor }, x: Tensor) => colaLinear(x as never, p as never);
  const loss = (p: { A: Tensor; B: Tensor; x: Tensor }, w: Tensor) => op.sum(op.mul(layer(p, p.x), w as never));
  const bwdArgs = [{ A: spec([dd, rr]), B: spec([rr, dd]), x: spec([n, dd]) }, spec([n, dd])] as const;
  const p = { A: random(d * r, 1).map((v) => v * 0.1), B: random(r * d, 2).map((v) => v * 0.1) };
  const x = random(N * d, 3),
    w = random(N * d, 4);
  return {
    forward: { fn: layer, args: fwdArgs, inputs: [p, x] },
    "forward+backward": {
      fn: ((q: never, wt: Tensor) => valueAndGrad(loss)(q, wt)) as never,
      args: bwdArgs,
      inputs: [{ ...p, x }, w],
    },
  };
}

/** Causal attention (scores, causal softmax, ·v) at the tiny/small presets' heads: b·h = 32 slices of t 256, dh 64. */
function attentionPrograms() {
  const [b, h, t, dh] = [dim("b", 8), dim("h", 4), dim("t", 256), dim("dh", 64)];
  const s = spec([b, h, t, dh]);
  type QKV = { q: Tensor; k: Tensor; v: Tensor };
  const attend = (p: QKV) => op.matmul(op.softmax(op.matmulNT(p.q, p.k), true), p.v as never);
  const loss = (p: QKV, w: Tensor) => op.sum(op.mul(attend(p), w as never));
  const n = 8 * 4 * 256 * 64;
  const p = { q: random(n, 5), k: random(n, 6), v: random(n, 7) };
  return {
    forward: { fn: attend, args: [{ q: s, k: s, v: s }] as const, inputs: [p] },
    "forward+backward": {
      fn: ((q: never, wt: Tensor) => valueAndGrad(loss)(q, wt)) as never,
      args: [{ q: s, k: s, v: s }, s] as const,
      inputs: [p, random(n, 8)],
    },
  };
}

async function time(
  be: Backend<any>,
  prog: { fn: unknown; args: unknown; inputs: unknown[] },
  fusion: boolean,
  warm: number,
  reps: number,
) {
  const c = compile(prog.fn as never, { args: prog.args as never, backend: be, fusion });
  if (E.isLeft(c)) throw new Error(c.left.message);
  const times: number[] = [];
  for (let i = 0; i < warm + reps; i++) {
    const runIt = c.right.run as unknown as (
      ...a: unknown[]
    ) => Promise<E.Either<{ message: string }, { stats: { ms: number } }>>;
    const r = await runIt(...prog.inputs);
    if (E.isLeft(r)) throw new Error(r.left.message);
    if (i >= warm) times.push(r.right.stats.ms);
  }
  return { t: stats(times), plan: c.right.plan };
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
    const fuses = be.caps.fusedChains;
    // native's kernels take any rank; its caps stop the planner at the rank where fusing stopped paying
    // (backends/native/fused.ts). The fused column times the kernels at every rank, to keep that measured.
    const fusedAtAnyRank = name === "native" ? { ...be, caps: { ...be.caps, maxFusedRank: Infinity } } : be;
    if (name === "native")
      notes.push(
        `native: fused = the fused kernels at every rank; training fuses only up to rank ${be.caps.maxFusedRank} (caps.maxFusedRank, set from these rows), so larger ranks train unfused`,
      );
    if (!fuses)
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
      progs: () =>
        programs(CONFIGS[s]!.d, CONFIGS[s]!.rank) as Record<string, { fn: unknown; args: unknown; inputs: unknown[] }>,
    }));
    if (!software)
      cases.push({
        s: "attention",
        label: "attention b8 h4 t256 dh64",
        d: 64,
        r: 0,
        progs: () => attentionPrograms() as Record<string, { fn: unknown; args: unknown; inputs: unknown[] }>,
      });
    for (const { s, label, d, r, progs } of cases) {
      for (const [pass, prog] of Object.entries(progs())) {
        const un = await time(be, prog, false, warm, reps);
        const fu = fuses ? await time(fusedAtAnyRank, prog, true, warm, reps) : null;
        const flops = un.plan.flops;
        const gf = (ms: number) => (flops / ms / 1e6).toFixed(1);
        const cell = (x: typeof un) => `${x.t.median.toFixed(1)} [${x.t.min.toFixed(1)}-${x.t.max.toFixed(1)}]`;
        rows.push([
          name,
          label,
          pass,
          formatNumber(flops),
          cell(un),
          gf(un.t.median),
          `${un.plan.kernelCount} / ${formatNumber(un.plan.bytesMoved)}B`,
          fu ? cell(fu) : "—",
          fu ? gf(fu.t.median) : "—",
          fu ? `${fu.plan.kernelCount} / ${formatNumber(fu.plan.bytesMoved)}B` : "—",
          fu ? `${(un.t.median / fu.t.median).toFixed(2)}x` : "—",
        ]);
        data.push({
          backend: name,
          config: s,
          n: N,
          d,
          r,
          pass,
          flops,
          unfused: { ms: un.t, kernels: un.plan.kernelCount, bytes: un.plan.bytesMoved },
          fused: fu && { ms: fu.t, kernels: fu.plan.kernelCount, bytes: fu.plan.bytesMoved },
          speedup: fu ? un.t.median / fu.t.median : null,
        });
        process.stderr.write(
          `fusion ${name} ${s} ${pass}: unfused ${un.t.median.toFixed(1)} ms${fu ? `, fused ${fu.t.median.toFixed(1)} ms` : ""}\n`,
        );
      }
    }
  }
  notes.push(
    `n = ${N} tokens, d → d CoLA layer with SiLU; ${quick ? "--quick: 1 warm-up, 3 repeats" : "2 warm-ups, 7 repeats"}; ms are median [min-max]; kernels / bytes are the plan's launches and predicted bytes moved`,
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
