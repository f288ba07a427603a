import * as E from "fp-ts/lib/Either.js";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { loadBackend } from "../backends/index.ts";
import { loadNativeAddon } from "../backends/native/build.ts";
import type { Backend } from "../ir/backend.ts";
import { makeModel } from "../methods/index.ts";
import { resolveConfig, type ConfigOverrides } from "../models/config.ts";
import { frozenMask } from "../train/step.ts";
import type { StepReport, TrainState } from "../train/trainState.ts";
import type { SuiteResult } from "./report.ts";
import { formatStat, pairedRatios, stats, type Stat } from "./stats.ts";
import {
  BENCH_LR,
  BENCH_WD,
  benchState,
  formatBytes,
  formatTransfers,
  paramBytes,
  transferStats,
  type TransferStats,
} from "./training.ts";

/**
 * The training step itself, per backend: the `tiny` model's whole update step (train/trainState.ts:
 * loss, gradients and AdamW in one plan, params and moments resident on the backend) on native, wasm
 * and webgpu (where each loads), in one process, rounds interleaved across backends (each round starts
 * at a different one) so a slow stretch of the machine hits them alike. Tokens/s per step (wall clock
 * around `TrainState.step`, host work included), per-round ratios against native, and the bytes each
 * step moved between host and backend beside the params' bytes.
 */

const BACKENDS = ["native", "wasm", "webgpu"] as const;
const METHODS = ["full", "cola"] as const;

interface Lane {
  readonly name: string;
  readonly backend: Backend<any>;
  readonly state: TrainState;
  readonly compileMs: number;
  readonly stepMs: number[];
  readonly reports: StepReport[];
}

/** Synthetic batches, the same for every backend (step s's ids and targets). */
const batchAt = (s: number, n: number, vocab: number) => ({
  ids: Int32Array.from({ length: n }, (_, i) => (i * 31 + s * 7) % vocab),
  targets: Int32Array.from({ length: n }, (_, i) => (i * 17 + 3 + s) % vocab),
});

export async function run(
  opts: {
    quick?: boolean;
    /** Timed rounds (after one warm-up round). */
    repeats?: number;
    backends?: readonly string[];
    methods?: readonly string[];
    preset?: string;
    /** Config overrides (tests use a smaller model). */
    overrides?: ConfigOverrides;
  } = {},
): Promise<SuiteResult> {
  const quick = opts.quick ?? false;
  const repeats = opts.repeats ?? (quick ? 2 : 7); // quick: about a minute, most of it webgpu where it is a software adapter
  const preset = opts.preset ?? "tiny";
  const methods = opts.methods ?? (quick ? ["cola"] : METHODS);
  const log = (s: string) => process.stderr.write(`trainStep: ${s}\n`);
  const loadStart = os.loadavg();
  const notes: string[] = [];
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown> = {};

  const loaded: { name: string; backend: Backend<any> }[] = [];
  const skipped = new Map<string, string>();
  for (const name of opts.backends ?? BACKENDS) {
    const b = await loadBackend(name);
    if (E.isRight(b)) loaded.push({ name, backend: b.right });
    else {
      skipped.set(name, b.left.message.split("\n")[0]!);
      log(`SKIPPED ${name}: ${b.left.message.split("\n")[0]}`);
    }
  }
  const base = loaded.find((l) => l.name === "native") ?? loaded[0];

  for (const method of methods) {
    const cfg = E.getOrElseW((e: { message: string }) => {
      throw new Error(e.message);
    })(resolveConfig(preset, opts.overrides ?? {}));
    const model = E.getOrElseW((e: { message: string }) => {
      throw new Error(e.message);
    })(makeModel(method, cfg));
    const key = `${cfg.name ?? preset} ${method}`;
    const params = model.init(0);
    const pBytes = paramBytes(params);
    const frozen = frozenMask(model);
    const resident = pBytes + 2 * paramBytes(params.filter((_, i) => !frozen[i]));
    const tokens = cfg.batch * cfg.seq;
    const lanes: Lane[] = [];
    const failed = new Map<string, string>();
    for (const { name, backend } of loaded) {
      const made = benchState(model, backend, params, { batch: cfg.batch, seq: cfg.seq, totalSteps: repeats + 1 });
      if (E.isRight(made)) lanes.push({ name, backend, ...made.right, stepMs: [], reports: [] });
      else failed.set(name, made.left.message);
    }
    try {
      // round 0 warms up every backend (first runs of kernels, shader compiles) and is not timed
      for (let round = 0; round <= repeats; round++) {
        const { ids, targets } = batchAt(round, tokens, cfg.vocab);
        for (let k = 0; k < lanes.length; k++) {
          const lane = lanes[(round + k) % lanes.length]!;
          if (failed.has(lane.name)) continue;
          const t0 = performance.now();
          const r = await lane.state.step(round, ids, targets);
          const ms = performance.now() - t0;
          if (E.isLeft(r)) {
            failed.set(lane.name, r.left.message);
            continue;
          }
          lane.stepMs.push(ms);
          lane.reports.push(r.right);
        }
        log(
          `${key} round ${round}${round === 0 ? " (warm-up)" : ""}: ${lanes
            .filter((l) => !failed.has(l.name))
            .map((l) => `${l.name} ${l.stepMs[round]!.toFixed(0)} ms`)
            .join(", ")}`,
        );
      }
    } finally {
      for (const l of lanes) l.state.dispose();
    }

    const baseLane = lanes.find((l) => l.name === base?.name && !failed.has(l.name));
    const perLane: Record<string, unknown> = {};
    const firstLosses: number[] = [];
    for (const { name } of loaded) {
      const lane = lanes.find((l) => l.name === name);
      const why = failed.get(name);
      if (!lane || why) {
        rows.push([key, name, `failed: ${(why ?? "?").split("\n")[0]}`, "n/a", "n/a", "n/a", "-", "-", "n/a"]);
        notes.push(`${key} ${name} failed: ${why}`);
        perLane[name] = { failed: why };
        continue;
      }
      const timed = lane.stepMs.slice(1);
      const tps = stats(timed.map((ms) => tokens / (ms / 1000)));
      // per round: this backend's tokens/s over native's in the same round
      const vsBase: Stat | undefined = baseLane && pairedRatios(baseLane.stepMs.slice(1), timed);
      const execMs = stats(lane.reports.slice(1).map((r) => r.stats.ms));
      const transfers: TransferStats = transferStats(lane.reports);
      const peak = resident + Math.max(...lane.reports.map((r) => r.stats.peakBytes));
      const loss1 = lane.reports[0]!.loss;
      firstLosses.push(loss1);
      rows.push([
        key,
        name,
        formatStat(tps),
        vsBase ? formatStat(vsBase, 2, "x") : "n/a",
        formatStat(stats(timed), 0, " ms"),
        formatTransfers(transfers),
        formatBytes(pBytes),
        formatBytes(peak),
        loss1.toFixed(5),
      ]);
      perLane[name] = {
        backend: lane.backend.describe(),
        compileMs: lane.compileMs,
        stepMs: lane.stepMs,
        executorMs: lane.reports.map((r) => r.stats.ms),
        tokensPerSec: tps,
        executorMsStats: execMs,
        vsNative: vsBase ?? null,
        transfers,
        transfersPerStep: {
          written: lane.reports.map((r) => r.transfers.written),
          read: lane.reports.map((r) => r.transfers.read),
        },
        peakBytes: peak,
        losses: lane.reports.map((r) => r.loss),
      };
      log(
        `${key} ${name}: ${formatStat(tps)} tokens/s, ${formatTransfers(transfers)} per step (params ${formatBytes(pBytes)})`,
      );
    }
    if (firstLosses.length > 1) {
      const spread = (Math.max(...firstLosses) - Math.min(...firstLosses)) / Math.abs(firstLosses[0]!);
      notes.push(
        `${key}: step-1 losses (same weights, same batch) agree to a relative spread of ${spread.toExponential(1)}.`,
      );
    }
    data[key] = {
      preset,
      method,
      batch: cfg.batch,
      seq: cfg.seq,
      tokensPerStep: tokens,
      params: model.counts.total,
      paramBytes: pBytes,
      residentStateBytes: resident,
      warmup: 1,
      timed: repeats,
      backends: perLane,
    };
  }
  const loadEnd = os.loadavg();

  for (const [name, why] of skipped) {
    notes.unshift(`SKIPPED ${name}: ${why}`);
    for (const m of methods)
      rows.push([`${preset} ${m}`, name, "skipped (see notes)", "n/a", "n/a", "-", "-", "-", "n/a"]);
  }
  const addon = loadNativeAddon();
  notes.unshift(
    `step = train/trainState.ts's whole training step (loss, gradients, AdamW in one plan; params and moments stay on the backend), AdamW lr ${BENCH_LR} constant, wd ${BENCH_WD} on 2-D weights, no clipping, from the model's init (seed 0) on synthetic batches (the same for every backend); each state's first plan is compiled before timing.`,
    `${repeats} timed rounds after one warm-up round, in one process; each round steps every backend once, in rotated order; tokens/s = batch × seq / the wall-clock time of TrainState.step (host work included), median [min-max] over the rounds; "vs ${base?.name ?? "native"}" = per-round ratios of tokens/s, median [min-max]; step ms is the same wall clock.`,
    `host↔backend bytes/step: what one step wrote to the backend (the batch's ids and targets, three optimizer scalars) and read back (loss, gradient norm), counted by the step itself (StepReport.transfers) over every step; "params bytes" is the scale: params and AdamW's moments (twice that again) stay on the backend. Peak = the resident state + the most bytes the backend held above it during a step.`,
    `threads and BLAS: ${loaded
      .map(
        (l) =>
          `${l.name}: ${l.backend.describe()}${l.name === "native" && E.isRight(addon) ? ` (its own GEMM, ${addon.right.gemmKernel()} micro-kernel, ${addon.right.threads()} OpenMP threads: OPENBLAS_CORETYPE does not apply)` : ""}`,
      )
      .join("; ")}.`,
    `load caveat: ${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} CPUs, shared machine; load average at start ${loadStart.map((l) => l.toFixed(2)).join(" ")}, at end ${loadEnd.map((l) => l.toFixed(2)).join(" ")}; other processes can slow any row, hence the ranges.`,
  );
  return {
    title: `train step: the ${preset} model's whole update step per backend (tokens/s, host↔backend bytes)`,
    headers: [
      "model",
      "backend",
      "tokens/s",
      `vs ${base?.name ?? "native"} (per round)`,
      "step ms",
      "host↔backend bytes/step",
      "params bytes",
      "peak backend bytes",
      "loss @1",
    ],
    rows,
    notes,
    data: {
      preset,
      repeats,
      backends: Object.fromEntries(loaded.map((l) => [l.name, l.backend.describe()])),
      skipped: Object.fromEntries(skipped),
      runs: data,
      loadStart,
      loadEnd,
    },
  };
}
