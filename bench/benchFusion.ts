/**
 * Benchmark your own layer: any DSL function compiled fused (`fusion: true`) against unfused
 * (`fusion: false`) on one backend, for the forward pass and for forward+backward (the vjp of random
 * cotangents: Σ⟨out, w⟩ and the gradient of every float input). The two run interleaved, round by
 * round, in alternating order (round 0: unfused then fused, round 1: fused then unfused, ...), so both
 * see the same machine state and neither always runs second; each round gives one ratio unfused/fused,
 * and the report gives their median [min–max] with each variant's times, kernel counts, and the bytes
 * moved and FLOPs the plans predict. A figure from one round is never reported alone.
 *
 *   const report = unwrap(await benchFusion(layer, shapes, { backend, dims: { n: 2048 }, rounds: 7, save: "fusion.json" }));
 *   console.log(formatFusionReport(report));
 */
import fs from "node:fs";
import path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../ir/backend.ts";
import type { RankfuseError } from "../ir/errors.ts";
import { flatten } from "../ir/tree.ts";
import { isSpec, type TensorsOf } from "../dsl/spec.ts";
import { isBound } from "../ir/dim.ts";
import type { Plan } from "../passes/plan.ts";
import { compile } from "../run/compile.ts";
import { inPrecision, randomInputs } from "../testing/inputs.ts";
import { cotangents, vjpProgram } from "../testing/vjp.ts";
import { defPaths } from "../testing/tree.ts";
import { stats, type Stat } from "./stats.ts";

/** The two programs timed for a layer. */
export type FusionPass = "forward" | "forward+backward";
/** The two ways each program is compiled. */
export type FusionVariant = "unfused" | "fused";
/** Both passes, in the order they run. */
export const FUSION_PASSES: readonly FusionPass[] = ["forward", "forward+backward"];

/** How to bench: the backend, rounds, sizes of unbound dims, and where to save the report. */
export interface BenchFusionOptions {
  readonly backend: Backend<any>;
  /** Timed rounds, each running both variants once (default 7). */
  readonly rounds?: number;
  /** Untimed rounds first, interleaved the same way (default 1). */
  readonly warmup?: number;
  /** Which programs to time (default both). */
  readonly passes?: readonly FusionPass[];
  /** Sizes of the shapes' unbound dims, as compile's `dims`. */
  readonly dims?: Readonly<Record<string, number>>;
  /**
   * Fuse at every rank: the fused side ignores the backend's `caps.maxFusedRank` (the rank up to which
   * training fuses, where fusing stopped paying), so the kernels are timed beyond it (default false).
   */
  readonly anyRank?: boolean;
  /** Standard deviation of the random float inputs (default 0.1, which keeps activations of wide layers O(1)). */
  readonly scale?: number;
  /** Seed of the inputs and cotangents (default 0). */
  readonly seed?: number;
  /** The layer's name in the report (default "layer"). */
  readonly name?: string;
  /** Write the report as JSON to this file (its folder is created). */
  readonly save?: string;
}

/** One variant of one pass: what its plan predicts and how long each timed round took. */
export interface VariantReport {
  readonly kernels: number;
  readonly fusedKernels: number;
  readonly bytesMoved: number;
  readonly flops: number;
  readonly predictedPeakBytes: number;
  /** Milliseconds of each timed round (run including writing inputs and reading outputs), in round order. */
  readonly ms: readonly number[];
  readonly stat: Stat;
}

/** One pass: both variants, the per-round ratios, and the order each round ran them in. */
export interface PassReport {
  readonly pass: FusionPass;
  readonly unfused: VariantReport;
  /** null where the planner fused nothing: then only the unfused plan is timed. */
  readonly fused: VariantReport | null;
  /** unfused ms / fused ms, one per timed round (> 1: fusion is faster). */
  readonly ratios: readonly number[];
  readonly ratio: Stat;
  /** The variants in the order each timed round ran them. */
  readonly order: readonly (readonly FusionVariant[])[];
}

/** The whole benchmark of one layer on one backend. */
export interface FusionBenchReport {
  readonly layer: string;
  readonly backend: string;
  readonly backendDescription: string;
  readonly rounds: number;
  readonly warmup: number;
  readonly anyRank: boolean;
  readonly dims: Readonly<Record<string, number>>;
  /** Each input's shape, by path (`args[0].A`). */
  readonly inputs: Readonly<Record<string, readonly number[]>>;
  readonly passes: readonly PassReport[];
  readonly notes: readonly string[];
  readonly date: string;
  readonly node: string;
}

/** A compiled program run through its flat host interface, timing each run. */
type Runnable = {
  run(...xs: unknown[]): Promise<E.Either<RankfuseError, { stats: { ms: number } }>>;
  plan: Plan;
};

/** The variants in round `i`'s order: rotated by one each round. */
export const roundOrder = (variants: readonly FusionVariant[], i: number): FusionVariant[] =>
  variants.map((_, k) => variants[(k + i) % variants.length]!);

const variantReport = (plan: Plan, ms: number[]): VariantReport => ({
  kernels: plan.kernelCount,
  fusedKernels: plan.fusedCount,
  bytesMoved: plan.bytesMoved,
  flops: plan.flops,
  predictedPeakBytes: plan.predictedPeakBytes,
  ms,
  stat: stats(ms),
});

/**
 * Times `layer` at `shapes` (a pytree of specs; unbound dims sized by `opts.dims`) fused against
 * unfused on `opts.backend`. A Left for a layer that does not compile or run there (its message is the
 * compiler's), never a throw for a user's mistake.
 */
export async function benchFusion<const A extends readonly unknown[]>(
  layer: (...args: TensorsOf<A>) => unknown,
  shapes: A,
  opts: BenchFusionOptions,
): Promise<E.Either<RankfuseError, FusionBenchReport>> {
  const { backend, rounds = 7, warmup = 1, dims = {}, anyRank = false, scale = 0.1, seed = 0 } = opts;
  if (!(Number.isInteger(rounds) && rounds >= 1 && Number.isInteger(warmup) && warmup >= 0))
    return E.left({ tag: "ConfigError", message: `rounds must be >= 1 and warmup >= 0, got ${rounds} and ${warmup}` });
  const fusedBackend = anyRank ? { ...backend, caps: { ...backend.caps, maxFusedRank: Infinity } } : backend;
  const f64 = backend.caps.float64;
  const specs = flatten(shapes, isSpec);
  const unsized = specs.leaves.flatMap((s) => s.dims).find((d) => !isBound(d) && dims[d.name] === undefined);
  if (unsized)
    return E.left({
      tag: "UnboundDim",
      dim: unsized.name,
      message: `dim "${unsized.name}" has no size: give it one in dims`,
    });
  const inputs = inPrecision(randomInputs(shapes, seed, { dims, scale }), f64) as unknown[];
  const notes: string[] = [];
  const passes: PassReport[] = [];
  for (const pass of opts.passes ?? FUSION_PASSES) {
    let program: { fn: unknown; args: unknown; host: unknown[] };
    if (pass === "forward") program = { fn: layer, args: shapes, host: inputs };
    else {
      const p = vjpProgram(layer, shapes, dims);
      if (E.isLeft(p)) return p;
      program = { fn: p.right.fn, args: p.right.args, host: [inputs, inPrecision(cotangents(p.right, seed + 1), f64)] };
    }
    const compileFor = (be: Backend<any>, fusion: boolean) =>
      compile(program.fn as (...xs: unknown[]) => unknown, {
        args: program.args as unknown[],
        backend: be,
        fusion,
        dims,
      });
    const unfused = compileFor(backend, false);
    if (E.isLeft(unfused)) return unfused;
    const fusedC = compileFor(fusedBackend, true);
    if (E.isLeft(fusedC)) return fusedC;
    const compiled: Partial<Record<FusionVariant, Runnable>> = { unfused: unfused.right as unknown as Runnable };
    if (fusedC.right.plan.fusedCount > 0) compiled.fused = fusedC.right as unknown as Runnable;
    else
      notes.push(
        `${pass}: nothing fused on ${backend.name} (caps.fusedChains ${backend.caps.fusedChains}${backend.caps.maxFusedRank !== undefined ? `, maxFusedRank ${backend.caps.maxFusedRank}` : ""}), so only the unfused plan is timed`,
      );
    const variants = (["unfused", "fused"] as const).filter((v) => compiled[v]);
    const ms: Record<FusionVariant, number[]> = { unfused: [], fused: [] };
    const order: FusionVariant[][] = [];
    for (let i = 0; i < warmup + rounds; i++) {
      const these = roundOrder(variants, i);
      for (const v of these) {
        const r = await compiled[v]!.run(...program.host);
        if (E.isLeft(r)) return r;
        if (i >= warmup) ms[v].push(r.right.stats.ms);
      }
      if (i >= warmup) order.push(these);
    }
    const ratios = compiled.fused ? ms.unfused.map((u, i) => u / ms.fused[i]!) : [];
    passes.push({
      pass,
      unfused: variantReport(compiled.unfused!.plan, ms.unfused),
      fused: compiled.fused ? variantReport(compiled.fused.plan, ms.fused) : null,
      ratios,
      ratio: stats(ratios),
      order,
    });
  }
  const paths = defPaths(specs.def, "args");
  const report: FusionBenchReport = {
    layer: opts.name ?? "layer",
    backend: backend.name,
    backendDescription: backend.describe(),
    rounds,
    warmup,
    anyRank,
    dims,
    inputs: Object.fromEntries(
      specs.leaves.map((s, i) => [paths[i]!, s.dims.map((d) => (isBound(d) ? d.size : dims[d.name]!))]),
    ),
    passes,
    notes,
    date: new Date().toISOString(),
    node: process.version,
  };
  if (opts.save) {
    fs.mkdirSync(path.dirname(path.resolve(opts.save)), { recursive: true });
    fs.writeFileSync(opts.save, JSON.stringify(report, null, 1));
  }
  return E.right(report);
}
