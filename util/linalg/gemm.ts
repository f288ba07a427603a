/**
 * A float32 matrix product for per-step optimizer work on the host (Fira projects every gradient every
 * step: three products of size r·m·n per matrix, too slow for a JavaScript loop at d = 256+). A native
 * GEMM is passed in where a backend offers one (ir/hostKernels.ts); this JavaScript loop (float64
 * accumulation) is the fallback and the reference the tests compare against.
 *
 * out (M×N) = op(a)·op(b), op transposing when asked: a is stored M×K (K×M when transA), b K×N (N×K when transB).
 */
export type Gemm = (
  a: Float32Array,
  b: Float32Array,
  M: number,
  K: number,
  N: number,
  transA?: boolean,
  transB?: boolean,
) => Float32Array;

/** The JavaScript GEMM: float64 accumulation, the fallback and the tests' reference. */
export const jsGemm: Gemm = (a, b, M, K, N, transA = false, transB = false) => {
  checkSizes(a, b, M, K, N);
  const out = new Float32Array(M * N),
    acc = new Float64Array(N);
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

/** Throws a RangeError when a or b does not hold the sizes given (a caller's bug, not user input). */
export function checkSizes(a: Float32Array, b: Float32Array, M: number, K: number, N: number): void {
  if (a.length !== M * K || b.length !== K * N)
    throw new RangeError(`gemm: ${M}x${K} by ${K}x${N} given ${a.length} and ${b.length} values`);
}
