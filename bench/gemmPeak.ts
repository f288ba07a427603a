import os from "node:os";
import type { NativeAddon } from "../backends/native/build.ts";
import { random } from "./report.ts";
import { stats, type Stat } from "./stats.ts";
import { timeRepeats } from "./timing.ts";

/**
 * The "measured peak" the benchmarks hold figures against (GEMM shapes as % of it, training steps as
 * MFU): the best GFLOP/s of the native addon's own matmul on all threads over a few products (an
 * in-cache N³ one, 1024³ and the tiny model's largest forward shapes), measured in the same run. The N³
 * product also runs on 1 thread, alternating repeat by repeat, for the scaling. Not the CPU's
 * theoretical peak, which JavaScript cannot read; a BLAS with faster kernels could exceed it. (On some
 * CPUs the in-cache N³ product alone is 20% below the larger shapes, which would inflate every MFU.)
 */
export const PEAK_N = 384;
/** The products [M, K, N] whose best all-threads figure is the peak. */
export const PEAK_SHAPES: readonly (readonly [number, number, number])[] = [
  [PEAK_N, PEAK_N, PEAK_N],
  [1024, 1024, 1024],
  [2048, 256, 688],
  [2048, 688, 256],
];

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
  /** All-threads GFLOP/s per repeat of each PEAK_SHAPES product, keyed "MxKxN". */
  readonly shapes: Readonly<Record<string, Stat>>;
  /** The figure to divide by: the best all-threads repeat over every shape, GFLOP/s. */
  readonly best: number;
  /** The shape that gave it. */
  readonly bestShape: string;
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
  const shapes: Record<string, Stat> = { [`${n}x${n}x${n}`]: allThreads };
  const others = PEAK_SHAPES.slice(1).map(([M, K, N]) => {
    const [x, w, y] = [random(M * K, 3), random(K * N, 4), new Float32Array(M * N)];
    return {
      key: `${M}x${K}x${N}`,
      flops: 2 * M * K * N,
      call: () => addon.matmul(x, w, y, 1, M, K, N, false, false, false),
    };
  });
  const times = timeRepeats(
    others.map((o) => o.call),
    repeats,
    minMs,
  );
  others.forEach((o, i) => (shapes[o.key] = stats(times[i]!.map((s) => o.flops / s / 1e9))));
  const [bestShape, bestStat] = Object.entries(shapes).reduce((a, b) => (b[1].max > a[1].max ? b : a));
  return {
    n,
    threads,
    oneThread: stats(p1!.map((s) => flops / s / 1e9)),
    allThreads,
    scaling: stats(p1!.map((s, i) => s / pAll![i]!)),
    shapes,
    best: bestStat.max,
    bestShape,
  };
}
