import type { Rng } from "../rng.ts";
import { dot, fromArray, gram, mat, mulNN, mulNT, orthonormalizeRows, row, transpose, type Mat } from "./mat.ts";
import { symEig } from "./symEig.ts";

/**
 * Thin singular value decompositions A = U·diag(S)·Vᵀ on the host, for what runs every few hundred
 * steps (Fira's gradient projections, SST's inits and re-SVDs), never per step.
 *
 * `svd64` is exact: with A oriented tall (m ≥ n, transposing otherwise), the eigenvectors of AᵀA are V,
 * σᵢ = ‖A·vᵢ‖ and uᵢ = A·vᵢ/σᵢ. Squaring A squares its condition number, which float64 absorbs for
 * float32 inputs and outputs: σ's accurate to ~1e-16·σ₁²/σᵢ, far below float32's 6e-8·σᵢ for every
 * σᵢ ≥ 1e-4·σ₁. Columns of U whose σ is small (below 1e-3·σ₁, where A·vᵢ/σᵢ loses orthogonality) are
 * re-orthonormalized against the earlier ones, and completed to a basis where A is rank-deficient, so
 * U and V are always orthonormal.
 *
 * `svdTop` is the randomized range finder (Halko, Martinsson & Tropp 2011): Q spans A·Ω for a Gaussian
 * Ω of r + p columns, refined by power iterations; the exact SVD of the small Qᵀ·A gives the top r.
 */
export interface Svd {
  /** A is m×n; k singular triplets were kept. */
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** m×k, row-major, orthonormal columns. */
  readonly U: Float32Array;
  /** k values, non-increasing, ≥ 0. */
  readonly S: Float32Array;
  /** n×k, row-major, orthonormal columns. */
  readonly V: Float32Array;
}

/** The float64 form: the singular vectors as the ROWS of ut (k×m) and vt (k×n). */
export interface Svd64 {
  readonly ut: Mat;
  readonly s: Float64Array;
  readonly vt: Mat;
}

const SMALL_SIGMA = 1e-3;

/** The exact thin SVD of the m×n row-major `a` (k = min(m, n) triplets). */
export function svd(a: ArrayLike<number>, m: number, n: number): Svd {
  checkShape(a, m, n);
  return toSvd(svd64(fromArray(a, m, n)), m, n);
}

/** The top-r triplets of the m×n row-major `a`, by randomized range finding (exact when r + oversample ≥ min(m, n)). */
export function svdTop(
  a: ArrayLike<number>,
  m: number,
  n: number,
  r: number,
  rng: Rng,
  opts: { oversample?: number; powerIters?: number } = {},
): Svd {
  checkShape(a, m, n);
  if (!(Number.isInteger(r) && r >= 1 && r <= Math.min(m, n)))
    throw new RangeError(`svdTop: rank must be in [1, ${Math.min(m, n)}], got ${r}`);
  return toSvd(truncate(svdTop64(fromArray(a, m, n), r, rng, opts), r), m, n);
}

export function svd64(a: Mat): Svd64 {
  if (a.rows < a.cols) {
    const t = svd64(transpose(a));
    return { ut: t.vt, s: t.s, vt: t.ut };
  }
  const { vectors: vt } = symEig(gram(a)); // rows: right singular vectors, by descending σ²
  const av = mulNT(vt, a); // row i = (A·vᵢ)ᵀ, of length m
  const norms = Float64Array.from({ length: vt.rows }, (_, i) => Math.sqrt(dot(row(av, i), row(av, i))));
  // σ = ‖A·v‖ (not √λ): consistent with u = A·v/σ, so U·diag(σ)·Vᵀ = A·V·Vᵀ = A to rounding
  const order = Array.from(norms.keys()).sort((x, y) => norms[y]! - norms[x]!);
  const s = Float64Array.from(order, (i) => norms[i]!);
  const ut = mat(vt.rows, a.rows),
    vs = mat(vt.rows, vt.cols);
  order.forEach((src, dst) => {
    row(vs, dst).set(row(vt, src));
    const u = row(ut, dst);
    u.set(row(av, src));
    if (s[dst]! > 0) for (let j = 0; j < u.length; j++) u[j] /= s[dst]!;
  });
  const firstSmall = s.findIndex((x) => !(x > SMALL_SIGMA * s[0]!));
  if (firstSmall >= 0) orthonormalizeRows(ut, firstSmall);
  return { ut, s, vt: vs };
}

export function svdTop64(a: Mat, r: number, rng: Rng, opts: { oversample?: number; powerIters?: number } = {}): Svd64 {
  const l = r + (opts.oversample ?? 8);
  if (l >= Math.min(a.rows, a.cols)) return svd64(a);
  // Q (as rows, l×m) spans the range of A·Ω; each power iteration multiplies by A·Aᵀ, sharpening the
  // separation between the top r directions and the rest (re-orthonormalized to stay accurate)
  const omega = mat(l, a.cols);
  for (let i = 0; i < omega.data.length; i++) omega.data[i] = rng.normal();
  let qt = mulNT(omega, a);
  orthonormalizeRows(qt);
  for (let it = 0; it < (opts.powerIters ?? 2); it++) {
    const zt = mulNN(qt, a); // (Aᵀ·Q)ᵀ = Qᵀ·A, l×n
    orthonormalizeRows(zt);
    qt = mulNT(zt, a); // (A·Z)ᵀ, l×m
    orthonormalizeRows(qt);
  }
  const small = svd64(mulNN(qt, a)); // of Qᵀ·A (l×n); its left vectors are in Q's coordinates
  return { ut: mulNN(small.ut, qt), s: small.s, vt: small.vt }; // (Q·U_small)ᵀ
}

function truncate(x: Svd64, r: number): Svd64 {
  const keep = (m: Mat) => mat(r, m.cols, m.data.slice(0, r * m.cols));
  return { ut: keep(x.ut), s: x.s.slice(0, r), vt: keep(x.vt) };
}

function toSvd(x: Svd64, m: number, n: number): Svd {
  return {
    m,
    n,
    k: x.s.length,
    U: Float32Array.from(transpose(x.ut).data),
    S: Float32Array.from(x.s),
    V: Float32Array.from(transpose(x.vt).data),
  };
}

function checkShape(a: ArrayLike<number>, m: number, n: number): void {
  if (!(Number.isInteger(m) && Number.isInteger(n) && m >= 1 && n >= 1))
    throw new RangeError(`svd: dimensions must be positive integers, got ${m}x${n}`);
  if (a.length !== m * n) throw new RangeError(`svd: a ${m}x${n} matrix needs ${m * n} values, got ${a.length}`);
}
