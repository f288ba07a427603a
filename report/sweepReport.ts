/**
 * The learning-rate sweep's part of a comparison report: the grid as a table (method × rate, final
 * validation loss, mean ± std over seeds, each method's best marked "(best)"), lr.svg (final validation loss
 * against the rate, log x axis, one line per method, a ±std band with several seeds), and the grid with
 * every run's result for results.json.
 */
import path from "node:path";
import { markdownTable } from "./markdownTable.ts";
import { methodColor } from "./methodColors.ts";
import { lineChart, type Point } from "./svg.ts";
import { gridCells, plusMinus, type GridCell, type SweepRun } from "./sweepGrid.ts";
import type { ReportSection } from "./compareReport.ts";
import { formatNumber } from "../util/format.ts";

/** What a sweep ran, as the report needs it. */
export interface SweepRecord {
  /** The grid's rates, in the order given. */
  readonly lrs: readonly number[];
  readonly seeds: readonly number[];
  readonly grid: readonly SweepRun[];
  readonly best: ReadonlyMap<string, number>;
  /** The full-budget runs at each method's best rate. */
  readonly finals: readonly SweepRun[];
  /** Tokens of each grid run: fewer than `tokens` when the grid was short (--sweep-tokens). */
  readonly gridTokens: number;
  /** Tokens of each final run. */
  readonly tokens: number;
}

const methodsOf = (cells: readonly GridCell[]) => [...new Set(cells.map((c) => c.method))];

/** A cell's text: mean ± std of the final validation loss, or what went wrong with its seeds. */
function cellText(c: GridCell): string {
  const diverged = c.runs.filter((r) => r.diverged !== undefined).length;
  if (diverged > 0) return diverged === c.runs.length ? "diverged" : `diverged (${diverged} of ${c.runs.length} seeds)`;
  if (!Number.isFinite(c.loss.mean)) return "non-finite";
  return plusMinus(c.loss.mean, c.loss.std, 4);
}

/**
 * The grid as a table: a row per method, a column per rate (the final validation loss there, mean ± std
 * over seeds; the method's best marked "(best)"), and the best rate.
 */
export function gridRows(s: Pick<SweepRecord, "lrs" | "grid" | "best">): {
  headers: string[];
  rows: (string | number)[][];
} {
  const cells = gridCells(s.grid);
  const rows = methodsOf(cells).map((m) => [
    m,
    ...s.lrs.map((lr) => {
      const c = cells.find((x) => x.method === m && x.lr === lr);
      if (!c) return "";
      return s.best.get(m) === lr ? `${cellText(c)} (best)` : cellText(c);
    }),
    s.best.has(m) ? String(s.best.get(m)) : "-",
  ]);
  return { headers: ["method", ...s.lrs.map((lr) => `lr ${lr}`), "best lr"], rows };
}

/** The grid as a markdown table (gridRows). */
export function gridTable(s: Pick<SweepRecord, "lrs" | "grid" | "best">): string {
  const { headers, rows } = gridRows(s);
  return markdownTable(headers, rows);
}

/** lr.svg: final validation loss against the rate, per method, on a log x axis; a ±std band with several seeds. */
export function lrChart(s: SweepRecord): string {
  const cells = gridCells(s.grid);
  const short = s.gridTokens < s.tokens;
  return lineChart({
    title: `final validation loss against learning rate${short ? ` (grid runs of ${formatNumber(s.gridTokens)} tokens)` : ""}`,
    xLabel: "peak learning rate",
    yLabel: "validation loss (nats/token)",
    logX: true,
    series: methodsOf(cells).map((m) => {
      const mine = cells.filter((c) => c.method === m).sort((a, b) => a.lr - b.lr);
      const best = s.best.get(m);
      return {
        name: best === undefined ? m : `${m} (best ${best})`,
        color: methodColor(m),
        markers: true,
        points: mine.map((c) => [c.lr, c.loss.mean] as Point),
        band:
          s.seeds.length > 1
            ? mine
                .filter((c) => Number.isFinite(c.loss.std))
                .map((c) => [c.lr, c.loss.mean - c.loss.std, c.loss.mean + c.loss.std] as [number, number, number])
            : undefined,
      };
    }),
  });
}

/** A run for results.json: its folder relative to the report's, and its whole result. */
const runJson = (dir: string, r: SweepRun) => ({
  method: r.method,
  lr: r.lr,
  seed: r.seed,
  dir: path.relative(dir, r.dir) || ".",
  ...(r.diverged !== undefined ? { diverged: r.diverged } : {}),
  ...(r.result ? { result: r.result } : {}),
});

/** The sweep's section of the report (report.md and report.html), its lr.svg, and the grid for results.json (`dir`: the report's folder). */
export function sweepSection(dir: string, s: SweepRecord): ReportSection {
  const short = s.gridTokens < s.tokens;
  const seeds =
    s.seeds.length > 1
      ? `seeds ${s.seeds.join(", ")} (mean ± sample standard deviation over seeds)`
      : `seed ${s.seeds[0]}`;
  const best = [...s.best].map(([m, lr]) => `${m} ${lr}`).join(", ");
  const paragraphs = [
    `Each method trained at every peak learning rate of the grid with ${seeds}, ${short ? `each grid run for ${formatNumber(s.gridTokens)} tokens` : `each grid run for the full ${formatNumber(s.tokens)} tokens`}. ` +
      "A method's best rate has the lowest mean final validation loss; a rate where a seed diverged is never picked. " +
      (short
        ? `Each method then trained again at its best rate (${best}) for the full ${formatNumber(s.tokens)} tokens: those runs are the tables and curves above.`
        : `The tables and curves above are each method's runs at its best rate (${best}).`),
  ];
  const folders = short
    ? "<method>/sweep/lr-<rate>/seed-<seed> for the grid runs, <method>/lr-<rate>/seed-<seed> for the final runs"
    : "<method>/lr-<rate>/seed-<seed>";
  const cells = gridCells(s.grid);
  const finals = s.finals.map((r) => runJson(dir, r));
  return {
    heading: "Learning-rate sweep",
    paragraphs,
    table: gridRows(s),
    figures: [
      {
        file: "lr.svg",
        caption: `final validation loss against peak learning rate (log scale), per method${s.seeds.length > 1 ? ", band: ± one standard deviation over seeds" : ""}`,
        svg: lrChart(s),
      },
    ],
    notes: [`Run folders: ${folders}, each with its checkpoint, metrics.jsonl and result.json.`],
    json: {
      sweep: {
        lrs: s.lrs,
        seeds: s.seeds,
        gridTokens: s.gridTokens,
        tokens: s.tokens,
        best: Object.fromEntries(s.best),
        grid: cells.map((c) => ({
          method: c.method,
          lr: c.lr,
          loss: c.loss,
          best: s.best.get(c.method) === c.lr,
          runs: c.runs.map((r) => runJson(dir, r)),
        })),
        // without a short grid the final runs are grid runs: named here, their results are in the grid
        finals: short ? finals : finals.map(({ result: _, ...rest }) => rest),
      },
    },
  };
}

/** A table with a "lr" column after the first (the method): each row's rate, for the printed summary. */
export function withLrColumn(
  headers: readonly string[],
  rows: readonly (string | number)[][],
  lrs: readonly number[],
): [string[], (string | number)[][]] {
  return [[headers[0]!, "lr", ...headers.slice(1)], rows.map((r, i) => [r[0]!, String(lrs[i]), ...r.slice(1)])];
}
