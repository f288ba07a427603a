import * as E from "fp-ts/lib/Either.js";
import path from "node:path";
import fs from "node:fs";
import type { Backend } from "../ir/backend.ts";
import type { TrainableModel } from "./scheme.ts";
import type { HostKernels } from "../ir/hostKernels.ts";
import { BatchSampler, evalWindows } from "./batches.ts";
import {
  loadCheckpoint,
  saveCheckpoint,
  checkpointPath,
  hasCheckpoint,
  prevCheckpointPath,
  recoverCheckpoint,
  checkpointStepOf,
  usePrevCommand,
  CHECKPOINT_FILE,
} from "./checkpoint.ts";
import type { TokenData } from "./tokenSource.ts";
import { evaluate, type EvalResult } from "./evaluate.ts";
import { MetricsLog, truncateAfterStep } from "./metricsLog.ts";
import type { Progress } from "./progress.ts";
import { Rng } from "../util/rng.ts";
import { frozenMask } from "./step.ts";
import type { SchemeState } from "./scheme.ts";
import type { UpdateOptions } from "./update.ts";
import { TrainState } from "./trainState.ts";
import type { RunError } from "./errors.ts";
import { API_WORDING, type OptionWording } from "./wording.ts";
import { makeDirs } from "../util/outDir.ts";
import { acquireRunLock } from "./runLock.ts";
import { describeNonFinite, divergedAt, nonFiniteWeights } from "./divergence.ts";
import { stepRate, type StepRate } from "./stepRate.ts";

/** A run's settings: its length and batch shape, the optimizer's (UpdateOptions), evaluation and checkpoints. */
export interface TrainOptions extends UpdateOptions {
  readonly steps: number;
  readonly batch: number;
  readonly seq: number;
  readonly seed: number;
  /** Validate every this many steps (0: only at the end), on `evalBatches` fixed batches. */
  readonly evalEvery: number;
  readonly evalBatches: number;
  /** Where checkpoint.safetensors and metrics.jsonl go; none means nothing is written. */
  readonly outDir?: string;
  /** Checkpoint every this many steps (0: only at the end or when stopped). */
  readonly checkpointEvery: number;
  readonly resume: boolean;
  /** Everything that must match for a checkpoint to resume this run (model, data, backend, options). */
  readonly fingerprint: Record<string, unknown>;
  readonly progress?: Progress;
  /** Stops after the current step, checkpointing first (Ctrl-C in the CLI). */
  readonly signal?: AbortSignal;
  /** Compiled host loops for a scheme's host-side work (a backend's GEMM for Fira); JavaScript without them. */
  readonly hostKernels?: HostKernels;
  /** How messages name options (default: these options' names; the CLI passes its flags). */
  readonly wording?: OptionWording;
  /**
   * Batches whose loss, gradient norm or update is not finite that the run skips (the state unchanged,
   * the sampler past them, a log line each) before it stops (default 0: it stops at the first). The count
   * is kept in checkpoints, so a resumed run has what was left. Skipping keeps the state's previous
   * buffers during each step (TrainStateOptions.rollback): one more copy of the trainable params and
   * both moments at the step's end.
   */
  readonly skipNonFinite?: number;
}

/** Token ids to train and validate on (in memory or a token file), and the UTF-8 bytes per validation token. */
export interface TrainData {
  readonly train: TokenData;
  readonly val: TokenData;
  readonly bytesPerToken: number;
}

/** What a run reports: losses, evaluations, throughput and peak memory. */
export interface TrainResult {
  readonly steps: number;
  readonly losses: readonly { step: number; loss: number }[];
  readonly evals: readonly ({ step: number } & EvalResult)[];
  readonly final: EvalResult;
  /** Training tokens per second over the whole run, excluding the first step of each session (warm-up). */
  readonly tokensPerSec: number;
  /**
   * The spread of tokens/s over the same steps (absent in results written before it was recorded, and where
   * no step was timed; a resumed run's checkpoint from before it spans only the steps trained since).
   */
  readonly stepTokensPerSec?: StepRate;
  /** Measured peak bytes of the backend during a training step. */
  readonly peakBytes: number;
  /**
   * Bytes that crossed between host and backend per training step, the last step's (the batch's ids and
   * three scalars in, loss, gradient norm and params check out; more where a scheme works on the host).
   */
  readonly stepTransfers: { readonly written: number; readonly read: number };
  /**
   * Bytes of optimizer state the method needs at the end: AdamW's two moments of every param it updates,
   * plus the scheme's own state (Fira's projected moments and projections, SST's, ...).
   */
  readonly optimizerBytes: number;
  readonly stopped: boolean;
  readonly resumedFrom: number;
  /** The checkpoint resumed had finished the run already: nothing was trained or written. */
  readonly alreadyFinished?: boolean;
}

function optimizerBytes(
  params: readonly Float32Array[],
  modelFrozen: readonly boolean[],
  schemeFrozen: readonly boolean[] | undefined,
  schemeState: SchemeState | undefined,
): number {
  const adam = params.reduce((s, p, i) => s + (modelFrozen[i] || schemeFrozen?.[i] ? 0 : 8 * p.length), 0);
  return adam + Object.values(schemeState?.tensors ?? {}).reduce((s, t) => s + 4 * t.data.length, 0);
}

const pathsOf = (outDir: string) => ({ dir: outDir, metrics: path.join(outDir, "metrics.jsonl") });

/**
 * A run into `outDir` holds its lock (one run per directory) and first cleans up after an interrupted one:
 * see `recoverCheckpoint`.
 */
export async function train(
  model: TrainableModel,
  backend: Backend<any>,
  data: TrainData,
  o: TrainOptions,
): Promise<E.Either<RunError, TrainResult>> {
  if (o.outDir === undefined) return trainIn(model, backend, data, o);
  const lock = acquireRunLock(o.outDir, (line) => o.progress?.log(line));
  if (E.isLeft(lock)) return lock;
  try {
    const recovered = recoverCheckpoint(o.outDir);
    if (E.isLeft(recovered)) return recovered;
    recovered.right.forEach((line) => o.progress?.log(line));
    return await trainIn(model, backend, data, o);
  } finally {
    lock.right.release();
  }
}

/**
 * The training loop: AdamW with decoupled weight decay, global-norm clipping, warmup + cosine; periodic
 * validation; atomic checkpoints that resume exactly (params, Adam moments, step, RNG and data position).
 */
async function trainIn(
  model: TrainableModel,
  backend: Backend<any>,
  data: TrainData,
  o: TrainOptions,
): Promise<E.Either<RunError, TrainResult>> {
  const valBatches = evalWindows(data.val, o.seq, o.batch, o.evalBatches);
  if (E.isLeft(valBatches)) return valBatches;
  const windows = valBatches.right;

  const config = JSON.stringify(o.fingerprint);
  const shapes = model.layout.shapes.map((s) => [...s]);
  const samplerOpts = { seqLen: o.seq, batch: o.batch, seed: o.seed };
  const skipBudget = o.skipNonFinite ?? 0;
  // a run that stops at the first non-finite step needs nothing from the state afterwards: donate
  const stateOpts = { ...o, totalSteps: o.steps, rollback: skipBudget > 0 };
  let state: TrainState;
  let sampler: BatchSampler;
  let start = 0;
  let rng = Rng.fromSeed(o.seed);
  /** What a checkpoint carries besides the tensors, so a resumed run reports the whole run. */
  const history = {
    losses: [] as { step: number; loss: number }[],
    evals: [] as ({ step: number } & EvalResult)[],
    timedMs: 0,
    timedSteps: 0,
    /** Milliseconds of each timed step, for the spread of tokens/s. */
    stepMs: [] as number[],
    peakBytes: 0,
    /** Non-finite batches skipped so far (skipNonFinite). */
    skippedBatches: 0,
  };

  const modelFrozen = frozenMask(model);
  const say = o.wording ?? API_WORDING;

  const ckptExists = o.outDir !== undefined && hasCheckpoint(o.outDir);
  // only the .prev pair: resuming from it, or starting over it, is the user's choice to make
  if (o.outDir !== undefined && !ckptExists && fs.existsSync(prevCheckpointPath(o.outDir))) {
    const prev = prevCheckpointPath(o.outDir);
    const step = checkpointStepOf(prev);
    return E.left({
      tag: "CheckpointError",
      message: `${o.outDir} has no ${CHECKPOINT_FILE}, only the previous checkpoint ${prev}${step === undefined ? "" : ` (step ${step})`}, which is not used by itself: to resume from it, ${usePrevCommand(o.outDir)}, then ${say.resume}; or choose another ${say.outDir} (nothing was changed)`,
    });
  }
  if (o.resume && ckptExists) {
    const ck = loadCheckpoint(o.outDir!, config);
    if (E.isLeft(ck)) return ck;
    if (model.scheme && !ck.right.scheme)
      return E.left({
        tag: "CheckpointError",
        message: `${checkpointPath(o.outDir!)} has no state for ${model.method}'s training scheme: it was not written by this method`,
      });
    if (ck.right.step >= o.steps) {
      // a finished run: report it from its checkpoint, and change nothing
      const h = ck.right.extra as Partial<typeof history>;
      const { step: _, ...last } = h.evals?.at(-1) ?? { step: 0, loss: NaN, ppl: NaN, bitsPerByte: NaN };
      o.progress?.log(`${checkpointPath(o.outDir!)} finished this run at step ${ck.right.step}: nothing to do`);
      return E.right({
        steps: ck.right.step,
        losses: h.losses ?? [],
        evals: h.evals ?? [],
        final: last,
        tokensPerSec: h.timedSteps ? (o.batch * o.seq * h.timedSteps * 1000) / h.timedMs! : NaN,
        stepTokensPerSec: stepRate(h.stepMs ?? [], o.batch * o.seq),
        peakBytes: h.peakBytes ?? 0,
        stepTransfers: { written: 0, read: 0 },
        optimizerBytes: 0,
        stopped: false,
        resumedFrom: ck.right.step,
        alreadyFinished: true,
      });
    }
    const restored = TrainState.create(model, backend, stateOpts, {
      params: ck.right.params.values,
      adam: ck.right.adam,
      scheme: ck.right.scheme,
    });
    if (E.isLeft(restored))
      return restored.left.tag === "CheckpointError"
        ? E.left({ ...restored.left, message: `${checkpointPath(o.outDir!)}: ${restored.left.message}` })
        : restored;
    const smp = BatchSampler.restore(data.train, samplerOpts, ck.right.sampler);
    if (E.isLeft(smp)) return smp;
    [state, sampler, start, rng] = [restored.right, smp.right, ck.right.step, Rng.restore(ck.right.rng)];
    Object.assign(history, ck.right.extra as Partial<typeof history>);
  } else {
    if (o.resume) o.progress?.log(`no checkpoint in ${o.outDir ?? `(no ${say.outDir})`}: starting from step 0`);
    else if (ckptExists)
      return E.left({
        tag: "CheckpointError",
        message: `${checkpointPath(o.outDir!)} exists: ${say.resume} to continue it, or choose another ${say.outDir} (nothing was overwritten)`,
      });
    const smp = BatchSampler.create(data.train, samplerOpts);
    if (E.isLeft(smp)) return smp;
    sampler = smp.right;
    const created = TrainState.create(model, backend, stateOpts, { params: model.init(o.seed) });
    if (E.isLeft(created)) return created;
    state = created.right;
  }
  try {
    return await runSteps();
  } finally {
    state.dispose();
  }

  async function runSteps(): Promise<E.Either<RunError, TrainResult>> {
    const { scheme } = state;
    if (scheme) o.progress?.log(`${model.method}: ${scheme.describe()}`);

    let log: MetricsLog | undefined;
    if (o.outDir) {
      makeDirs(o.outDir);
      const { metrics } = pathsOf(o.outDir);
      if (start > 0) {
        const t = truncateAfterStep(metrics, start);
        if (E.isLeft(t)) return t;
        if (t.right.tornBytes > 0)
          o.progress?.log(
            `${metrics}: cut off a torn last line (${t.right.tornBytes} bytes) left by an interrupted write`,
          );
        if (t.right.dropped > 0)
          o.progress?.log(`${metrics}: dropped ${t.right.dropped} records after step ${start} (this run redoes them)`);
      }
      const opened = MetricsLog.open(metrics, { append: start > 0 });
      if (E.isLeft(opened)) return opened;
      log = opened.right;
    }

    /** What to try after a divergence, in the caller's terms. */
    const hint = () =>
      `try a lower ${say.lr} (now ${o.lr})` +
      (o.clip > 0 ? ` or a smaller ${say.clip} (now ${o.clip})` : ` or ${say.clip} 1 (clipping is off)`);
    let saved = start;
    const kept = () =>
      o.outDir ? (saved > 0 ? `the checkpoint of step ${saved} is kept` : "no checkpoint was written") : "";
    const diverged = (message: string) => (
      o.progress?.done(),
      E.left({ tag: "DivergenceError" as const, message: `${message}; ${kept() && `${kept()}; `}${hint()}` })
    );

    const save = async (step: number) => {
      if (!o.outDir) return E.right(undefined);
      // the records up to this step must be on disk before the checkpoint that a resume trusts them by
      const synced = log?.sync();
      if (synced && E.isLeft(synced)) return synced;
      const host = await state.read();
      // the step refuses non-finite updates; a scheme's host work (a merge, a host update) is checked here
      const bad = nonFiniteWeights(model.layout.names, host.params);
      if (bad) return diverged(`training diverged by step ${step}: ${describeNonFinite(bad)}`);
      const r = saveCheckpoint(o.outDir, {
        config,
        step,
        params: { names: [...model.layout.names], shapes, values: host.params },
        adam: host.adam,
        rng: rng.state(),
        sampler: sampler.state(),
        extra: history,
        ...(scheme ? { scheme: scheme.state() } : {}),
      });
      if (E.isRight(r)) ((saved = step), o.progress?.log(`checkpoint at step ${step}: ${r.right}`));
      return r;
    };
    const runEval = async (step: number) => {
      const r = await evaluate((x, y) => state.evalLoss(x, y), windows, data.bytesPerToken);
      if (E.isRight(r)) {
        history.evals.push({ step, ...r.right });
        const w = log?.write({ step, valLoss: r.right.loss, valPpl: r.right.ppl, bitsPerByte: r.right.bitsPerByte });
        if (w && E.isLeft(w)) return w;
        o.progress?.log(
          `step ${step}: validation loss ${r.right.loss.toFixed(4)}, perplexity ${r.right.ppl.toFixed(2)}, ${r.right.bitsPerByte.toFixed(3)} bits/byte`,
        );
      }
      return r;
    };

    const tokensPerStep = o.batch * o.seq;
    let step = start,
      stopped = false;
    let stepTransfers = { written: 0, read: 0 };
    try {
      while (step < o.steps) {
        // a step's awaits resolve as microtasks; without a turn of the event loop, SIGINT/SIGTERM handlers never run
        await new Promise((resolve) => setImmediate(resolve));
        if (o.signal?.aborted) {
          stopped = true;
          break;
        }
        const t0 = performance.now();
        const batch = sampler.next();
        const r = await state.step(step, batch.inputs, batch.targets);
        if (E.isLeft(r)) return r;
        const { loss, stats, lr, gradNorm: norm, transfers, nonFinite } = r.right;
        if (nonFinite) {
          if (history.skippedBatches >= skipBudget)
            return diverged(`${divergedAt(step + 1, nonFinite)}, nothing of it was applied`);
          history.skippedBatches++;
          o.progress?.log(
            `${divergedAt(step + 1, nonFinite).replace("training diverged", "skipped a batch")}: the state is unchanged (${history.skippedBatches} of ${say.skipNonFinite} ${skipBudget})`,
          );
          continue;
        }
        step++;
        stepTransfers = transfers;
        const ms = performance.now() - t0;
        if (step > start + 1) ((history.timedMs += ms), history.timedSteps++, history.stepMs.push(ms));
        history.peakBytes = Math.max(history.peakBytes, stats.peakBytes);
        history.losses.push({ step, loss });
        const tokPerSec = (tokensPerStep * 1000) / ms;
        const w = log?.write({
          step,
          loss,
          lr,
          gradNorm: norm,
          ms,
          tokPerSec,
          bytesIn: transfers.written,
          bytesOut: transfers.read,
        });
        if (w && E.isLeft(w)) return w;
        o.progress?.update(step, { loss, tokPerSec });
        if (o.evalEvery > 0 && step % o.evalEvery === 0 && step < o.steps) {
          const ev = await runEval(step);
          if (E.isLeft(ev)) return ev;
        }
        if (o.checkpointEvery > 0 && step % o.checkpointEvery === 0 && step < o.steps) {
          const s = await save(step);
          if (E.isLeft(s)) return s;
        }
      }
      o.progress?.done();
      // a stopped run only checkpoints: its final evaluation belongs to the run that finishes
      const final = stopped ? E.right({ loss: NaN, ppl: NaN, bitsPerByte: NaN }) : await runEval(step);
      if (E.isLeft(final)) return final;
      const s = await save(step);
      if (E.isLeft(s)) return s;
      const finalParams = await state.readParams();
      return E.right({
        steps: step,
        losses: history.losses,
        evals: history.evals,
        final: final.right,
        tokensPerSec: history.timedSteps ? (tokensPerStep * history.timedSteps * 1000) / history.timedMs : NaN,
        stepTokensPerSec: stepRate(history.stepMs, tokensPerStep),
        peakBytes: history.peakBytes,
        stepTransfers,
        stopped,
        resumedFrom: start,
        optimizerBytes: optimizerBytes(
          finalParams,
          modelFrozen,
          scheme?.frozen?.(Math.max(0, step - 1)),
          scheme?.state(),
        ),
      });
    } finally {
      log?.close();
    }
  }
}
