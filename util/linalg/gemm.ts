import * as E from "fp-ts/lib/Either.js";
import { loadNativeAddon } from "../../backends/native/build.ts";

/**
 * A float32 matrix product for per-step optimizer work on the host (Fira projects every gradient every
 * step: three products of size r·m·n per matrix, too slow for a JavaScript loop at d = 256+). The
 * native engine's GEMM runs it where the addon loaded; the JavaScript loop (float64 accumulation) is
 * the fallback and the reference the tests compare against.
 *
 * out (M×N) = op(a)·op(b), op transposing when asked: a is stored M×K (K×M when transA), b K×N (N×K when transB).
 */
export type Gemm = (a: Float32Array, b: Float32Array, M: number, K: number, N: number, transA?: boolean, transB?: boolean) => Float32Array;

export const jsGemm: Gemm = (a, b, M, K, N, transA = false, transB = false) => {
  checkSizes(a, b, M, K, N);
  const out = new Float32Array(M * N), acc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const c = transA ? a[k * M + i]! : a[i * K + k]!;
      if (c === 0) continue;
      if (transB) for (let j = 0; j < N; j++) acc[j] += c * b[j * K + k]!;
      else for (let j = 0, o = k * N; j < N; j++) acc[j] += c * b[o + j]!;
    }
    out.set(acc, i * N);
  }
  return out;
};

let cached: Gemm | undefined;

/** The native GEMM where the addon loads, else the JavaScript one. */
export function hostGemm(): Gemm {
  if (cached) return cached;
  const addon = loadNativeAddon();
  if (E.isLeft(addon)) return (cached = jsGemm);
  const native = addon.right;
  return (cached = (a, b, M, K, N, transA = false, transB = false) => {
    checkSizes(a, b, M, K, N);
    const out = new Float32Array(M * N);
    native.matmul(a, b, out, 1, M, K, N, false, transA, transB);
    return out;
  });
}

function checkSizes(a: Float32Array, b: Float32Array, M: number, K: number, N: number): void {
  if (a.length !== M * K || b.length !== K * N) throw new RangeError(`gemm: ${M}x${K} by ${K}x${N} given ${a.length} and ${b.length} values`);
}
