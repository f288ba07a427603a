/**
 * A comparison's numbers as two tables that fit a page: quality (what each method reached, at what
 * size) and cost (what its training took). Each has at most seven columns, so neither scrolls sideways.
 */
import { formatNumber } from "../util/format.ts";
import type { CompareRow } from "./compareRow.ts";
import { plusMinus } from "./sweepGrid.ts";

/** Validation loss, perplexity, bits/byte and tokens/s of a row, with ± their spread over seeds where it has one. */
const loss = (r: CompareRow) => plusMinus(r.result.final.loss, r.spread?.loss ?? NaN, 4);
const ppl = (r: CompareRow) => plusMinus(r.result.final.ppl, r.spread?.ppl ?? NaN, 2);
const bpb = (r: CompareRow) => plusMinus(r.result.final.bitsPerByte, r.spread?.bitsPerByte ?? NaN, 3);
const speed = (r: CompareRow) => plusMinus(r.result.tokensPerSec, r.spread?.tokensPerSec ?? NaN, 0);

/** The quality table's columns: size, then held-out loss three ways. */
export const QUALITY_HEADERS = ["method", "params", "trainable", "val loss", "val ppl", "bits/byte"];

/** One quality row per method: total and trained params, validation loss, perplexity and bits per byte. */
export function qualityRows(rows: readonly CompareRow[]): (string | number)[][] {
  return rows.map((r) => [r.method, formatNumber(r.params), formatNumber(r.trainable), loss(r), ppl(r), bpb(r)]);
}

/** The cost table's columns: compute per token, speed, memory. */
export const COST_HEADERS = [
  "method",
  "non-emb params",
  "train FLOPs/token",
  "tokens/s",
  "vs full",
  "peak memory",
  "optimizer state",
];

/** Throughput relative to the `full` method's, where it ran ("" otherwise). */
const vsFull = (rows: readonly CompareRow[], r: CompareRow): string => {
  const base = rows.find((x) => x.method === "full")?.result.tokensPerSec;
  return base ? `${(r.result.tokensPerSec / base).toFixed(2)}x` : "";
};

/** One cost row per method: non-embedding params, training FLOPs per token, tokens/s, memory. */
export function costRows(rows: readonly CompareRow[]): (string | number)[][] {
  return rows.map((r) => [
    r.method,
    formatNumber(r.nonEmbedding),
    formatNumber(r.trainFlopsPerToken),
    speed(r),
    vsFull(rows, r),
    `${formatNumber(r.result.peakBytes)}B`,
    `${formatNumber(r.result.optimizerBytes)}B`,
  ]);
}

/** Every column in one table (12 wide: for a wide terminal or a spreadsheet, not a page). */
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

/** The rows of TABLE_HEADERS. */
export function tableRows(rows: readonly CompareRow[]): (string | number)[][] {
  return rows.map((r) => [
    r.method,
    formatNumber(r.params),
    formatNumber(r.nonEmbedding),
    formatNumber(r.trainable),
    formatNumber(r.trainFlopsPerToken),
    speed(r),
    vsFull(rows, r),
    `${formatNumber(r.result.peakBytes)}B`,
    `${formatNumber(r.result.optimizerBytes)}B`,
    loss(r),
    ppl(r),
    bpb(r),
  ]);
}

/** What the tables' columns mean, one sentence each, for under the tables. */
export const TABLE_NOTES = {
  quality:
    "Validation perplexity = exp(mean token loss) on held-out text; bits/byte divides the loss by ln 2 and by the UTF-8 bytes per token. Trainable params are those the optimizer updates.",
  cost: "tokens/s excludes each run's first (warm-up) step; peak memory is the backend's measured peak during a training step; optimizer state is the bytes of optimizer moments and scheme state the method needs (AdamW: 8 bytes per trained param).",
};
