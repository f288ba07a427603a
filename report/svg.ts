/**
 * Dependency-free SVG charts as strings, for reports that must render
 * anywhere (GitHub markdown, a browser, no JS). Bad data — empty series,
 * NaN, a single point — draws what it can and never throws.
 */
import { formatNumber } from "../util/format.ts";
import { linearAxis, logAxis, tightLinearAxis, tightLogAxis, type Axis } from "./niceTicks.ts";
import { methodColor, PALETTE } from "./methodColors.ts";

/** One (x, y) data point. */
export type Point = [number, number];
/** A shaded range around a series at x, from lo to hi (for example mean ± one standard deviation). */
export type BandPoint = [x: number, lo: number, hi: number];
/** One line: its legend name, its points in x order, and how it is drawn. */
export type LineSeries = {
  name: string;
  points: Point[];
  /** CSS colour; default `methodColor(name)`, so a method has one colour in every chart. */
  color?: string;
  /** A circle at each point (for sparse measurements such as validation losses). */
  markers?: boolean;
  /** A translucent area in the series colour, drawn under the line. */
  band?: BandPoint[];
};
/** A line chart: axes end at the data's extent in x; y is padded out to round ticks. */
export type LineChartOptions = {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  logY?: boolean;
  logX?: boolean;
  width?: number;
  height?: number;
};
/** One bar; `error` holds absolute bounds (say min and max), not ± deltas. */
export type Bar = {
  label: string;
  value: number;
  /** absolute bounds, not ± deltas */ error?: [number, number];
  color?: string;
};
/** A bar chart: one labelled bar per entry, its value printed on it, optional error bars. */
export type BarChartOptions = {
  title: string;
  yLabel: string;
  bars: Bar[];
  /** A caption under the bar labels. */
  xLabel?: string;
  /** Print each bar's value above it (default true). */
  valueLabels?: boolean;
  width?: number;
  height?: number;
};

/** Beyond the palette's colours, dash patterns keep lines apart. */
const DASHES = ["", "6 3", "2 3"];
const color = (i: number) => PALETTE[i % PALETTE.length];
const dash = (i: number) => DASHES[Math.floor(i / PALETTE.length) % DASHES.length];

/** Escape for text and attribute values; also drops control characters XML 1.0 forbids outright. */
export const escapeXml = (s: string): string =>
  s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
    .replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

const n = (x: number) => String(Math.round(x * 100) / 100);

const text = (x: number, y: number, s: string, attrs = ""): string =>
  `<text x="${n(x)}" y="${n(y)}"${attrs ? " " + attrs : ""}>${escapeXml(s)}</text>`;

type Frame = { width: number; height: number; left: number; right: number; top: number; bottom: number };

/** Background, title, y label and y gridlines with tick labels; `sy` maps data y to pixels. */
const frameParts = (f: Frame, title: string, yLabel: string, yAxis: Axis, sy: (y: number) => number): string[] => [
  `<rect width="${f.width}" height="${f.height}" fill="white"/>`,
  text(f.width / 2, 22, title, `text-anchor="middle" font-size="15" font-weight="bold"`),
  text(
    16,
    (f.top + f.bottom) / 2,
    yLabel,
    `text-anchor="middle" transform="rotate(-90 16 ${n((f.top + f.bottom) / 2)})"`,
  ),
  ...yAxis.ticks.flatMap((t) => [
    `<line x1="${f.left}" x2="${f.right}" y1="${n(sy(t))}" y2="${n(sy(t))}" stroke="#e5e5e5"/>`,
    text(f.left - 6, sy(t) + 4, formatNumber(t, 3), `text-anchor="end"`),
  ]),
  `<rect x="${f.left}" y="${f.top}" width="${f.right - f.left}" height="${f.bottom - f.top}" fill="none" stroke="#333"/>`,
];

const svgDocument = (f: Frame, parts: string[]): string =>
  [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" font-family="sans-serif" font-size="12">`,
    ...parts,
    "</svg>",
  ].join("\n") + "\n";

const scale = (domain: [number, number], from: number, to: number, log = false) => {
  const t = log ? Math.log10 : (x: number) => x;
  const [a, b] = [t(domain[0]), t(domain[1])];
  return (x: number) => from + ((t(x) - a) / (b - a)) * (to - from);
};

/** Whether a value can sit on an axis: finite, and positive on a log axis. */
const onAxis = (v: number, log: boolean): boolean => Number.isFinite(v) && (!log || v > 0);

/** Runs of consecutive drawable entries: a NaN (or, on a log axis, a value ≤ 0) breaks the line rather than bridging it. */
const segments = <T extends number[]>(entries: T[], ok: (e: T) => boolean): T[][] => {
  const out: T[][] = [[]];
  for (const e of entries) {
    if (ok(e)) out[out.length - 1].push(e);
    else if (out[out.length - 1].length > 0) out.push([]);
  }
  return out.filter((s) => s.length > 0);
};

/** The smallest and largest of `xs` (NaN, NaN when empty); a loop, as spreading 10⁵+ points into Math.min overflows the stack. */
const extent = (xs: number[]): [number, number] => {
  let lo = NaN,
    hi = NaN;
  for (const x of xs) {
    if (!(x >= lo)) lo = x;
    if (!(x <= hi)) hi = x;
  }
  return [lo, hi];
};

/**
 * Colours for names drawn together: each its `methodColor`, except where an earlier name (or a fixed colour
 * in `taken`) already has it: then the first palette colour still free, so no two series look alike.
 */
export function distinctColors(names: readonly string[], taken: Iterable<string> = []): string[] {
  const used = new Set(taken);
  return names.map((name) => {
    const c = [methodColor(name), ...PALETTE].find((p) => !used.has(p)) ?? methodColor(name);
    used.add(c);
    return c;
  });
}

/** Each series' colour: its own, else a distinct default (distinctColors). */
const seriesColors = (series: LineSeries[]): string[] => {
  const defaults = distinctColors(
    series.filter((s) => !s.color).map((s) => s.name),
    series.flatMap((s) => (s.color ? [s.color] : [])),
  );
  return series.map((s) => s.color ?? defaults.shift()!);
};

/** A line chart of named series, with optional markers, bands, log axes; bad data draws what it can. */
export const lineChart = (o: LineChartOptions): string => {
  const logY = o.logY ?? false,
    logX = o.logX ?? false;
  const segs = o.series.map((s) => segments(s.points, ([x, y]) => onAxis(x, logX) && onAxis(y, logY)));
  const bands = o.series.map((s) =>
    segments(s.band ?? [], ([x, lo, hi]) => onAxis(x, logX) && onAxis(lo, logY) && onAxis(hi, logY)),
  );
  const all = segs.flat(2);
  const xs = [...all.map((p) => p[0]), ...bands.flat(2).map((b) => b[0])];
  const ys = [...all.map((p) => p[1]), ...bands.flat(2).flatMap((b) => [b[1], b[2]])];
  const colors = seriesColors(o.series);
  const legendWidth = o.series.length > 0 ? Math.min(200, 40 + 7 * Math.max(...o.series.map((s) => s.name.length))) : 0;
  const f: Frame = { width: o.width ?? 720, height: o.height ?? 420, left: 70, top: 40, right: 0, bottom: 0 };
  f.right = f.width - 20 - legendWidth;
  f.bottom = f.height - 50;
  const xAxis = logX ? tightLogAxis(...extent(xs)) : tightLinearAxis(...extent(xs));
  const yAxis = logY ? logAxis(...extent(ys)) : linearAxis(...extent(ys));
  const sx = scale(xAxis.domain, f.left, f.right, logX),
    sy = scale(yAxis.domain, f.bottom, f.top, logY);
  const parts = frameParts(f, o.title, o.yLabel, yAxis, sy);
  for (const t of xAxis.ticks) {
    parts.push(
      `<line x1="${n(sx(t))}" x2="${n(sx(t))}" y1="${f.top}" y2="${f.bottom}" stroke="#f0f0f0"/>`,
      text(sx(t), f.bottom + 16, formatNumber(t, 3), `text-anchor="middle"`),
    );
  }
  parts.push(text((f.left + f.right) / 2, f.height - 12, o.xLabel, `text-anchor="middle"`));
  if (all.length === 0)
    parts.push(text((f.left + f.right) / 2, (f.top + f.bottom) / 2, "no data", `text-anchor="middle" fill="#999"`));
  bands.forEach((bs, i) => {
    for (const b of bs) {
      const upper = b.map(([x, , hi]) => `${n(sx(x))} ${n(sy(hi))}`),
        lower = b.map(([x, lo]) => `${n(sx(x))} ${n(sy(lo))}`).reverse();
      parts.push(
        `<path d="M${[...upper, ...lower].join("L")}Z" class="band" fill="${colors[i]}" fill-opacity="0.2" stroke="none"/>`,
      );
    }
  });
  segs.forEach((ss, i) => {
    const s = o.series[i];
    const style = `stroke="${colors[i]}"${dash(i) ? ` stroke-dasharray="${dash(i)}"` : ""}`;
    const dot = (x: number, y: number, cls = "marker") =>
      `<circle class="${cls}" cx="${n(x)}" cy="${n(y)}" r="3" fill="${colors[i]}"/>`;
    for (const seg of ss) {
      if (seg.length > 1)
        parts.push(
          `<polyline fill="none" stroke-width="1.5" ${style} points="${seg.map(([x, y]) => `${n(sx(x))},${n(sy(y))}`).join(" ")}"/>`,
        );
      if (s.markers || seg.length === 1) parts.push(...seg.map(([x, y]) => dot(sx(x), sy(y))));
    }
    const ly = f.top + 10 + i * 18;
    parts.push(
      `<line x1="${f.right + 12}" x2="${f.right + 32}" y1="${ly}" y2="${ly}" stroke-width="2" ${style}/>`,
      ...(s.markers ? [dot(f.right + 22, ly, "legend-marker")] : []),
      text(f.right + 38, ly + 4, s.name),
    );
  });
  return svgDocument(f, parts);
};

/**
 * A y axis for bars: from 0 (or the lowest value) to the highest bar or error bar, widened so that
 * `room` pixels stay free between the tallest mark and the frame, for its value label.
 */
const barAxis = (ys: number[], room: number, plotHeight: number): Axis => {
  const lo = Math.min(0, ...ys),
    hi = Math.max(0, ...ys);
  const span = hi - lo || 1,
    pad = (span * room) / Math.max(1, plotHeight - 2 * room);
  return linearAxis(lo < 0 ? lo - pad : lo, hi > 0 ? hi + pad : hi);
};

/** A bar chart with value labels and optional min–max error bars; the tallest mark keeps clear of the frame. */
export const barChart = (o: BarChartOptions): string => {
  const rotate = o.bars.length > 6 || o.bars.some((b) => b.label.length > 12);
  const values = o.valueLabels ?? true;
  const f: Frame = { width: o.width ?? 720, height: o.height ?? 420, left: 70, top: 40, right: 0, bottom: 0 };
  f.right = f.width - 20;
  f.bottom = f.height - (rotate ? 100 : 40) - (o.xLabel ? 18 : 0);
  const ys = o.bars.flatMap((b) => [b.value, ...(b.error ?? [])]).filter(Number.isFinite);
  const yAxis = barAxis(ys, values ? 22 : 10, f.bottom - f.top);
  const sy = scale(yAxis.domain, f.bottom, f.top);
  const parts = frameParts(f, o.title, o.yLabel, yAxis, sy);
  const slot = (f.right - f.left) / Math.max(1, o.bars.length);
  o.bars.forEach((b, i) => {
    const cx = f.left + slot * (i + 0.5),
      w = slot * 0.7;
    const err = b.error && b.error.every(Number.isFinite) ? b.error : undefined;
    if (Number.isFinite(b.value)) {
      const [y0, y1] = [sy(0), sy(b.value)].sort((a, c) => a - c);
      parts.push(
        `<rect x="${n(cx - w / 2)}" y="${n(y0)}" width="${n(w)}" height="${n(y1 - y0)}" fill="${b.color ?? color(i)}"><title>${escapeXml(`${b.label}: ${b.value}`)}</title></rect>`,
      );
    }
    if (err) {
      const [lo, hi] = err.map(sy),
        cap = Math.min(8, w / 4);
      parts.push(
        `<path d="M${n(cx)} ${n(lo)}V${n(hi)}M${n(cx - cap)} ${n(lo)}H${n(cx + cap)}M${n(cx - cap)} ${n(hi)}H${n(cx + cap)}" class="error" stroke="#222" fill="none"/>`,
      );
    }
    if (values && Number.isFinite(b.value)) {
      const up = b.value >= 0,
        edge = up ? Math.max(b.value, ...(err ?? [])) : Math.min(b.value, ...(err ?? []));
      parts.push(
        text(
          cx,
          sy(edge) + (up ? -6 : 14),
          formatNumber(b.value, 3),
          `class="value" text-anchor="middle" font-size="11"`,
        ),
      );
    }
    parts.push(
      rotate
        ? text(cx, f.bottom + 14, b.label, `text-anchor="end" transform="rotate(-35 ${n(cx)} ${n(f.bottom + 14)})"`)
        : text(cx, f.bottom + 16, b.label, `text-anchor="middle"`),
    );
  });
  if (o.xLabel) parts.push(text((f.left + f.right) / 2, f.height - 10, o.xLabel, `text-anchor="middle"`));
  parts.push(`<line x1="${f.left}" x2="${f.right}" y1="${n(sy(0))}" y2="${n(sy(0))}" stroke="#333"/>`);
  return svgDocument(f, parts);
};
