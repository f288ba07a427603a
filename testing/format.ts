/** How the test helpers' reports print numbers: enough digits to compare, exponents for the very small and large. */

/** `x` to `digits` significant digits: plain decimals from 0.001 to 1e7, exponent notation outside, trailing zeros dropped. */
export function formatValue(x: number, digits = 7): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e7) return x.toExponential(digits - 1).replace(/\.?0+e/, "e");
  return String(Number(x.toPrecision(digits)));
}
