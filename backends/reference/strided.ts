/** Index arithmetic for row-major buffers, shared by the reference kernels. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * For every element of an output of shape `outShape` (in row-major order), the offset into an input
 * whose axis i advances by `inStrides[i]` when output axis i does (0 for a broadcast axis).
 */
export function gatherOffsets(outShape: readonly number[], inStrides: readonly number[]): Int32Array {
  const n = outShape.reduce((a, b) => a * b, 1);
  const offs = new Int32Array(n);
  const idx = new Array<number>(outShape.length).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    offs[i] = off;
    for (let a = outShape.length - 1; a >= 0; a--) {
      idx[a]!++;
      off += inStrides[a]!;
      if (idx[a]! < outShape[a]!) break;
      off -= inStrides[a]! * outShape[a]!;
      idx[a] = 0;
    }
  }
  return offs;
}

/** Splits a shape at `axis` into the sizes before, at and after it (for last-axis kernels). */
export function rows(shape: readonly number[]): { count: number; width: number } {
  const width = shape[shape.length - 1] ?? 1;
  return { count: shape.reduce((a, b) => a * b, 1) / Math.max(width, 1), width };
}

/** Offsets that read an input of `inShape` broadcast (numpy rules) to `outShape`; null when no broadcast is needed. */
export function broadcastOffsets(inShape: readonly number[], outShape: readonly number[]): Int32Array | null {
  if (inShape.length === outShape.length && inShape.every((s, i) => s === outShape[i])) return null;
  const inStrides = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return gatherOffsets(
    outShape,
    outShape.map((_, i) => (i < off || inShape[i - off] === 1 ? 0 : inStrides[i - off]!)),
  );
}
