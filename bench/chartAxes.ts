/**
 * Axes for benchmark charts: a log axis fitted to the data (a small margin, round ticks inside it, not
 * whole decades that leave the data a third of the plot) and tick labels that carry their unit where the
 * number alone would be ambiguous (bytes as "12 MB", milliseconds as "350 ms" or "1.2 s").
 */
import type { Axis } from "../report/niceTicks.ts";
import { formatNumber } from "../util/format.ts";

/** Round off float noise from repeated multiplication (0.30000000000000004 → 0.3). */
const clean = (x: number): number => Number(x.toPrecision(12));

/** Mantissas per decade, coarsest first: the first set that gives at least four ticks inside the domain wins. */
const MANTISSAS: readonly (readonly number[])[] = [[1], [1, 2, 5], [1, 2, 3, 5], [1, 1.5, 2, 3, 4, 5, 6, 7, 8]];

/** The tick values m × 10ᵏ (m from `ms`) that lie in [lo, hi]. */
const ticksIn = (lo: number, hi: number, ms: readonly number[]): number[] => {
  const out: number[] = [];
  for (let k = Math.floor(Math.log10(lo)) - 1; k <= Math.ceil(Math.log10(hi)); k++)
    for (const m of ms) {
      const t = clean(m * 10 ** k);
      if (t >= lo && t <= hi) out.push(t);
    }
  return out;
};

/**
 * A log axis over [min, max] (both > 0) widened by `margin` of its span in decades on each side (at least
 * 5%; a lone value gets ±20%), with 1-2-5 ticks inside: only decades when the data spans many of them, finer
 * mantissas when it spans less than one, and at most about ten ticks.
 */
export function fittedLogAxis(min: number, max: number, margin = 0.05): Axis {
  if (!(min > 0) || !Number.isFinite(min) || !Number.isFinite(max) || max < min) return fittedLogAxis(1, 10, margin);
  const span = Math.log10(max) - Math.log10(min);
  const pad = span > 0 ? Math.max(span * margin, 0.02) : Math.log10(1.2);
  const lo = Math.min(min, clean(10 ** (Math.log10(min) - pad))),
    hi = Math.max(max, clean(10 ** (Math.log10(max) + pad)));
  const decades = Math.log10(hi) - Math.log10(lo);
  if (decades > 9) {
    const every = Math.ceil(decades / 8);
    return { domain: [lo, hi], ticks: ticksIn(lo, hi, [1]).filter((t) => Math.round(Math.log10(t)) % every === 0) };
  }
  let ticks = ticksIn(lo, hi, MANTISSAS[0]);
  for (const ms of MANTISSAS) {
    const next = ticksIn(lo, hi, ms);
    if (next.length > 10 && ticks.length >= 2) break;
    ticks = next;
    if (ticks.length >= 4) break;
  }
  // too narrow for two round ticks: the data's ends, to 3 digits where that stays inside
  const ends = [
    ...new Set(
      [min, max].map((v) =>
        Number(v.toPrecision(3)) >= lo && Number(v.toPrecision(3)) <= hi ? Number(v.toPrecision(3)) : v,
      ),
    ),
  ];
  return { domain: [lo, hi], ticks: ticks.length >= 2 ? ticks : ends };
}

/**
 * What an axis measures, so its tick labels can say it: "B" for bytes ("12 MB"), "ms" for milliseconds
 * ("350 ms", "1.2 s"); any other unit is named in the axis label, and the ticks stay bare numbers ("1.5k").
 */
export type AxisUnit = string;

/** A tick label in `unit`: bytes and milliseconds carry their unit, everything else prints as a compact number (whole numbers under 10⁴ exactly: 1024, not 1.02k). */
export function formatTick(v: number, unit?: AxisUnit): string {
  if (unit === "B") return `${formatNumber(v, 3)}B`.replace(/^([\d.]+)([kMGTPE]?)B$/, "$1 $2B");
  if (unit === "ms") return v >= 1000 ? `${formatNumber(v / 1000, 3)} s` : `${formatNumber(v, 3)} ms`;
  return Number.isInteger(v) && Math.abs(v) < 1e4 ? String(v) : formatNumber(v, 3);
}
