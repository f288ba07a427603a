import os from "node:os";
import type { NativeAddon } from "../backends/native/build.ts";
import { random } from "./report.ts";
import { stats, type Stat } from "./stats.ts";
import { timeRepeats } from "./timing.ts";

/**
 * The "measured peak" the benchmarks hold figures against (GEMM shapes as % of it, training steps as
 * MFU): the best GFLOP/s of the native addon's own matmul on an in-cache N³ product, on 1 thread and on
 * all threads, the two alternating repeat by repeat. Not the CPU's theoretical peak, which JavaScript
 * cannot read; a BLAS with faster kernels could exceed it.
 */
export const PEAK_N = 384;

/** The addon's matmul peak: GFLOP/s per repeat on 1 and on all threads, and their per-repeat ratio. */
export interface GemmPeak {
  /** The product's size (PEAK_N). */
  readonly n: number;
  /** How many threads "all threads" is. */
  readonly threads: number;
  readonly oneThread: Stat;
  readonly allThreads: Stat;
  /** 1-thread time / all-threads time, per repeat. */
  readonly scaling: Stat;
  /** The figure to divide by: the best all-threads repeat, GFLOP/s. */
  readonly best: number;
}

/** Measures the peak (`repeats` repeats of ≥ minMs each) and leaves the addon on all threads. */
export function measureGemmPeak(
  addon: NativeAddon,
  repeats: number,
  minMs = 100,
  threads = os.availableParallelism(),
): GemmPeak {
  const n = PEAK_N;
  const a = random(n * n, 1),
    b = random(n * n, 2),
    out = new Float32Array(n * n);
  const call = (t: number) => () => {
    addon.setThreads(t);
    addon.matmul(a, b, out, 1, n, n, n, false, false, false);
  };
  const [p1, pAll] = timeRepeats([call(1), call(threads)], repeats, minMs);
  addon.setThreads(threads);
  const flops = 2 * n ** 3;
  const allThreads = stats(pAll!.map((s) => flops / s / 1e9));
  return {
    n,
    threads,
    oneThread: stats(p1!.map((s) => flops / s / 1e9)),
    allThreads,
    scaling: stats(p1!.map((s, i) => s / pAll![i]!)),
    best: allThreads.max,
  };
}
