import * as E from "fp-ts/lib/Either.js";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { loadNativeAddon, UnaryOp, type NativeAddon } from "../backends/native/build.ts";
import { loadBackend } from "../backends/index.ts";
import type { Backend } from "../ir/backend.ts";
import { resolveConfig, type ModelConfig } from "../models/config.ts";
import { type LanguageModel } from "../models/model.ts";
import { makeModel } from "../methods/index.ts";
import { frozenMask } from "../train/step.ts";
import type { StepReport } from "../train/trainState.ts";
import { stats, type SuiteResult } from "./report.ts";
import { random } from "./report.ts";
import { measureGemmPeak, PEAK_N } from "./gemmPeak.ts";
import { formatMfu, mfu, trainFlopsPerToken } from "./mfu.ts";
import { probeCoreTypes, type CoreTypeChoice } from "./peers/openblasCoreType.ts";
import { timeRepeats } from "./timing.ts";
import { BENCH_LR, BENCH_WD, benchState, formatBytes, formatTransfers, paramBytes, transferStats } from "./training.ts";

/**
 * The native engine against the machine and its peers, in one process:
 *  1. matmul GFLOP/s: a "measured peak" (the addon's best over gemmPeak.ts's products; 384³ on 1 thread and all
 *     threads), then the training step's forward and backward GEMM shapes as % of that peak;
 *  2. a CoLA layer's forward, act(x·A)·B, fused (lowrankForward) against matmul + silu + matmul;
 *  3. training tokens/s of full-rank and CoLA `tiny` and `small` on the native and wasm backends
 *     (train/trainState.ts's whole step, AdamW included, as train/loop.ts; with the bytes it moves between
 *     host and backend per step) and in PyTorch (bench/peers/torch_llama.py) on the
 *     same weights and batches (bench/peers/makeInputs.ts).
 * Figures are medians with [min-max] over repeats; ratios come from this same run.
 */

const LR = BENCH_LR,
  WD = BENCH_WD; // makeInputs' defaults, so every peer runs the same protocol

type Stat = ReturnType<typeof stats>;
const fmt = (s: Stat, digits = 1, unit = ""): string =>
  `${s.median.toFixed(digits)}${unit} [${s.min.toFixed(digits)}-${s.max.toFixed(digits)}]`;

function unwrap<T>(e: E.Either<{ message: string } | string, T>): T {
  if (E.isLeft(e)) throw new Error(typeof e.left === "string" ? e.left : e.left.message);
  return e.right;
}

// ---------------------------------------------------------------------------------------------- 1.

interface GemmShape {
  name: string;
  M: number;
  K: number;
  N: number;
  transA: boolean;
  transB: boolean;
}
const GEMMS: GemmShape[] = [
  { name: "fwd [2048,256]·[256,256]", M: 2048, K: 256, N: 256, transA: false, transB: false },
  { name: "fwd [2048,256]·[256,688]", M: 2048, K: 256, N: 688, transA: false, transB: false },
  { name: "fwd [2048,688]·[688,256]", M: 2048, K: 688, N: 256, transA: false, transB: false },
  { name: "bwd xᵀ·g [2048,256]ᵀ·[2048,256] (transA)", M: 256, K: 2048, N: 256, transA: true, transB: false },
  { name: "bwd xᵀ·g [2048,256]ᵀ·[2048,688] (transA)", M: 256, K: 2048, N: 688, transA: true, transB: false },
  { name: "bwd g·Wᵀ [2048,256]·[256,256]ᵀ (transB)", M: 2048, K: 256, N: 256, transA: false, transB: true },
  { name: "bwd g·Wᵀ [2048,688]·[256,688]ᵀ (transB)", M: 2048, K: 688, N: 256, transA: false, transB: true },
];

function gflops(addon: NativeAddon, g: Omit<GemmShape, "name">, repeats: number, minMs: number): Stat {
  const a = random(g.M * g.K, 1),
    b = random(g.K * g.N, 2),
    out = new Float32Array(g.M * g.N);
  const [secs] = timeRepeats(
    [() => addon.matmul(a, b, out, 1, g.M, g.K, g.N, false, g.transA, g.transB)],
    repeats,
    minMs,
  );
  return stats(secs!.map((s) => (2 * g.M * g.K * g.N) / s / 1e9));
}

// ---------------------------------------------------------------------------------------------- 3.

interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
}

async function trainThroughput(
  model: LanguageModel,
  backend: Backend<any>,
  params0: readonly Float32Array[],
  batches: readonly Batch[],
  warm: number,
  timed: number,
) {
  const cfg = model.config;
  const { state, compileMs } = unwrap(
    benchState(model, backend, params0, {
      batch: cfg.batch,
      seq: cfg.seq,
      totalSteps: warm + timed,
      lr: LR,
      weightDecay: WD,
    }),
  );
  const stepMs: number[] = [],
    losses: number[] = [],
    reports: StepReport[] = [];
  try {
    for (let s = 0; s < warm + timed; s++) {
      const b = batches[s % batches.length]!;
      const t = performance.now();
      const r = unwrap(await state.step(s, b.inputs, b.targets));
      stepMs.push(performance.now() - t);
      losses.push(r.loss);
      reports.push(r);
    }
  } finally {
    state.dispose();
  }
  const tokens = cfg.batch * cfg.seq;
  const frozen = frozenMask(model);
  const resident = paramBytes(params0) + 2 * paramBytes(params0.filter((_, i) => !frozen[i]));
  return {
    compileMs,
    stepMs,
    losses,
    tokensPerSec: stats(stepMs.slice(warm).map((ms) => tokens / (ms / 1000))),
    /** Host↔backend bytes per step (every step: they do not depend on warm-up). */
    transfers: transferStats(reports),
    /** The backend's peak during a step: the resident params and moments + the most it held above them. */
    peakBytes: resident + Math.max(...reports.map((r) => r.stats.peakBytes)),
  };
}

/** The peers' inputs, written by bench/peers/makeInputs.ts itself; the batches read back for rankfuse. */
function makeInputs(dir: string, method: string, config: string, steps: number): E.Either<string, Batch[]> {
  const r = spawnSync(
    "npx",
    [
      "tsx",
      "bench/peers/makeInputs.ts",
      dir,
      "--method",
      method,
      "--config",
      config,
      "--steps",
      String(steps),
      "--lr",
      String(LR),
      "--wd",
      String(WD),
      "--seed",
      "0",
    ],
    { encoding: "utf8" },
  );
  if (r.error || r.status !== 0)
    return E.left(
      `makeInputs failed: ${r.error?.message ?? (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`,
    );
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8")).config as { batch: number; seq: number };
  const buf = fs.readFileSync(path.join(dir, "batches.bin"));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = cfg.batch * cfg.seq;
  const read = (off: number) => Int32Array.from({ length: n }, (_, i) => dv.getInt32((off + i) * 4, true));
  return E.right(Array.from({ length: steps }, (_, s) => ({ inputs: read(s * 2 * n), targets: read(s * 2 * n + n) })));
}

interface TorchResult {
  tokensPerSec: number;
  stepMs: number[];
  losses: number[];
  notes: string;
  version: string;
}

/** torch_llama.py on `dir`, with the OpenBLAS kernels the probe chose (exactly those: no fix of its own). */
function runTorch(dir: string, coreTypes: CoreTypeChoice | null): E.Either<string, TorchResult> {
  const out = path.join(dir, "torch.json");
  const fix = coreTypes?.chosen ? ["--no-coretype-fix"] : [];
  const r = spawnSync("/usr/bin/python3", ["bench/peers/torch_llama.py", dir, out, ...fix], {
    encoding: "utf8",
    timeout: 300_000,
    env: coreTypes?.env ?? process.env,
  });
  if (r.error || r.status !== 0)
    return E.left(
      `torch_llama.py failed: ${r.error?.message ?? (r.stderr || r.stdout).trim().split("\n").slice(-2).join(" / ")}`,
    );
  return E.right(JSON.parse(fs.readFileSync(out, "utf8")) as TorchResult);
}

/** Why PyTorch cannot run here, or null when /usr/bin/python3 imports torch. */
function torchUnavailable(): string | null {
  if (!fs.existsSync("/usr/bin/python3")) return "/usr/bin/python3 does not exist";
  const r = spawnSync("/usr/bin/python3", ["-c", "import torch; print(torch.__version__)"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.error) return `/usr/bin/python3 could not run: ${r.error.message}`;
  if (r.status !== 0)
    return `/usr/bin/python3 cannot import torch: ${(r.stderr || "").trim().split("\n").slice(-1)[0]}`;
  return null;
}

const PRESETS = ["tiny", "small"] as const;
const METHODS = ["full", "cola"] as const;

export async function run(opts: { repeats?: number; presets?: string[] } = {}): Promise<SuiteResult> {
  const repeats = opts.repeats ?? 7;
  const addon = unwrap(loadNativeAddon());
  const allThreads = os.availableParallelism();
  const defaultThreads = addon.threads();
  const loadStart = os.loadavg();
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  const log = (s: string) => process.stderr.write(`native: ${s}\n`);

  // 1. measured peak, then the training GEMMs as % of it (all threads)
  // 1 thread and all threads alternate repeat by repeat, so their ratio sees the same machine state
  const peak = measureGemmPeak(addon, repeats, 100, allThreads);
  const { oneThread: peak1, allThreads: peakAll, scaling } = peak;
  log(
    `measured peak ${peak.best.toFixed(1)} GFLOP/s (${allThreads} threads, ${peak.bestShape}); ${PEAK_N}³: ${peak1.max.toFixed(1)} (1 thread), ${peakAll.max.toFixed(1)} (${allThreads} threads)`,
  );
  rows.push([
    `matmul ${PEAK_N}³, 1 thread, GFLOP/s (best; median [range])`,
    `${peak1.max.toFixed(1)}; ${fmt(peak1)}`,
    "-",
    "-",
    "-",
  ]);
  rows.push([
    `matmul ${PEAK_N}³, ${allThreads} threads, GFLOP/s (best; median [range])`,
    `${peakAll.max.toFixed(1)}; ${fmt(peakAll)}`,
    "-",
    "-",
    `${fmt(scaling, 2, "x")} 1 thread (per repeat)`,
  ]);
  for (const [shape, s] of Object.entries(peak.shapes).slice(1))
    rows.push([
      `matmul ${shape}, ${allThreads} threads, GFLOP/s (best; median [range])`,
      `${s.max.toFixed(1)}; ${fmt(s)}`,
      "-",
      "-",
      "-",
    ]);
  rows.push([
    `measured peak: the best of the products above, GFLOP/s`,
    `${peak.best.toFixed(1)} (${peak.bestShape})`,
    "-",
    "-",
    "-",
  ]);
  const gemmData: unknown[] = [];
  for (const g of GEMMS) {
    const s = gflops(addon, g, repeats, 60);
    rows.push([
      `matmul ${g.name}, ${allThreads} threads, GFLOP/s`,
      fmt(s),
      "-",
      "-",
      `${((s.median / peak.best) * 100).toFixed(0)}% of peak [${((s.min / peak.best) * 100).toFixed(0)}-${((s.max / peak.best) * 100).toFixed(0)}]`,
    ]);
    gemmData.push({ ...g, threads: allThreads, gflops: s, fractionOfPeak: s.median / peak.best });
    log(`${g.name}: ${s.median.toFixed(1)} GFLOP/s`);
  }

  // 2. CoLA layer forward: fused against unfused (all threads), repeats interleaved
  const lowrankData: unknown[] = [];
  const n = 2048;
  for (const [d, r] of [
    [256, 64],
    [512, 128],
    [1024, 256],
  ] as const) {
    const x = random(n * d, 3),
      A = random(d * r, 4),
      B = random(r * d, 5);
    const fused = new Float32Array(n * d),
      z = new Float32Array(n * r),
      h = new Float32Array(n * r),
      unfused = new Float32Array(n * d);
    const [sf, su] = timeRepeats(
      [
        () => addon.lowrankForward(x, A, B, fused, n, d, r, d, UnaryOp.silu),
        () => {
          addon.matmul(x, A, z, 1, n, d, r, false, false, false);
          addon.unary(UnaryOp.silu, z, h);
          addon.matmul(h, B, unfused, 1, n, r, d, false, false, false);
        },
      ],
      repeats,
      60,
    );
    let worst = 0;
    for (let i = 0; i < fused.length; i++) worst = Math.max(worst, Math.abs(fused[i]! - unfused[i]!));
    const [tf, tu] = [stats(sf!.map((s) => s * 1e3)), stats(su!.map((s) => s * 1e3))];
    const speedup = stats(sf!.map((s, i) => su![i]! / s));
    rows.push([
      `CoLA forward n=${n} d=${d} r=${r}: fused lowrankForward, ms`,
      fmt(tf, 3),
      "-",
      "-",
      `unfused/fused ${fmt(speedup, 2, "x")}`,
    ]);
    rows.push([`CoLA forward n=${n} d=${d} r=${r}: matmul + silu + matmul, ms`, fmt(tu, 3), "-", "-", "-"]);
    lowrankData.push({
      n,
      d,
      r,
      threads: allThreads,
      fusedMs: tf,
      unfusedMs: tu,
      speedup,
      maxAbsDiff: worst,
      flops: 4 * n * d * r,
    });
    log(`lowrank d=${d} r=${r}: fused ${tf.median.toFixed(3)} ms, unfused ${tu.median.toFixed(3)} ms`);
  }
  addon.setThreads(defaultThreads);

  // 3. training throughput
  const nativeBe = unwrap(await loadBackend("native"));
  const wasmBe = unwrap(await loadBackend("wasm"));
  const noTorch = torchUnavailable();
  if (noTorch) notes.push(`PyTorch: n/a: ${noTorch}`);
  // PyTorch at its best: the fastest correct OpenBLAS kernel set, measured here (never the environment's unchecked)
  const coreTypes = noTorch ? null : probeCoreTypes({ rounds: repeats >= 3 ? 2 : 1, log });
  if (coreTypes) log(coreTypes.summary);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-bench-native-"));
  const trainData: Record<string, Record<string, unknown>> = {};
  const tps: Record<string, Record<string, Stat | undefined>> = {};
  const blasNotes = new Set<string>();
  const lossChecks: string[] = [];
  try {
    for (const preset of PRESETS.filter((p) => !opts.presets || opts.presets.includes(p))) {
      const cfg: ModelConfig = unwrap(resolveConfig(preset));
      for (const method of METHODS) {
        const key = `${preset} ${method}`;
        const model = unwrap(makeModel(method, cfg));
        const params0 = model.init(0); // makeInputs' seed 0: the weights torch loads
        const dir = path.join(tmp, `${preset}-${method}`);
        const [nWarm, nTimed] = [2, 5];
        const [wWarm, wTimed] = preset === "small" ? [1, 3] : [2, 5];
        const inputs = makeInputs(dir, method, preset, nWarm + nTimed);
        let batches: Batch[];
        if (E.isRight(inputs)) batches = inputs.right;
        else {
          notes.push(`${key}: ${inputs.left}; rankfuse used synthetic batches and PyTorch is n/a`);
          const m = cfg.batch * cfg.seq;
          batches = Array.from({ length: nWarm + nTimed }, (_, s) => ({
            inputs: Int32Array.from({ length: m }, (_, i) => (i * 31 + s * 7) % cfg.vocab),
            targets: Int32Array.from({ length: m }, (_, i) => (i * 17 + 3 + s) % cfg.vocab),
          }));
        }
        const nat = await trainThroughput(model, nativeBe, params0, batches, nWarm, nTimed);
        log(`${key} native: ${nat.tokensPerSec.median.toFixed(0)} tokens/s`);
        const was = await trainThroughput(model, wasmBe, params0, batches, wWarm, wTimed);
        log(`${key} wasm: ${was.tokensPerSec.median.toFixed(0)} tokens/s`);
        let torch: TorchResult | undefined;
        let torchWhy = noTorch ?? (E.isLeft(inputs) ? inputs.left : "");
        if (!torchWhy) {
          const t = runTorch(dir, coreTypes);
          if (E.isRight(t)) torch = t.right;
          else {
            torchWhy = t.left;
            notes.push(`${key}: PyTorch n/a: ${t.left}`);
          }
        }
        const torchTps = torch
          ? stats(torch.stepMs.slice(2).map((ms) => (cfg.batch * cfg.seq) / (ms / 1000)))
          : undefined;
        if (torch) {
          log(`${key} torch: ${torch.tokensPerSec.toFixed(0)} tokens/s`);
          for (const part of torch.notes.split("; "))
            if (/^(PyTorch |BLAS:|OpenBLAS|OPENBLAS_CORETYPE|no OpenBLAS|set OPENBLAS_CORETYPE)/.test(part))
              blasNotes.add(part);
        }
        // the same weights and first batch: the step-1 losses (before any update) should agree
        const first = [nat.losses[0]!, was.losses[0]!, ...(torch ? [torch.losses[0]!] : [])];
        const spread = (Math.max(...first) - Math.min(...first)) / Math.abs(first[0]!);
        lossChecks.push(`${key} ${first.map((l) => l.toFixed(5)).join("/")} (rel spread ${spread.toExponential(1)})`);
        tps[key] = { native: nat.tokensPerSec, wasm: was.tokensPerSec, torch: torchTps };
        const ratioCell = [
          `native/wasm ${(nat.tokensPerSec.median / was.tokensPerSec.median).toFixed(2)}x`,
          torchTps ? `native/PyTorch ${(nat.tokensPerSec.median / torchTps.median).toFixed(2)}x` : "native/PyTorch n/a",
        ].join("; ");
        rows.push([
          `train ${key} (batch ${cfg.batch}x${cfg.seq}), tokens/s`,
          fmt(nat.tokensPerSec, 0),
          fmt(was.tokensPerSec, 0),
          torchTps ? fmt(torchTps, 0) : "n/a",
          ratioCell,
        ]);
        // MFU: the model's training FLOPs per second over this run's measured peak (all threads, best)
        const flopsPerToken = trainFlopsPerToken(model);
        const mfus = {
          native: mfu(nat.tokensPerSec, flopsPerToken, peak.best),
          wasm: mfu(was.tokensPerSec, flopsPerToken, peak.best),
          torch: torchTps ? mfu(torchTps, flopsPerToken, peak.best) : undefined,
        };
        rows.push([
          `train ${key}: MFU, % of the measured peak`,
          formatMfu(mfus.native),
          formatMfu(mfus.wasm),
          formatMfu(mfus.torch),
          `${(flopsPerToken / 1e6).toFixed(1)} MFLOP/token`,
        ]);
        // what crosses between host and backend per step, against what stays there
        const pBytes = paramBytes(params0);
        const perStep = (t: typeof nat.transfers) => t.written.median + t.read.median;
        rows.push([
          `train ${key}: host↔backend bytes/step (in / out)`,
          formatTransfers(nat.transfers),
          formatTransfers(was.transfers),
          "-",
          `params bytes ${formatBytes(pBytes)}; native moves ${((perStep(nat.transfers) / pBytes) * 100).toFixed(2)}% of them per step`,
        ]);
        trainData[key] = {
          preset,
          method,
          batch: cfg.batch,
          seq: cfg.seq,
          params: model.counts.total,
          paramBytes: pBytes,
          trainFlopsPerToken: flopsPerToken,
          mfu: mfus,
          native: { ...nat, warmup: nWarm, timed: nTimed, backend: nativeBe.describe() },
          wasm: { ...was, warmup: wWarm, timed: wTimed, backend: wasmBe.describe() },
          torch: torch ? { ...torch, tokensPerSecStats: torchTps } : { unavailable: torchWhy },
        };
      }
      const [full, cola] = [tps[`${preset} full`]!, tps[`${preset} cola`]!];
      const ratio = (k: string) => (full[k] && cola[k] ? `${(cola[k]!.median / full[k]!.median).toFixed(2)}x` : "n/a");
      rows.push([`train ${preset}: CoLA/full tokens/s`, ratio("native"), ratio("wasm"), ratio("torch"), "-"]);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    addon.setThreads(defaultThreads);
  }
  const loadEnd = os.loadavg();

  notes.unshift(
    `"measured peak" = the best GFLOP/s of the addon's own matmul (${addon.gemmKernel()} micro-kernel) on ${allThreads} threads over the products ${Object.keys(peak.shapes).join(", ")}, repeated in this run: ${peak.best.toFixed(1)} at ${peak.bestShape}; not the CPU's theoretical peak (which JS cannot measure without C). The % of peak figures are against it.`,
    `MFU (model FLOPs utilisation) = 3 × the model's forward FLOPs per token (LanguageModel.forwardFlopsPerToken: matmul weights and attention) × tokens/s ÷ the ${allThreads}-thread measured peak (${peak.best.toFixed(1)} GFLOP/s); wasm runs 1 thread, so its MFU is against the same whole-machine figure; attention counts in full though a causal kernel can skip half of it, so MFU can exceed the GEMM rows' % of peak.`,
    ...(coreTypes ? [`PyTorch: ${coreTypes.summary}.`] : []),
    `kernels: ${repeats} repeats of >= 60-100 ms each after a warm-up call, median [min-max]; fused and unfused repeats interleaved, the speedup is per repeat (unfused time / fused time).`,
    `training: train/trainState.ts's TrainState, one plan per step with AdamW on the backend (constant lr ${LR}, wd ${WD}, no clipping; params and moments stay on the backend) on the inputs of bench/peers/makeInputs.ts (init seed 0, Gutenberg batches); tokens/s per timed step, median [min-max]; native 2+5, wasm 2+5 on tiny and 1+3 on small (warm-up+timed); PyTorch: bench/peers/torch_llama.py, 7 steps, steps 3-7 timed.`,
    `host↔backend bytes/step: what one training step wrote to the backend (the batch's ids and targets, three optimizer scalars) and read back (loss, gradient norm), from the step's own count (StepReport.transfers), beside the params' bytes (AdamW's moments, twice that, also stay on the backend); PyTorch trains in its own process's memory, so it has no such figure.`,
    `threads: native ${defaultThreads} OpenMP threads (${allThreads} CPUs), wasm 1 (no threads in Node: ${wasmBe.describe()}), PyTorch torch.set_num_threads(${os.cpus().length}).`,
    ...[...blasNotes].map((b) => `PyTorch: ${b}`),
    `step-1 losses native/wasm/PyTorch (same weights, same batch): ${lossChecks.join("; ")}.`,
    `load caveat: ${os.cpus()[0]?.model ?? "unknown CPU"}, ${allThreads} CPUs, shared machine; load average at start ${loadStart.map((l) => l.toFixed(2)).join(" ")}, at end ${loadEnd.map((l) => l.toFixed(2)).join(" ")}; other processes can slow any row, hence the ranges.`,
  );
  return {
    title: `native engine: matmul vs measured peak, fused CoLA forward, training throughput vs wasm and PyTorch`,
    headers: ["what", "native", "wasm", "PyTorch", "ratio"],
    rows,
    notes,
    data: {
      threads: allThreads,
      gemmKernel: addon.gemmKernel(),
      peak,
      openblas: coreTypes && {
        chosen: coreTypes.chosen?.candidate ?? null,
        kernel: coreTypes.chosen?.kernel ?? null,
        shape: coreTypes.shape,
        measurements: coreTypes.measurements,
      },
      gemms: gemmData,
      lowrank: lowrankData,
      training: trainData,
      loadStart,
      loadEnd,
    },
  };
}
