/**
 * Elementwise closeness of two arrays, the test of torch.testing.assert_close and numpy.allclose:
 * |a - b| <= atol + rtol * |b| everywhere (b is the expected value). NaN is never close.
 */

/** Tolerances of a closeness check: relative to the expected value, and absolute. */
export interface Tolerance {
  /** Relative tolerance (default 1e-3, float32-friendly). */
  readonly rtol?: number;
  /** Absolute tolerance (default 1e-4). */
  readonly atol?: number;
}

/** Largest violation of |a - b| <= atol + rtol * |b| over two arrays, or null when all are close. */
export function allcloseViolation(a: ArrayLike<number>, b: ArrayLike<number>, rtol = 1e-3, atol = 1e-4): string | null {
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length}`;
  let worst: string | null = null,
    worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i]! - b[i]!) - (atol + rtol * Math.abs(b[i]!));
    if (!(excess <= 0) && (worst === null || excess > worstExcess)) {
      worst = `at ${i}: ${a[i]} vs ${b[i]}`;
      worstExcess = excess;
    }
  }
  return worst;
}

/** True when `actual` and `expected` have the same length and every element is close. */
export const allclose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance = {}): boolean =>
  allcloseViolation(actual, expected, tol.rtol, tol.atol) === null;

/**
 * Throws an Error naming the worst element (and `what`, when given) unless every element of `actual`
 * is close to `expected`; for tests, where the message is the report.
 */
export function assertAllclose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance & { readonly what?: string } = {},
): void {
  const bad = allcloseViolation(actual, expected, tol.rtol, tol.atol);
  if (bad !== null) {
    const { rtol = 1e-3, atol = 1e-4 } = tol;
    throw new Error(`${tol.what ? `${tol.what}: ` : ""}not close (rtol ${rtol}, atol ${atol}): ${bad}`);
  }
}
