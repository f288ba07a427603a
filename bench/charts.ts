/**
 * Charts a suite asks for, as plain data (saved in its JSON, so the summary can be redrawn from the JSON
 * alone), and the log-log line chart that scaling needs: both axes in decades, a power law is a straight
 * line whose slope is the exponent. Bars come from report/svg.ts's barChart.
 */
import { barChart, escapeXml, type BarChartOptions } from "../report/svg.ts";
import { logAxis } from "../report/niceTicks.ts";
import { formatNumber } from "../util/format.ts";

export type LogLogSeries = { name: string; points: [number, number][] };
export type LogLogOptions = {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LogLogSeries[];
  width?: number;
  height?: number;
};

/** `file` is a bare name (no folder): the SVG is written next to the suite's JSON. */
export type SuiteChart =
  { kind: "bar"; file: string; options: BarChartOptions } | { kind: "loglog"; file: string; options: LogLogOptions };

export const renderChart = (c: SuiteChart): string => (c.kind === "bar" ? barChart(c.options) : logLogChart(c.options));

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
const r2 = (x: number) => String(Math.round(x * 100) / 100);
const text = (x: number, y: number, s: string, attrs = "") =>
  `<text x="${r2(x)}" y="${r2(y)}"${attrs ? " " + attrs : ""}>${escapeXml(s)}</text>`;

/** Points with x or y not positive and finite cannot sit on a log axis: they are left out (a series with none draws nothing). */
const drawable = (ps: [number, number][]) =>
  ps.filter(([x, y]) => x > 0 && y > 0 && Number.isFinite(x) && Number.isFinite(y));

export function logLogChart(o: LogLogOptions): string {
  const W = o.width ?? 720,
    Hh = o.height ?? 420;
  const series = o.series.map((s) => ({ name: s.name, points: drawable(s.points).sort((a, b) => a[0] - b[0]) }));
  const all = series.flatMap((s) => s.points);
  const legend = series.length ? Math.min(200, 40 + 7 * Math.max(...series.map((s) => s.name.length))) : 0;
  const [left, top, right, bottom] = [70, 40, W - 20 - legend, Hh - 50];
  const xa = all.length
    ? logAxis(Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0])))
    : logAxis(1, 10);
  const ya = all.length
    ? logAxis(Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1])))
    : logAxis(1, 10);
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
      text(left - 6, sy(t) + 4, formatNumber(t, 3), `text-anchor="end"`),
    ]),
    ...xa.ticks.flatMap((t) => [
      `<line x1="${r2(sx(t))}" x2="${r2(sx(t))}" y1="${top}" y2="${bottom}" stroke="#f0f0f0"/>`,
      text(sx(t), bottom + 16, formatNumber(t, 3), `text-anchor="middle"`),
    ]),
    `<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#333"/>`,
  ];
  if (all.length === 0)
    parts.push(text((left + right) / 2, (top + bottom) / 2, "no data", `text-anchor="middle" fill="#999"`));
  series.forEach((s, i) => {
    const c = PALETTE[i % PALETTE.length];
    if (s.points.length > 1)
      parts.push(
        `<polyline fill="none" stroke-width="1.5" stroke="${c}" points="${s.points.map(([x, y]) => `${r2(sx(x))},${r2(sy(y))}`).join(" ")}"/>`,
      );
    for (const [x, y] of s.points)
      parts.push(
        `<circle cx="${r2(sx(x))}" cy="${r2(sy(y))}" r="3" fill="${c}"><title>${escapeXml(`${s.name}: ${formatNumber(x, 4)}, ${formatNumber(y, 4)}`)}</title></circle>`,
      );
    const ly = top + 10 + i * 18;
    parts.push(
      `<line x1="${right + 12}" x2="${right + 32}" y1="${ly}" y2="${ly}" stroke-width="2" stroke="${c}"/>`,
      text(right + 38, ly + 4, s.name),
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
