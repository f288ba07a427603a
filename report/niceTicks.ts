/**
 * Axis domains and tick values at round numbers (1, 2, 5 × 10ᵏ), so chart
 * gridlines land on values a reader can use, not on the raw data extremes.
 */
export type Axis = { domain: [number, number]; ticks: number[] };

/** Round off float noise from repeated addition (0.30000000000000004 → 0.3). */
const clean = (x: number): number => Number(x.toPrecision(12));

/** A 1/2/5 × 10ᵏ step giving about `target` intervals over `span`. */
const niceStep = (span: number, target: number): number => {
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
};

/** Ticks covering [min, max], widened to whole steps; an empty span is padded so one value still gets an axis. */
export const linearAxis = (min: number, max: number, target = 5): Axis => {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return linearAxis(0, 1, target);
  if (!(max > min)) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.5;
    return linearAxis(min - pad, max + pad, target);
  }
  const step = niceStep(max - min, target);
  const lo = Math.floor(min / step) * step,
    hi = Math.ceil(max / step) * step;
  const n = Math.round((hi - lo) / step);
  return { domain: [clean(lo), clean(hi)], ticks: Array.from({ length: n + 1 }, (_, i) => clean(lo + i * step)) };
};

/** Whole decades covering [min, max] (both > 0), with 2× and 5× ticks added when there are only a few decades. */
export const logAxis = (min: number, max: number): Axis => {
  if (!(min > 0) || !Number.isFinite(max) || max < min) return logAxis(1, 10);
  // The 1e-9 slack keeps float noise (10.000000001) from adding a whole empty decade.
  const lo = Math.floor(Math.log10(min) + 1e-9);
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max) - 1e-9));
  const every = Math.ceil((hi - lo) / 8);
  const ticks: number[] = [];
  for (let k = lo; k <= hi; k += every) {
    ticks.push(clean(10 ** k));
    if (hi - lo <= 2 && k < hi) ticks.push(clean(2 * 10 ** k), clean(5 * 10 ** k));
  }
  return { domain: [clean(10 ** lo), clean(10 ** hi)], ticks };
};

/** Keep the ticks of `a` that lie inside [min, max] (with a hair of slack for float noise) and set the domain to exactly [min, max]. */
const clip = (a: Axis, min: number, max: number): Axis => {
  const eps = (max - min) * 1e-9;
  return { domain: [min, max], ticks: a.ticks.filter((t) => t >= min - eps && t <= max + eps) };
};

/**
 * An axis that ends at the data: the domain is exactly [min, max] (so 100k tokens of data do not draw an
 * axis to 120k) and the round ticks are those inside it. A single value or non-finite input falls back to
 * `linearAxis`'s padded axis, which has nothing better to end at.
 */
export const tightLinearAxis = (min: number, max: number, target = 5): Axis =>
  Number.isFinite(min) && Number.isFinite(max) && max > min
    ? clip(linearAxis(min, max, target), min, max)
    : linearAxis(min, max, target);

/**
 * A log axis that ends at the data, like `tightLinearAxis`: decade (and 2×, 5×) ticks inside [min, max];
 * when fewer than two fall inside, the ends themselves are ticks, so the axis always has labels.
 */
export const tightLogAxis = (min: number, max: number): Axis => {
  if (!(min > 0) || !Number.isFinite(max) || !(max > min)) return logAxis(min, max);
  const lo = Math.floor(Math.log10(min) + 1e-9),
    hi = Math.ceil(Math.log10(max) - 1e-9);
  const ticks: number[] = [];
  const every = Math.ceil((hi - lo) / 8);
  for (let k = lo; k <= hi; k += every) for (const m of hi - lo <= 2 ? [1, 2, 5] : [1]) ticks.push(clean(m * 10 ** k));
  const inside = clip({ domain: [min, max], ticks }, min, max);
  return inside.ticks.length >= 2 ? inside : { domain: [min, max], ticks: [clean(min), clean(max)] };
};
