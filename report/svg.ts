/**
 * Dependency-free SVG charts as strings, for reports that must render
 * anywhere (GitHub markdown, a browser, no JS). Bad data — empty series,
 * NaN, a single point — draws what it can and never throws.
 */
import { formatNumber } from "../util/format.ts";
import { linearAxis, logAxis, type Axis } from "./niceTicks.ts";

export type Point = [number, number];
export type LineSeries = { name: string; points: Point[] };
export type LineChartOptions = {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  logY?: boolean;
  width?: number;
  height?: number;
};
export type Bar = { label: string; value: number; /** absolute bounds, not ± deltas */ error?: [number, number] };
export type BarChartOptions = { title: string; yLabel: string; bars: Bar[]; width?: number; height?: number };

/** Tableau 10: distinct and colorblind-tolerant. Beyond ten series, dash patterns keep lines apart. */
const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];
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

/** Runs of consecutive drawable points: a NaN (or, on a log axis, a y ≤ 0) breaks the line rather than bridging it. */
const segments = (points: Point[], logY: boolean): Point[][] => {
  const out: Point[][] = [[]];
  for (const [x, y] of points) {
    if (Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0)) out[out.length - 1].push([x, y]);
    else if (out[out.length - 1].length > 0) out.push([]);
  }
  return out.filter((s) => s.length > 0);
};

const extent = (xs: number[]): [number, number] => (xs.length === 0 ? [NaN, NaN] : [Math.min(...xs), Math.max(...xs)]);

export const lineChart = (o: LineChartOptions): string => {
  const logY = o.logY ?? false;
  const segs = o.series.map((s) => segments(s.points, logY));
  const all = segs.flat(2);
  const legendWidth = o.series.length > 0 ? Math.min(200, 40 + 7 * Math.max(...o.series.map((s) => s.name.length))) : 0;
  const f: Frame = { width: o.width ?? 720, height: o.height ?? 420, left: 70, top: 40, right: 0, bottom: 0 };
  f.right = f.width - 20 - legendWidth;
  f.bottom = f.height - 50;
  const xAxis = linearAxis(...extent(all.map((p) => p[0])));
  const yAxis = logY ? logAxis(...extent(all.map((p) => p[1]))) : linearAxis(...extent(all.map((p) => p[1])));
  const sx = scale(xAxis.domain, f.left, f.right),
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
  segs.forEach((ss, i) => {
    const style = `stroke="${color(i)}"${dash(i) ? ` stroke-dasharray="${dash(i)}"` : ""}`;
    for (const s of ss) {
      parts.push(
        s.length === 1
          ? `<circle cx="${n(sx(s[0][0]))}" cy="${n(sy(s[0][1]))}" r="3" fill="${color(i)}"/>`
          : `<polyline fill="none" stroke-width="1.5" ${style} points="${s.map(([x, y]) => `${n(sx(x))},${n(sy(y))}`).join(" ")}"/>`,
      );
    }
    const ly = f.top + 10 + i * 18;
    parts.push(
      `<line x1="${f.right + 12}" x2="${f.right + 32}" y1="${ly}" y2="${ly}" stroke-width="2" ${style}/>`,
      text(f.right + 38, ly + 4, o.series[i].name),
    );
  });
  return svgDocument(f, parts);
};

export const barChart = (o: BarChartOptions): string => {
  const rotate = o.bars.length > 6 || o.bars.some((b) => b.label.length > 12);
  const f: Frame = { width: o.width ?? 720, height: o.height ?? 420, left: 70, top: 40, right: 0, bottom: 0 };
  f.right = f.width - 20;
  f.bottom = f.height - (rotate ? 100 : 40);
  const ys = o.bars.flatMap((b) => [b.value, ...(b.error ?? [])]).filter(Number.isFinite);
  const yAxis = linearAxis(Math.min(0, ...ys), Math.max(0, ...ys));
  const sy = scale(yAxis.domain, f.bottom, f.top);
  const parts = frameParts(f, o.title, o.yLabel, yAxis, sy);
  const slot = (f.right - f.left) / Math.max(1, o.bars.length);
  o.bars.forEach((b, i) => {
    const cx = f.left + slot * (i + 0.5),
      w = slot * 0.7;
    if (Number.isFinite(b.value)) {
      const [y0, y1] = [sy(0), sy(b.value)].sort((a, c) => a - c);
      parts.push(
        `<rect x="${n(cx - w / 2)}" y="${n(y0)}" width="${n(w)}" height="${n(y1 - y0)}" fill="${color(i)}"><title>${escapeXml(`${b.label}: ${b.value}`)}</title></rect>`,
      );
    }
    if (b.error && b.error.every(Number.isFinite)) {
      const [lo, hi] = b.error.map(sy),
        cap = Math.min(8, w / 4);
      parts.push(
        `<path d="M${n(cx)} ${n(lo)}V${n(hi)}M${n(cx - cap)} ${n(lo)}H${n(cx + cap)}M${n(cx - cap)} ${n(hi)}H${n(cx + cap)}" stroke="#222" fill="none"/>`,
      );
    }
    parts.push(
      rotate
        ? text(cx, f.bottom + 14, b.label, `text-anchor="end" transform="rotate(-35 ${n(cx)} ${n(f.bottom + 14)})"`)
        : text(cx, f.bottom + 16, b.label, `text-anchor="middle"`),
    );
  });
  parts.push(`<line x1="${f.left}" x2="${f.right}" y1="${n(sy(0))}" y2="${n(sy(0))}" stroke="#333"/>`);
  return svgDocument(f, parts);
};
