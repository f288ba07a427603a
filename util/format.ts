/** Compact human-readable numbers and durations, shared by progress lines, tables and chart ticks. */

const SI = ["", "k", "M", "G", "T", "P", "E"];

/** Drop trailing fractional zeros ("1.20" → "1.2", "5.00" → "5", "1.50e-5" → "1.5e-5"). */
const trimZeros = (s: string): string => s.replace(/(\.\d*?)0+(?=$|e)/, "$1").replace(/\.(?=$|e)/, "");

/** `x` rounded to `digits` significant digits in fixed notation (toPrecision would switch to exponents). */
const significant = (x: number, digits: number): string =>
  x.toFixed(Math.min(100, Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(x))))));

/**
 * `n` to `digits` significant digits: SI suffixes from 1000 up (12.3k,
 * 1.2M, 3.4G), plain decimals down to 0.001, exponent notation below.
 * Integers under 1000 print exactly.
 */
export const formatNumber = (n: number, digits = 3): string => {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  const a = Math.abs(n);
  if (a === 0) return "0";
  if (a < 1000 && Number.isInteger(n)) return String(n);
  if (a < 1e-3) return trimZeros(n.toExponential(Math.max(0, digits - 1)));
  let k = 0;
  while (k < SI.length - 1 && a >= 1000 ** (k + 1)) k++;
  let text = significant(n / 1000 ** k, digits);
  // Rounding may reach the next unit (999.96k at 3 digits → 1000k), which should read 1M.
  if (Math.abs(Number(text)) >= 1000 && k < SI.length - 1) text = significant(n / 1000 ** ++k, digits);
  return trimZeros(text) + SI[k];
};

/** A duration in whole seconds as "45s", "3m12s", "2h05m", "3d04h"; "?" when unknown (non-finite or negative). */
export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const pad = (x: number) => String(x).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor(s / 3600) % 24)}h`;
};
