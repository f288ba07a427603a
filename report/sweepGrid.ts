/**
 * A learning-rate sweep's results as data: every run (method × rate × seed), the grid of final validation
 * losses (mean and spread over seeds), each method's best rate, and the seeds of one setting folded into
 * one result (means) plus its spread (sample standard deviations). Pure functions: cli/sweep.ts runs the
 * training, report/sweepReport.ts draws and tabulates.
 */
import type { EvalResult } from "../train/evaluate.ts";
import type { TrainResult } from "../train/loop.ts";
import type { StepRate } from "../train/stepRate.ts";
import { mean, sampleStd, summarize, type Summary } from "../util/stats.ts";

/** One training run of a sweep: a method at one rate and one seed, where it trained and what it measured. */
export interface SweepRun {
  readonly method: string;
  readonly lr: number;
  readonly seed: number;
  /** The run's folder (its checkpoint and metrics.jsonl). */
  readonly dir: string;
  /** What the run measured; absent when it diverged. */
  readonly result?: TrainResult;
  /** The loop's account of a run that diverged (it has no result). */
  readonly diverged?: string;
}

/** One cell of the grid: a method at one rate, its runs over the seeds and their final validation loss. */
export interface GridCell {
  readonly method: string;
  readonly lr: number;
  readonly runs: readonly SweepRun[];
  /** Final validation loss over the seeds; the mean is NaN when a seed diverged or ended non-finite. */
  readonly loss: Summary;
}

/** A run's final validation loss; NaN for a run that diverged. */
export const finalLoss = (r: SweepRun): number => r.result?.final.loss ?? NaN;

/** The runs grouped into cells by (method, rate), in the order each pair first appears. */
export function gridCells(runs: readonly SweepRun[]): GridCell[] {
  const byKey = new Map<string, SweepRun[]>();
  for (const r of runs) {
    const key = JSON.stringify([r.method, r.lr]);
    byKey.set(key, [...(byKey.get(key) ?? []), r]);
  }
  return [...byKey.values()].map((rs) => {
    const losses = rs.map(finalLoss);
    const s = summarize(losses);
    return {
      method: rs[0]!.method,
      lr: rs[0]!.lr,
      runs: rs,
      loss: losses.every(Number.isFinite) ? s : { ...s, mean: NaN, std: NaN },
    };
  });
}

/**
 * Each method's best rate: the one with the lowest mean final validation loss over its seeds; a rate where
 * any seed diverged or ended non-finite is never picked; equal means pick the smaller rate (the safer one).
 * A method whose every rate is out has no entry.
 */
export function bestRates(cells: readonly GridCell[]): Map<string, number> {
  const best = new Map<string, GridCell>();
  for (const c of cells) {
    if (!Number.isFinite(c.loss.mean)) continue;
    const b = best.get(c.method);
    if (!b || c.loss.mean < b.loss.mean || (c.loss.mean === b.loss.mean && c.lr < b.lr)) best.set(c.method, c);
  }
  return new Map([...best].map(([m, c]) => [m, c.lr]));
}

/** The spread over seeds of one setting's results: sample standard deviations (NaN with one seed). */
export interface ResultSpread {
  /** How many seeds. */
  readonly n: number;
  readonly loss: number;
  readonly ppl: number;
  readonly bitsPerByte: number;
  readonly tokensPerSec: number;
  /** Per training step logged by every seed: the spread of the training loss. */
  readonly losses: readonly { step: number; std: number }[];
  /** Per validation step of every seed: the spread of the validation loss. */
  readonly evals: readonly { step: number; std: number }[];
}

/** The steps that every one of `lists` has, in the first list's order. */
function commonSteps<T extends { step: number }>(lists: readonly (readonly T[])[]): number[] {
  const sets = lists.slice(1).map((l) => new Set(l.map((x) => x.step)));
  return (lists[0] ?? []).map((x) => x.step).filter((s) => sets.every((set) => set.has(s)));
}

/** For each step common to all lists, the values `pick` reads there. */
function alignedBySteps<T extends { step: number }>(
  lists: readonly (readonly T[])[],
  pick: (x: T) => number,
): { step: number; values: number[] }[] {
  const maps = lists.map((l) => new Map(l.map((x) => [x.step, pick(x)])));
  return commonSteps(lists).map((step) => ({ step, values: maps.map((m) => m.get(step)!) }));
}

const meanEval = (es: readonly EvalResult[]): EvalResult => ({
  loss: mean(es.map((e) => e.loss)),
  ppl: mean(es.map((e) => e.ppl)),
  bitsPerByte: mean(es.map((e) => e.bitsPerByte)),
});

/**
 * The per-step throughput of several runs as one: the slowest and fastest step of them all, every timed
 * step counted; the percentiles are the runs' means (an approximation: the runs' step times are not kept).
 */
function foldStepRates(rates: readonly (StepRate | undefined)[]): StepRate | undefined {
  const rs = rates.filter((r): r is StepRate => r !== undefined);
  if (rs.length === 0) return undefined;
  return {
    min: Math.min(...rs.map((r) => r.min)),
    p10: mean(rs.map((r) => r.p10)),
    median: mean(rs.map((r) => r.median)),
    p90: mean(rs.map((r) => r.p90)),
    max: Math.max(...rs.map((r) => r.max)),
    steps: rs.reduce((n, r) => n + r.steps, 0),
  };
}

/**
 * Several seeds of one setting as one result and its spread: curves, final metrics and throughput are the
 * means over the seeds (at the steps every seed logged), peak memory and optimizer state the largest, the
 * per-step throughput's extremes those of all the seeds' steps.
 */
export function foldSeeds(results: readonly TrainResult[]): { result: TrainResult; spread: ResultSpread } {
  if (results.length === 0) throw new RangeError("foldSeeds needs at least one result");
  const first = results[0]!;
  const losses = alignedBySteps(
    results.map((r) => r.losses),
    (l) => l.loss,
  );
  const evalSteps = commonSteps(results.map((r) => r.evals));
  const evalAt = (r: TrainResult, step: number) => r.evals.find((e) => e.step === step)!;
  const evalLosses = alignedBySteps(
    results.map((r) => r.evals),
    (e) => e.loss,
  );
  const finals = results.map((r) => r.final);
  const result: TrainResult = {
    ...first,
    losses: losses.map(({ step, values }) => ({ step, loss: mean(values) })),
    evals: evalSteps.map((step) => ({ step, ...meanEval(results.map((r) => evalAt(r, step))) })),
    final: meanEval(finals),
    tokensPerSec: mean(results.map((r) => r.tokensPerSec)),
    stepTokensPerSec: foldStepRates(results.map((r) => r.stepTokensPerSec)),
    peakBytes: Math.max(...results.map((r) => r.peakBytes)),
    optimizerBytes: Math.max(...results.map((r) => r.optimizerBytes)),
  };
  const spread: ResultSpread = {
    n: results.length,
    loss: sampleStd(finals.map((f) => f.loss)),
    ppl: sampleStd(finals.map((f) => f.ppl)),
    bitsPerByte: sampleStd(finals.map((f) => f.bitsPerByte)),
    tokensPerSec: sampleStd(results.map((r) => r.tokensPerSec)),
    losses: losses.map(({ step, values }) => ({ step, std: sampleStd(values) })),
    evals: evalLosses.map(({ step, values }) => ({ step, std: sampleStd(values) })),
  };
  return { result, spread };
}

/** `mean ± std` at `digits` decimals; just the mean when there is no spread (one seed). */
export function plusMinus(m: number, std: number, digits: number): string {
  const text = (x: number) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
  return Number.isFinite(std) ? `${text(m)} ± ${text(std)}` : text(m);
}

/**
 * A band around a curve: for each point `[x, y]` of `points` and the spread `std[i]` at the same index,
 * `[x, y − std, y + std]`. Points without a finite spread are left out.
 */
export function bandAround(
  points: readonly (readonly [number, number])[],
  std: readonly number[],
): [x: number, lo: number, hi: number][] {
  return points.flatMap(([x, y], i) =>
    Number.isFinite(std[i]) ? [[x, y - std[i]!, y + std[i]!] as [number, number, number]] : [],
  );
}
