/**
 * Charts a suite asks for, as plain data (saved in its JSON, so the summary redraws them from the JSON
 * alone, looking the same), and the log-log line chart that scaling needs: a power law is a straight line
 * whose slope is the exponent. Both axes are fitted to the data (bench/chartAxes.ts), a point measured
 * several times has a min–max whisker, a reference series (an analytic prediction) is a dashed line in
 * the legend, and every series takes its method's colour (report/methodColors.ts), the same in every
 * chart. Bars come from report/svg.ts's barChart, coloured by method the same way.
 */
import { barChart, escapeXml, type Bar, type BarChartOptions } from "../report/svg.ts";
import { METHODS } from "../methods/index.ts";
import { methodColor } from "../report/methodColors.ts";
import { fittedLogAxis, formatTick, type AxisUnit } from "./chartAxes.ts";

/** One point: x, y (a median) and, where it was measured several times, y's min and max. */
export type LogLogPoint = [x: number, y: number] | [x: number, y: number, min: number, max: number];

/** A named line of a log-log chart. */
export type LogLogSeries = {
  name: string;
  points: LogLogPoint[];
  /** The method whose colour the line takes (report/methodColors.ts); `name` when absent. */
  method?: string;
  /** A reference line (an analytic prediction, a peak): dashed, without markers, named in the legend. */
  reference?: boolean;
};

/** A log-log chart: labels say what each axis measures and in what unit; `xUnit`/`yUnit` also go on the ticks (bench/chartAxes.ts). */
export type LogLogOptions = {
  title: string;
  xLabel: string;
  yLabel: string;
  xUnit?: AxisUnit;
  yUnit?: AxisUnit;
  series: LogLogSeries[];
  width?: number;
  height?: number;
};

/** A bar of a bench chart: report/svg.ts's Bar (error = [min, max]) and the method whose colour it takes (its label's when absent). */
export type BenchBar = Bar & { method?: string };

/** A bar chart's options, its bars tagged with their methods. */
export type BenchBarOptions = Omit<BarChartOptions, "bars"> & { bars: BenchBar[] };

/** `file` is a bare name (no folder): the SVG is written next to the suite's JSON. */
export type SuiteChart =
  { kind: "bar"; file: string; options: BenchBarOptions } | { kind: "loglog"; file: string; options: LogLogOptions };

/** The method a bar's label opens with ("cola torch-cpu" → "cola"), for bars saved without one; else the whole label. */
const barMethod = (label: string): string => {
  const first = label.split(" ")[0] ?? label;
  return METHODS.includes(first) ? first : label;
};

/** The SVG of a chart spec: the one path both a suite's run and the summary's redraw from JSON take. */
export const renderChart = (c: SuiteChart): string =>
  c.kind === "bar"
    ? barChart({
        ...c.options,
        bars: c.options.bars.map(({ method, ...b }) => ({
          ...b,
          color: b.color ?? methodColor(method ?? barMethod(b.label)),
        })),
      })
    : logLogChart(c.options);

const r2 = (x: number) => String(Math.round(x * 100) / 100);
const text = (x: number, y: number, s: string, attrs = "") =>
  `<text x="${r2(x)}" y="${r2(y)}"${attrs ? " " + attrs : ""}>${escapeXml(s)}</text>`;
const ok = (v: number | undefined): v is number => v !== undefined && v > 0 && Number.isFinite(v);

/** Points with x or y not positive and finite cannot sit on a log axis: they are left out (a series with none draws nothing); a range that cannot is dropped. */
const drawable = (ps: LogLogPoint[]): LogLogPoint[] =>
  ps
    .filter(([x, y]) => ok(x) && ok(y))
    .map((p) => (p.length === 4 && ok(p[2]) && ok(p[3]) && p[3] >= p[2] ? p : ([p[0], p[1]] as LogLogPoint)));

const DASH = "6 4";
/** Up to this many distinct x values, the ticks are the data's own x values. */
const MAX_DATA_TICKS = 8;

/** A log-log line chart as an SVG string; bad data (NaN, ≤ 0, no points) draws what it can and never throws. */
export function logLogChart(o: LogLogOptions): string {
  const series = o.series.map((s) => ({
    ...s,
    color: methodColor(s.method ?? s.name),
    points: drawable(s.points).sort((a, b) => a[0] - b[0]),
  }));
  const all = series.flatMap((s) => s.points);
  const ys = all.flatMap((p) => (p.length === 4 ? [p[1], p[2], p[3]] : [p[1]]));
  const longest = series.length ? Math.max(...series.map((s) => s.name.length)) : 0;
  const legend = series.length ? Math.min(270, 44 + 6.5 * longest) : 0;
  const W = o.width ?? 760,
    Hh = o.height ?? 420;
  const [left, top, right, bottom] = [78, 40, W - 20 - legend, Hh - 50];
  // a sweep's few sizes are the x values a reader looks for: they are the ticks
  const xs = [...new Set(all.map((p) => p[0]))].sort((a, b) => a - b);
  const xFit = xs.length ? fittedLogAxis(xs[0], xs[xs.length - 1]) : fittedLogAxis(1, 10);
  const xa = xs.length >= 2 && xs.length <= MAX_DATA_TICKS ? { ...xFit, ticks: xs } : xFit;
  const ya = ys.length ? fittedLogAxis(Math.min(...ys), Math.max(...ys)) : fittedLogAxis(1, 10);
  const map = (d: [number, number], a: number, b: number) => (v: number) =>
    a + ((Math.log10(v) - Math.log10(d[0])) / (Math.log10(d[1]) - Math.log10(d[0]))) * (b - a);
  const sx = map(xa.domain, left, right),
    sy = map(ya.domain, bottom, top);
  const parts = [
    `<rect width="${W}" height="${Hh}" fill="white"/>`,
    text(W / 2, 22, o.title, `text-anchor="middle" font-size="15" font-weight="bold"`),
    text(16, (top + bottom) / 2, o.yLabel, `text-anchor="middle" transform="rotate(-90 16 ${r2((top + bottom) / 2)})"`),
    text((left + right) / 2, Hh - 12, o.xLabel, `text-anchor="middle"`),
    ...ya.ticks.flatMap((t) => [
      `<line x1="${left}" x2="${right}" y1="${r2(sy(t))}" y2="${r2(sy(t))}" stroke="#e5e5e5"/>`,
      text(left - 6, sy(t) + 4, formatTick(t, o.yUnit), `text-anchor="end"`),
    ]),
    ...xa.ticks.flatMap((t) => [
      `<line x1="${r2(sx(t))}" x2="${r2(sx(t))}" y1="${top}" y2="${bottom}" stroke="#f0f0f0"/>`,
      text(sx(t), bottom + 16, formatTick(t, o.xUnit), `text-anchor="middle"`),
    ]),
    `<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#333"/>`,
  ];
  if (all.length === 0)
    parts.push(text((left + right) / 2, (top + bottom) / 2, "no data", `text-anchor="middle" fill="#999"`));
  const tip = (s: string, p: LogLogPoint) =>
    `${s}: ${formatTick(p[0], o.xUnit)}, ${formatTick(p[1], o.yUnit)}${p.length === 4 ? ` [${formatTick(p[2], o.yUnit)}-${formatTick(p[3], o.yUnit)}]` : ""}`;
  series.forEach((s, i) => {
    const c = s.color,
      dash = s.reference ? ` stroke-dasharray="${DASH}"` : "";
    if (s.points.length > 1)
      parts.push(
        `<polyline fill="none" stroke-width="${s.reference ? 1.5 : 2}" stroke="${c}"${dash} points="${s.points.map(([x, y]) => `${r2(sx(x))},${r2(sy(y))}`).join(" ")}"/>`,
      );
    for (const p of s.points) {
      const [cx, cy] = [sx(p[0]), sy(p[1])];
      if (p.length === 4 && p[3] > p[2])
        parts.push(
          `<path class="whisker" d="M${r2(cx)} ${r2(sy(p[2]))}V${r2(sy(p[3]))}M${r2(cx - 4)} ${r2(sy(p[2]))}H${r2(cx + 4)}M${r2(cx - 4)} ${r2(sy(p[3]))}H${r2(cx + 4)}" stroke="${c}" fill="none"/>`,
        );
      if (!s.reference || s.points.length === 1)
        parts.push(
          `<circle cx="${r2(cx)}" cy="${r2(cy)}" r="3" fill="${s.reference ? "white" : c}" stroke="${c}"><title>${escapeXml(tip(s.name, p))}</title></circle>`,
        );
    }
    const ly = top + 10 + i * 18;
    parts.push(
      `<line class="legend" x1="${right + 12}" x2="${right + 36}" y1="${ly}" y2="${ly}" stroke-width="2" stroke="${c}"${dash}/>`,
      text(right + 42, ly + 4, s.name),
    );
  });
  return (
    [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Hh}" viewBox="0 0 ${W} ${Hh}" font-family="sans-serif" font-size="12">`,
      ...parts,
      "</svg>",
    ].join("\n") + "\n"
  );
}
