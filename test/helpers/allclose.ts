/** Largest violation of |a - b| <= atol + rtol * |b| over two arrays, or null when all are close. */
export function allcloseViolation(a: ArrayLike<number>, b: ArrayLike<number>, rtol = 1e-3, atol = 1e-4): string | null {
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length}`;
  let worst: string | null = null, worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i]! - b[i]!) - (atol + rtol * Math.abs(b[i]!));
    if (!(excess <= 0) && (worst === null || excess > worstExcess)) {
      worst = `at ${i}: ${a[i]} vs ${b[i]}`;
      worstExcess = excess;
    }
  }
  return worst;
}
