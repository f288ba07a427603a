/**
 * Dense float64 matrices for the host-side linear algebra (SVDs every few hundred steps, not per step):
 * row-major, with the handful of products the SVDs need written so their inner loops run over
 * contiguous rows. Float64 throughout, so results rounded to float32 carry no extra error.
 */
export interface Mat {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export const mat = (rows: number, cols: number, data: Float64Array = new Float64Array(rows * cols)): Mat => {
  if (data.length !== rows * cols)
    throw new RangeError(`a ${rows}x${cols} matrix needs ${rows * cols} values, got ${data.length}`);
  return { rows, cols, data };
};

export const fromArray = (a: ArrayLike<number>, rows: number, cols: number): Mat =>
  mat(rows, cols, Float64Array.from(a));

export const row = (a: Mat, i: number): Float64Array => a.data.subarray(i * a.cols, (i + 1) * a.cols);

export function transpose(a: Mat): Mat {
  const out = mat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j]!;
  return out;
}

/** Four independent partial sums: JavaScript does not vectorize, but it does overlap independent adds. */
export function dot(x: Float64Array, y: Float64Array): number {
  const n = x.length,
    n4 = n - (n % 4);
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  for (let i = 0; i < n4; i += 4) {
    s0 += x[i]! * y[i]!;
    s1 += x[i + 1]! * y[i + 1]!;
    s2 += x[i + 2]! * y[i + 2]!;
    s3 += x[i + 3]! * y[i + 3]!;
  }
  for (let i = n4; i < n; i++) s0 += x[i]! * y[i]!;
  return s0 + s1 + (s2 + s3);
}

/** y += c·x */
export function axpy(c: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += c * x[i]!;
}

/** A·Bᵀ: every entry is a dot product of a row of A and a row of B. */
export function mulNT(a: Mat, b: Mat): Mat {
  if (a.cols !== b.cols) throw new RangeError(`mulNT: ${a.rows}x${a.cols} by (${b.rows}x${b.cols})ᵀ`);
  const out = mat(a.rows, b.rows);
  for (let i = 0; i < a.rows; i++) {
    const ai = row(a, i);
    for (let j = 0; j < b.rows; j++) out.data[i * b.rows + j] = dot(ai, row(b, j));
  }
  return out;
}

/** A·B, accumulating scaled rows of B (the i-k-j order). */
export function mulNN(a: Mat, b: Mat): Mat {
  if (a.cols !== b.rows) throw new RangeError(`mulNN: ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
  const out = mat(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    const oi = row(out, i);
    for (let k = 0; k < a.cols; k++) {
      const c = a.data[i * a.cols + k]!;
      if (c !== 0) axpy(c, row(b, k), oi);
    }
  }
  return out;
}

/** AᵀA (symmetric), computing the upper half and mirroring it. */
export function gram(a: Mat): Mat {
  const n = a.cols,
    out = mat(n, n),
    c = out.data,
    d = a.data;
  for (let k = 0; k < a.rows; k++) {
    const off = k * n;
    for (let i = 0; i < n; i++) {
      const x = d[off + i]!;
      if (x === 0) continue;
      const ci = i * n;
      for (let j = i; j < n; j++) c[ci + j] += x * d[off + j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) c[i * n + j] = c[j * n + i]!;
  return out;
}

/**
 * Makes the rows of `a` orthonormal in place, in order (modified Gram-Schmidt, two passes, which keeps
 * orthogonality at rounding level). A row that is (numerically) in the span of the earlier ones is
 * replaced by the unit vector it is farthest from, orthogonalized: the result is always a full set of
 * orthonormal rows (requires rows ≤ cols). Returns the indices of the rows that were replaced.
 */
export function orthonormalizeRows(a: Mat, from = 0): number[] {
  if (a.rows > a.cols)
    throw new RangeError(`orthonormalizeRows: ${a.rows} rows cannot be orthonormal in ${a.cols} dimensions`);
  const replaced: number[] = [];
  for (let i = from; i < a.rows; i++) {
    const v = row(a, i);
    const before = Math.sqrt(dot(v, v));
    let norm = project(a, i, v);
    if (!(norm > 1e-10 * before) || norm === 0) {
      replaced.push(i);
      norm = completeWithBasis(a, i, v);
    }
    for (let j = 0; j < v.length; j++) v[j] /= norm;
  }
  return replaced;
}

/** Removes from v its components along rows 0..i-1 (twice); returns the remaining norm. */
function project(a: Mat, i: number, v: Float64Array): number {
  for (let pass = 0; pass < 2; pass++) for (let j = 0; j < i; j++) axpy(-dot(v, row(a, j)), row(a, j), v);
  return Math.sqrt(dot(v, v));
}

/** Fills v with the standard basis vector least covered by rows 0..i-1, orthogonalized against them. */
function completeWithBasis(a: Mat, i: number, v: Float64Array): number {
  const covered = new Float64Array(a.cols);
  for (let j = 0; j < i; j++) {
    const r = row(a, j);
    for (let c = 0; c < a.cols; c++) covered[c] += r[c]! * r[c]!;
  }
  let best = 0;
  for (let c = 1; c < a.cols; c++) if (covered[c]! < covered[best]!) best = c;
  v.fill(0);
  v[best] = 1;
  return project(a, i, v);
}
