/**
 * `compare`'s learning-rate sweep and seeds: which runs a comparison makes, where each one trains, and
 * running them. Every method trains at every rate of `--lr` and every seed of `--seeds` (the grid); the
 * rate with the lowest mean final validation loss is the method's best; with `--sweep-tokens` the grid is
 * short and each method's best rate then trains again for the full budget (the final runs), without it
 * the grid's runs at the best rate are the final runs.
 *
 * Folders under `--out DIR`: one rate and one seed train in `DIR/<method>` (as before sweeps existed);
 * otherwise every full-budget run trains in `DIR/<method>/lr-<rate>/seed-<seed>` and every short grid run
 * in `DIR/<method>/sweep/lr-<rate>/seed-<seed>`. Each finished run leaves its result.json next to its
 * checkpoint, so `--resume` skips it and reports it as it was.
 */
import fs from "node:fs";
import path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../ir/backend.ts";
import type { LanguageModel } from "../models/model.ts";
import type { MethodSource } from "../methods/fromFile.ts";
import type { LoadedData } from "../train/data.ts";
import { renderRunError } from "../train/errors.ts";
import { writeFileAtomic } from "../train/atomicFile.ts";
import type { TrainResult } from "../train/loop.ts";
import { bestRates, gridCells, type SweepRun } from "../report/sweepGrid.ts";
import { formatNumber } from "../util/format.ts";
import { FLAG_RANGES, checkRange, intFlag, UsageError } from "./args.ts";
import { runSettingsFrom, type RunSettings } from "./trainFlags.ts";
import { runTraining } from "./session.ts";
import type { ModelConfig } from "../models/config.ts";

/** compare's flags beyond a training run's: the methods, the seeds and the short grid. */
export const SWEEP_FLAGS = {
  methods: { type: "string" },
  seeds: { type: "string" },
  "sweep-tokens": { type: "string" },
} as const;

/** The runs a comparison makes: the rates, the seeds, and the settings of the full-budget and short runs. */
export interface SweepPlan {
  /** The peak learning rates of the grid, as given. */
  readonly lrs: readonly number[];
  /** The seeds of every run: --seed, --seed + 1, ... */
  readonly seeds: readonly number[];
  /** Settings of the full-budget runs; each run sets its own lr and seed. */
  readonly final: RunSettings;
  /** Settings of the grid's runs when they are short (--sweep-tokens); absent when they have the full budget. */
  readonly short?: RunSettings;
  /** The tokens of a short grid run, as given (--sweep-tokens). */
  readonly sweepTokens?: number;
}

/**
 * `--lr`'s comma-separated rates: each one in `--lr`'s range (FLAG_RANGES), no empty item, no rate twice
 * (3e-3 and 0.003 are one rate); a refusal is one UsageError line.
 */
export function parseRates(v: string | undefined, dflt: number): number[] {
  if (v === undefined) return [dflt];
  const items = v.split(",");
  if (items.length === 1) return [checkRange(v, "lr", FLAG_RANGES.lr!)];
  if (items.some((s) => s.trim() === ""))
    throw new UsageError(`--lr must be a comma-separated list of rates with no empty item, got "${v}"`);
  const rates = items.map((s) => {
    try {
      return checkRange(s.trim(), "lr", FLAG_RANGES.lr!);
    } catch (e) {
      throw new UsageError(`${(e as Error).message} in the list "${v}"`);
    }
  });
  const twice = rates.find((r, i) => rates.indexOf(r) !== i);
  if (twice !== undefined) throw new UsageError(`--lr must list each rate once, got ${twice} twice in "${v}"`);
  return rates;
}

/** The plan of a comparison from compare's flags (each refusal a UsageError line). */
export function sweepPlanFrom(values: Record<string, string | boolean | undefined>, cfg: ModelConfig): SweepPlan {
  const final = runSettingsFrom({ ...values, lr: undefined }, cfg);
  const lrs = parseRates(values.lr as string | undefined, final.lr);
  const n = intFlag(values.seeds as string | undefined, "seeds", 1);
  if (final.seed + n - 1 > Number.MAX_SAFE_INTEGER)
    throw new UsageError(`--seed ${final.seed} with --seeds ${n} goes past ${Number.MAX_SAFE_INTEGER}`);
  const seeds = Array.from({ length: n }, (_, i) => final.seed + i);
  const given = values["sweep-tokens"] as string | undefined;
  if (given === undefined) return { lrs, seeds, final: { ...final, lr: lrs[0]! } };
  const sweepTokens = intFlag(given, "sweep-tokens", 1);
  if (lrs.length < 2)
    throw new UsageError("--sweep-tokens needs several rates in --lr (with one rate there is nothing to pick)");
  const short = runSettingsFrom(
    {
      ...values,
      lr: undefined,
      steps: undefined,
      tokens: given,
      // a short run is only there for its final loss: validate once, at its end, unless told otherwise
      "eval-every": values["eval-every"] ?? "0",
    },
    cfg,
  );
  if (short.steps >= final.steps)
    throw new UsageError(
      `--sweep-tokens ${sweepTokens} (${short.steps} steps) must be fewer than the run's ${final.steps} steps of ${final.batch}x${final.seq} tokens`,
    );
  return { lrs, seeds, final: { ...final, lr: lrs[0]! }, short, sweepTokens };
}

/** One rate and one seed: each method trains in DIR/<method>, as a comparison without a sweep always did. */
export const isPlain = (p: SweepPlan): boolean => p.lrs.length === 1 && p.seeds.length === 1;

/** Where one run trains (see the module's comment); `stage` "grid" is a short grid run when the plan has them. */
export function runDir(
  out: string,
  method: string,
  lr: number,
  seed: number,
  plan: SweepPlan,
  stage: "grid" | "final",
): string {
  if (isPlain(plan)) return path.join(out, method);
  const leaf = path.join(`lr-${lr}`, `seed-${seed}`);
  return stage === "grid" && plan.short ? path.join(out, method, "sweep", leaf) : path.join(out, method, leaf);
}

/** Every folder a method's runs may train in (final runs at any rate, since the best is not known yet). */
export const plannedDirs = (out: string, method: string, plan: SweepPlan): string[] => [
  ...new Set(
    (["grid", "final"] as const).flatMap((stage) =>
      plan.lrs.flatMap((lr) => plan.seeds.map((seed) => runDir(out, method, lr, seed, plan, stage))),
    ),
  ),
];

/** A method to compare: its model and, for a method from a file, the file. */
export interface SweptModel {
  readonly model: LanguageModel;
  readonly source?: MethodSource;
}

/** What a comparison ran: the grid, each method's best rate and the final runs at those rates. */
export interface SweepOutcome {
  readonly grid: readonly SweepRun[];
  /** Each method's best rate (every method has one: a method that diverged at every rate fails the sweep). */
  readonly best: ReadonlyMap<string, number>;
  /** The full-budget runs at each method's best rate, every seed: the grid's own, or trained after it. */
  readonly finals: readonly SweepRun[];
}

/** Why a comparison stopped: the exit code and the line to print. */
export interface SweepFailure {
  readonly code: 1 | 130;
  readonly line: string;
}

const RESULT_FILE = "result.json";

/** A finished run's result as it wrote it, when its result.json is there and agrees with the checkpoint. */
function storedResult(dir: string, steps: number): TrainResult | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(dir, RESULT_FILE), "utf8")) as TrainResult;
    return r.steps === steps ? { ...r, alreadyFinished: true } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Trains the plan's runs in order (method by method: the grid, then the final runs), printing a header for
 * each on stderr. A run that diverges is part of a grid of several rates (its rate is then never picked);
 * any other failure, a divergence without a choice of rate, or Ctrl-C stops the comparison.
 */
export async function runSweep(
  models: readonly SweptModel[],
  backend: Backend<any>,
  data: LoadedData,
  plan: SweepPlan,
  o: { out: string; resume: boolean; continueHint: string },
): Promise<E.Either<SweepFailure, SweepOutcome>> {
  const total = models.length * plan.lrs.length * plan.seeds.length;
  const finalsTotal = plan.short ? models.length * plan.seeds.length : 0;
  let done = 0;

  const trainOne = async (
    m: SweptModel,
    lr: number,
    seed: number,
    stage: "grid" | "final",
  ): Promise<E.Either<SweepFailure, SweepRun>> => {
    const { method } = m.model;
    const settings = { ...(stage === "grid" && plan.short ? plan.short : plan.final), lr, seed };
    const dir = runDir(o.out, method, lr, seed, plan, stage);
    const label = isPlain(plan) ? method : `${method} lr ${lr} seed ${seed}`;
    done++;
    console.error(
      isPlain(plan)
        ? `\n== ${method}: ${formatNumber(m.model.counts.total)} params`
        : `\n== ${method} at lr ${lr}, seed ${seed}${stage === "grid" && plan.short ? `, sweep run of ${formatNumber(settings.steps * settings.batch * settings.seq)} tokens` : ""} (run ${done} of ${total + finalsTotal}): ${formatNumber(m.model.counts.total)} params, in ${dir}`,
    );
    const r = await runTraining(m.model, backend, data, settings, {
      outDir: dir,
      resume: o.resume,
      label,
      source: m.source,
    });
    if (E.isLeft(r)) {
      if (r.left.tag === "DivergenceError" && stage === "grid" && plan.lrs.length > 1) {
        console.error(`${label} diverged; this rate is left out of the pick: ${renderRunError(r.left)}`);
        return E.right({ method, lr, seed, dir, diverged: r.left.message });
      }
      return E.left({ code: 1, line: `rankfuse compare: ${label}: ${renderRunError(r.left)}` });
    }
    if (r.right.stopped)
      return E.left({ code: 130, line: `stopped during ${label}; continue with: ${o.continueHint}` });
    let result = r.right;
    if (result.alreadyFinished) result = storedResult(dir, result.steps) ?? result;
    else {
      const w = writeFileAtomic(
        path.join(dir, RESULT_FILE),
        new TextEncoder().encode(JSON.stringify(result)),
        "CheckpointError",
      );
      if (E.isLeft(w)) return E.left({ code: 1, line: `rankfuse compare: ${label}: ${renderRunError(w.left)}` });
    }
    return E.right({ method, lr, seed, dir, result });
  };

  const grid: SweepRun[] = [];
  for (const m of models)
    for (const lr of plan.lrs)
      for (const seed of plan.seeds) {
        const run = await trainOne(m, lr, seed, "grid");
        if (E.isLeft(run)) return run;
        grid.push(run.right);
      }
  const best = bestRates(gridCells(grid));
  const out = models.find((m) => !best.has(m.model.method));
  if (out)
    return E.left({
      code: 1,
      line: `rankfuse compare: ${out.model.method} diverged or ended non-finite at every rate (${plan.lrs.join(", ")}): try lower rates in --lr`,
    });
  if (!plan.short) return E.right({ grid, best, finals: grid.filter((r) => r.lr === best.get(r.method)) });
  const finals: SweepRun[] = [];
  for (const m of models)
    for (const seed of plan.seeds) {
      const run = await trainOne(m, best.get(m.model.method)!, seed, "final");
      if (E.isLeft(run)) return run;
      finals.push(run.right);
    }
  return E.right({ grid, best, finals });
}
