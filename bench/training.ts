import * as E from "fp-ts/lib/Either.js";
import { performance } from "node:perf_hooks";
import type { Backend } from "../ir/backend.ts";
import type { HostKernels } from "../ir/hostKernels.ts";
import type { RunError } from "../train/errors.ts";
import type { TrainableModel } from "../train/scheme.ts";
import { TrainState, type StepReport } from "../train/trainState.ts";
import { constantLr } from "../train/update.ts";
import { formatNumber } from "../util/format.ts";
import { stats, type Stat } from "./stats.ts";

/**
 * The benchmarks' training step: train/trainState.ts's TrainState (the one update step of every face:
 * gradients, clipping and AdamW as one plan on the backend) under the peers' protocol (constant lr, no
 * clipping, decoupled weight decay), and the figures every training benchmark reports beside its time:
 * the bytes that crossed between host and backend per step, next to the params' bytes for scale.
 */

/** The peers' protocol (makeInputs.ts's defaults): AdamW lr 3e-3, weight decay 0.01, constant lr, no clipping. */
export const BENCH_LR = 3e-3,
  BENCH_WD = 0.01;

export interface BenchStateOptions {
  readonly batch: number;
  readonly seq: number;
  readonly totalSteps: number;
  readonly lr?: number;
  readonly weightDecay?: number;
  readonly seed?: number;
  readonly hostKernels?: HostKernels;
}

/**
 * A training state on `backend` from `params` (copied to the backend; the arrays stay the caller's),
 * with its first step's plan compiled, so that no timed step compiles; `compileMs` is that set-up.
 */
export function benchState(
  model: TrainableModel,
  backend: Backend<any>,
  params: readonly Float32Array[],
  o: BenchStateOptions,
): E.Either<RunError, { state: TrainState; compileMs: number }> {
  const t0 = performance.now();
  const made = TrainState.create(
    model,
    backend,
    {
      ...constantLr(o.lr ?? BENCH_LR, o.weightDecay ?? BENCH_WD),
      batch: o.batch,
      seq: o.seq,
      totalSteps: o.totalSteps,
      seed: o.seed ?? 0,
      hostKernels: o.hostKernels,
      // as `rankfuse train` runs by default: the step's buffers donated (no copy kept for a rollback)
      rollback: false,
    },
    { params },
  );
  if (E.isLeft(made)) return made;
  const plan = made.right.planAt(0);
  if (E.isLeft(plan)) {
    made.right.dispose();
    return plan;
  }
  return E.right({ state: made.right, compileMs: performance.now() - t0 });
}

/** Bytes of a list of float32 params (what the state keeps on the backend, once; AdamW's moments are twice that again). */
export const paramBytes = (params: readonly Float32Array[]): number => params.reduce((s, p) => s + p.byteLength, 0);

/** Per-step host↔backend bytes of a run's steps, as Stats (host → backend: written; backend → host: read). */
export interface TransferStats {
  readonly written: Stat;
  readonly read: Stat;
}

export const transferStats = (reports: readonly Pick<StepReport, "transfers">[]): TransferStats => ({
  written: stats(reports.map((r) => r.transfers.written)),
  read: stats(reports.map((r) => r.transfers.read)),
});

/** A byte count as "16.4kB" (SI, as the other byte columns). */
export const formatBytes = (b: number): string => (Number.isFinite(b) ? `${formatNumber(b)}B` : "n/a");

/** One Stat of bytes: the median, with the range only where the steps differ. */
const bytesStat = (s: Stat): string =>
  s.n === 0
    ? "n/a"
    : s.min === s.max
      ? formatBytes(s.median)
      : `${formatBytes(s.median)} [${formatBytes(s.min)}-${formatBytes(s.max)}]`;

/** "16.4kB in / 8B out": host → backend, then backend → host, per step. */
export const formatTransfers = (t: TransferStats): string => `${bytesStat(t.written)} in / ${bytesStat(t.read)} out`;
