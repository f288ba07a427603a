import fs from "node:fs";
import path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { writeFileAtomic } from "../train/atomicFile.ts";
import { causeMessage, trainError, type TrainError } from "../train/errors.ts";
import { formatNumber } from "../util/format.ts";
import { markdownTable } from "./markdownTable.ts";
import { barChart, lineChart, type Point } from "./svg.ts";
import type { TrainResult } from "../train/loop.ts";
import { bandAround, plusMinus, type ResultSpread } from "./sweepGrid.ts";

/** One method's row in a comparison: its size and cost, and what its training run measured. */
export interface CompareRow {
  readonly method: string;
  readonly params: number;
  readonly nonEmbedding: number;
  /** Params the optimizer trains (all but the model's frozen ones). */
  readonly trainable: number;
  /** Training FLOPs per token: 3× the forward pass (forward + backward). */
  readonly trainFlopsPerToken: number;
  readonly tokensPerStep: number;
  readonly result: TrainResult;
  /** With several seeds: `result` holds their means and this their spread (report/sweepGrid.ts's foldSeeds). */
  readonly spread?: ResultSpread;
}

/** More of a report (the sweep's): markdown after the charts, files next to report.md, fields of results.json. */
export interface ReportSection {
  readonly markdown: string;
  readonly files: readonly [name: string, text: string][];
  readonly json: Record<string, unknown>;
}

export const TABLE_HEADERS = [
  "method",
  "params",
  "non-emb",
  "trainable",
  "train FLOPs/token",
  "tokens/s",
  "vs full",
  "peak memory",
  "optimizer state",
  "val loss",
  "val ppl",
  "bits/byte",
];

export function tableRows(rows: readonly CompareRow[]): (string | number)[][] {
  const base = rows.find((r) => r.method === "full")?.result.tokensPerSec;
  return rows.map((r) => [
    r.method,
    formatNumber(r.params),
    formatNumber(r.nonEmbedding),
    formatNumber(r.trainable),
    formatNumber(r.trainFlopsPerToken),
    plusMinus(r.result.tokensPerSec, r.spread?.tokensPerSec ?? NaN, 0),
    base ? `${(r.result.tokensPerSec / base).toFixed(2)}x` : "",
    `${formatNumber(r.result.peakBytes)}B`,
    `${formatNumber(r.result.optimizerBytes)}B`,
    plusMinus(r.result.final.loss, r.spread?.loss ?? NaN, 4),
    plusMinus(r.result.final.ppl, r.spread?.ppl ?? NaN, 2),
    plusMinus(r.result.final.bitsPerByte, r.spread?.bitsPerByte ?? NaN, 3),
  ]);
}

/** Exponential moving average, so noisy per-step losses read as curves. */
function smooth(points: Point[], alpha = 0.1): Point[] {
  let s = NaN;
  return points.map(([x, y]) => [x, (s = Number.isNaN(s) ? y : alpha * y + (1 - alpha) * s)]);
}

/**
 * Writes report.md, loss.svg, val.svg, throughput.svg and results.json into `dir`, plus `extra`'s section
 * and files; returns the markdown, or the first write that failed (each file is written atomically: a
 * failure leaves no torn file). Rows with a spread over seeds draw their curves as the mean and a ±std band.
 */
export function writeCompareReport(
  dir: string,
  rows: readonly CompareRow[],
  setup: Record<string, unknown>,
  extra?: ReportSection,
): E.Either<TrainError, string> {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (cause) {
    return E.left(trainError("DataError", `cannot create ${dir}: ${causeMessage(cause)}`));
  }
  const train = lineChart({
    title: "training loss (EMA)",
    xLabel: "training tokens",
    yLabel: "loss (nats/token)",
    series: rows.map((r) => {
      const points = smooth(r.result.losses.map((l) => [l.step * r.tokensPerStep, l.loss] as Point));
      const std = r.spread && smooth(r.spread.losses.map((l) => [l.step * r.tokensPerStep, l.std] as Point));
      return {
        name: r.method,
        points,
        band:
          std &&
          bandAround(
            points,
            std.map((p) => p[1]),
          ),
      };
    }),
  });
  const val = lineChart({
    title: "validation loss",
    xLabel: "training tokens",
    yLabel: "loss (nats/token)",
    series: rows.map((r) => {
      const points = r.result.evals.map((e) => [e.step * r.tokensPerStep, e.loss] as Point);
      return {
        name: r.method,
        points,
        band:
          r.spread &&
          bandAround(
            points,
            r.spread.evals.map((e) => e.std),
          ),
      };
    }),
  });
  const speed = barChart({
    title: "training throughput",
    yLabel: "tokens/s",
    bars: rows.map((r) => ({ label: r.method, value: r.result.tokensPerSec })),
  });
  const md = [
    "# rankfuse compare",
    "",
    Object.entries(setup)
      .map(([k, v]) => `- ${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
      .join("\n"),
    "",
    markdownTable(TABLE_HEADERS, tableRows(rows)),
    "",
    "Validation perplexity = exp(mean token loss) on held-out text; bits/byte divides the loss by ln 2 and by the UTF-8 bytes per token.",
    "tokens/s excludes each run's first (warm-up) step; peak memory is the backend's measured peak during a training step; optimizer state is the bytes of optimizer moments and scheme state the method needs (AdamW: 8 bytes per trained param).",
    "",
    "![training loss](loss.svg)",
    "![validation loss](val.svg)",
    "![throughput](throughput.svg)",
    "",
    ...(extra ? [extra.markdown] : []),
  ].join("\n");
  const files: [string, string][] = [
    ["loss.svg", train],
    ["val.svg", val],
    ["throughput.svg", speed],
    ...(extra?.files ?? []),
    ["report.md", md],
    [
      "results.json",
      JSON.stringify(
        {
          setup,
          rows: rows.map((r) => ({ ...r, result: { ...r.result, losses: r.result.losses } })),
          ...extra?.json,
        },
        null,
        1,
      ),
    ],
  ];
  for (const [name, text] of files) {
    const w = writeFileAtomic(path.join(dir, name), new TextEncoder().encode(text), "DataError");
    if (E.isLeft(w)) return w;
  }
  return E.right(md);
}
