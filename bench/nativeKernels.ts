/**
 * Throughput of the native engine's matmul (GFLOP/s, 1 thread and the machine's thread count) and of
 * the fused low-rank forward against its unfused form (matmul, silu, matmul).
 *   npx tsx bench/nativeKernels.ts [--threads 1,2] [--min-ms 300] [--kernel avx512|avx2|generic]
 * Timings are the best of several repetitions, each long enough to span --min-ms / 5.
 */
import * as os from "node:os";
import * as E from "fp-ts/lib/Either.js";
import { loadNativeAddon, UnaryOp, type NativeAddon } from "../backends/native/build.ts";
import { random } from "./report.ts";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const minMs = Number(arg("min-ms") ?? 300);
const threadCounts = (arg("threads") ?? `1,${os.availableParallelism()}`)
  .split(",")
  .map(Number)
  .filter((t, i, a) => t >= 1 && a.indexOf(t) === i);

/** Best seconds per call of f, over 5 repetitions of at least minMs / 5 each (after a warm-up). */
function time(f: () => void): number {
  f();
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    let calls = 0;
    let elapsed = 0;
    do {
      f();
      calls++;
      elapsed = performance.now() - t0;
    } while (elapsed < minMs / 5);
    best = Math.min(best, elapsed / 1000 / calls);
  }
  return best;
}

function benchMatmul(addon: NativeAddon): void {
  const shapes: Array<[batch: number, M: number, K: number, N: number]> = [
    [1, 2048, 256, 256],
    [1, 2048, 256, 688],
    [1, 2048, 688, 256],
    [1, 256, 2048, 256],
    [1, 1024, 1024, 1024],
    [32, 256, 64, 256],
  ];
  const header = `| shape | ${threadCounts.map((t) => `${t} thread${t > 1 ? "s" : ""}`).join(" | ")} |`;
  console.log(
    `\nmatmul GFLOP/s (kernel ${addon.gemmKernel()})\n\n${header}\n|${"---|".repeat(threadCounts.length + 1)}`,
  );
  for (const [batch, M, K, N] of shapes) {
    const a = random(batch * M * K, 1),
      b = random(batch * K * N, 2),
      out = new Float32Array(batch * M * N);
    const cells = threadCounts.map((t) => {
      addon.setThreads(t);
      const s = time(() => addon.matmul(a, b, out, batch, M, K, N, false, false, false));
      return ((2 * batch * M * K * N) / s / 1e9).toFixed(1);
    });
    const name = `${batch > 1 ? `${batch} x ` : ""}[${M},${K}] x [${K},${N}]`;
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
}

function benchLowrank(addon: NativeAddon): void {
  const n = 2048,
    d = 256,
    r = 64;
  const x = random(n * d, 3),
    A = random(d * r, 4),
    B = random(r * d, 5);
  const fused = new Float32Array(n * d),
    z = new Float32Array(n * r),
    h = new Float32Array(n * r),
    unfused = new Float32Array(n * d);
  const flops = 2 * n * d * r * 2;
  console.log(
    `\nlowrankForward n=${n} d=${d} r=${r} silu: ms per call (GFLOP/s)\n\n| threads | fused | unfused (matmul, silu, matmul) |\n|---|---|---|`,
  );
  for (const t of threadCounts) {
    addon.setThreads(t);
    const sf = time(() => addon.lowrankForward(x, A, B, fused, n, d, r, d, UnaryOp.silu));
    const su = time(() => {
      addon.matmul(x, A, z, 1, n, d, r, false, false, false);
      addon.unary(UnaryOp.silu, z, h);
      addon.matmul(h, B, unfused, 1, n, r, d, false, false, false);
    });
    const cell = (s: number): string => `${(s * 1e3).toFixed(3)} (${(flops / s / 1e9).toFixed(1)})`;
    console.log(`| ${t} | ${cell(sf)} | ${cell(su)} |`);
  }
  let worst = 0;
  for (let i = 0; i < fused.length; i++) worst = Math.max(worst, Math.abs(fused[i]! - unfused[i]!));
  console.log(`\nmax |fused - unfused| = ${worst.toExponential(2)}`);
}

function benchOthers(addon: NativeAddon): void {
  const n = 2048,
    d = 1024,
    x = random(n * d, 6),
    y = random(d, 7),
    out = new Float32Array(n * d),
    col = new Float32Array(d);
  const shape = Int32Array.of(n, d);
  const cases: Array<[string, () => void]> = [
    ["unary exp", () => addon.unary(UnaryOp.exp, x, out)],
    ["unary silu", () => addon.unary(UnaryOp.silu, x, out)],
    ["unary gelu", () => addon.unary(UnaryOp.gelu, x, out)],
    ["binary add [n,d] + [d]", () => addon.binary(0, x, y, out, shape, Int32Array.of(d, 1), Int32Array.of(0, 1))],
    ["reduce sum over rows (column sums)", () => addon.reduce(0, x, col, shape, Int32Array.of(1, 0))],
    ["softmax rows of 1024", () => addon.softmax(x, out, n, d, 0)],
    ["transpose [n,d] -> [d,n]", () => addon.transpose(x, out, shape, Int32Array.of(1, 0))],
  ];
  console.log(
    `\nother kernels on ${n} x ${d} float32: G elements/s\n\n| kernel | ${threadCounts.map((t) => `${t} thread${t > 1 ? "s" : ""}`).join(" | ")} |\n|${"---|".repeat(threadCounts.length + 1)}`,
  );
  for (const [name, f] of cases) {
    const cells = threadCounts.map((t) => {
      addon.setThreads(t);
      return ((n * d) / time(f) / 1e9).toFixed(2);
    });
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
}

const loaded = loadNativeAddon();
if (E.isLeft(loaded)) {
  console.log(`native addon unavailable: ${loaded.left}`);
} else {
  const addon = loaded.right;
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(
    `${cpu}, ${os.availableParallelism()} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(
        " ",
      )}; OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY ?? "(unset)"} GOMP_SPINCOUNT=${process.env.GOMP_SPINCOUNT ?? "(unset)"}`,
  );
  const defaultThreads = addon.threads();
  const kernel = arg("kernel");
  if (kernel !== undefined && !addon.setGemmKernel(kernel))
    console.log(`micro-kernel ${kernel} unavailable here; using ${addon.gemmKernel()}`);
  benchMatmul(addon);
  benchLowrank(addon);
  benchOthers(addon);
  addon.setThreads(defaultThreads);
}
