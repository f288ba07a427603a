/**
 * Plain float64 JavaScript for the examples' tests to compare layers with: a row-major matmul and the
 * activations, written out (GELU is the tanh approximation, as rankfuse's).
 */

/** The row-major product of a [n, k] and b [k, m]. */
export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < k; p++) for (let j = 0; j < m; j++) out[i * m + j]! += a[i * k + p]! * b[p * m + j]!;
  return out;
}

/** GELU, tanh approximation. */
export const gelu = (x: number): number =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

/** SiLU, x·sigmoid(x). */
export const silu = (x: number): number => x / (1 + Math.exp(-x));
