/**
 * Model parameters as the host sees them: a flat, ordered list of named
 * float32 tensors. The order is the contract between model, optimizer and
 * checkpoint (index i means the same tensor everywhere), so it is kept as
 * parallel arrays rather than a name-keyed map.
 */
export interface NamedParams {
  names: string[];
  shapes: number[][];
  values: Float32Array[];
}

/** Number of elements of one shape (1 for a scalar's empty shape). */
export const elementCount = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

/**
 * Euclidean norm over all tensors as if concatenated. Accumulates in
 * float64: a float32 sum over millions of squares loses digits that
 * gradient clipping and logging care about.
 */
export const globalNorm = (values: readonly Float32Array[]): number => {
  let sum = 0;
  for (const v of values) for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  return Math.sqrt(sum);
};
