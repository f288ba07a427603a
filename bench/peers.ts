import * as E from "fp-ts/lib/Either.js";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { loadNativeAddon } from "../backends/native/build.ts";
import { makeModel } from "../methods/index.ts";
import { resolveConfig, type ModelConfig } from "../models/config.ts";
import type { BenchBar, SuiteChart } from "./charts.ts";
import { measureGemmPeak, type GemmPeak } from "./gemmPeak.ts";
import { formatMfu, mfu, trainFlopsPerToken } from "./mfu.ts";
import { probeCoreTypes, type CoreTypeChoice } from "./peers/openblasCoreType.ts";
import type { PeerResult } from "./peers/peerFiles.ts";
import type { SuiteResult } from "./report.ts";
import { formatRatio, formatStat, ratioOfMedians, stats, type Stat } from "./stats.ts";
import { formatBytes, formatTransfers, type TransferStats } from "./training.ts";

/**
 * The same model trained for the same few steps from the same weights on the same batches in rankfuse
 * (native, wasm), hand-written TensorFlow.js (wasm), jax-js (wasm) and PyTorch (CPU): training tokens/s,
 * MFU against the native GEMM peak measured in the same run, peak memory, and the losses, so that a
 * speed gain is never a wrong result. Each peer runs in a fresh process (bench/peers/*); the repeats are
 * interleaved across peers so drift hits them alike. PyTorch runs with the fastest correct OpenBLAS
 * kernel set measured at the start (bench/peers/openblasCoreType.ts). `paper` adds the paper's 60m
 * config (vocabulary 32000) at PAPER.batch sequences, for rankfuse-native and PyTorch only. A peer that
 * cannot run here is listed as skipped with the reason.
 */

const LR = 3e-3,
  WD = 0.01;
const WARM = 1; // step 1 compiles / jits / warms caches: excluded from tokens/s
const METHODS = ["full", "cola"] as const;
const BASE = "rankfuse-native";
/** The paper size `paper` adds: the peers that finish it in minutes (the wasm ones run 1 thread), at a batch a CPU step fits. */
export const PAPER = { preset: "60m", batch: 8, peers: ["rankfuse-native", "torch-cpu"] } as const;

interface Peer {
  readonly name: string;
  /** Why it cannot run here, or null. */
  unavailable(): string | null;
  /** The process to run; `torch` is the OpenBLAS choice for PyTorch's processes (null: not probed). */
  command(dir: string, out: string, torch: CoreTypeChoice | null): [string, string[], NodeJS.ProcessEnv?];
}

const req = createRequire(import.meta.url);
const resolves = (pkg: string): string | null => {
  try {
    req.resolve(pkg);
    return null;
  } catch {
    return `${pkg} is not installed (a devDependency: run npm install)`;
  }
};
const tsx =
  (script: string, ...rest: string[]) =>
  (dir: string, out: string): [string, string[]] => [process.execPath, ["--import", "tsx", script, dir, out, ...rest]];

function torchUnavailable(): string | null {
  if (!fs.existsSync("/usr/bin/python3"))
    return "/usr/bin/python3 does not exist (apt-get install -y python3-torch libopenblas0-openmp)";
  const r = spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8", timeout: 120_000 });
  if (r.error) return `/usr/bin/python3 could not run: ${r.error.message}`;
  if (r.status !== 0)
    return `/usr/bin/python3 cannot import torch (apt-get install -y python3-torch libopenblas0-openmp): ${(r.stderr || "").trim().split("\n").slice(-1)[0]}`;
  return null;
}

export const PEERS: readonly Peer[] = [
  {
    name: "rankfuse-native",
    unavailable: () => {
      const a = loadNativeAddon();
      return E.isLeft(a) ? `native addon: ${a.left}` : null;
    },
    command: tsx("bench/peers/rankfuseLlama.ts", "--backend", "native"),
  },
  {
    name: "rankfuse-wasm",
    unavailable: () => resolves("@tensorflow/tfjs-backend-wasm"),
    command: tsx("bench/peers/rankfuseLlama.ts", "--backend", "wasm"),
  },
  {
    name: "tfjs-wasm",
    unavailable: () => resolves("@tensorflow/tfjs-backend-wasm") ?? resolves("esbuild"),
    command: tsx("bench/peers/tfjsLlama.ts", "--backend", "wasm"),
  },
  { name: "jax-js-wasm", unavailable: () => resolves("@jax-js/jax"), command: tsx("bench/peers/jaxLlama.ts") },
  {
    name: "torch-cpu",
    unavailable: torchUnavailable,
    // exactly the measured kernels where the probe chose (no fix of the script's own), else its own fix
    command: (dir, out, torch) => [
      "/usr/bin/python3",
      ["bench/peers/torch_llama.py", dir, out, ...(torch?.chosen ? ["--no-coretype-fix"] : [])],
      torch?.env,
    ],
  },
];

const lastLines = (s: string, n: number) => s.trim().split("\n").slice(-n).join(" / ");
/** A reason on one line of at most `max` characters (a compiler's error can run to pages). */
const oneLine = (s: string | null, max = 300): string | null => {
  if (!s) return null;
  const flat = s
    .trim()
    .split("\n")
    .slice(0, 3)
    .map((l) => l.trim())
    .join(" / ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

function spawnOk(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): string | null {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env });
  if (r.error) return r.error.message;
  if (r.signal) return `killed by ${r.signal}${r.signal === "SIGTERM" ? ` (over ${timeoutMs / 1000} s)` : ""}`;
  if (r.status !== 0) return `exit ${r.status}: ${lastLines(r.stderr || r.stdout, 3)}`;
  return null;
}

interface Cell {
  peer: string;
  runs: PeerResult[];
  failures: string[];
  tokensPerSec: Stat;
  /** Model FLOPs/s over the measured peak, per figure of tokensPerSec (NaN figures where no peak). */
  mfu: Stat;
  rss: Stat;
  framework: Stat;
  /** Host↔backend bytes per step over every step of every run, where the peer reports them (rankfuse). */
  transfers?: TransferStats;
  paramBytes?: number;
}

/** What a peers bar chart shows, under its bars. */
const BAR_CAPTION = "method and peer (colour: method); bar: median, whisker: min–max over processes";
const mib = (s: Stat) => formatStat({ median: s.median / 2 ** 20, min: s.min / 2 ** 20, max: s.max / 2 ** 20, n: s.n });
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

export async function run(
  opts: {
    quick?: boolean;
    repeats?: number;
    steps?: number;
    presets?: string[];
    peers?: string[];
    /** Adds PAPER.preset (60m) after the CPU presets. */
    paper?: boolean;
  } = {},
): Promise<SuiteResult> {
  const quick = opts.quick ?? false;
  // processes per peer: small's (and 60m's) steps are ~4x tiny's (or more), so they get 2 to keep the whole bench near 25 minutes
  const repeatsFor = (preset: string) => opts.repeats ?? (quick ? 1 : preset === "tiny" ? 3 : 2);
  const steps = Math.max(WARM + 1, opts.steps ?? 3);
  const presets = [...(opts.presets ?? (quick ? ["tiny"] : ["tiny", "small"]))];
  if (opts.paper && !presets.includes(PAPER.preset)) presets.push(PAPER.preset);
  /** A paper config (vocabulary 32000): PAPER's batch and peers; the CPU presets keep theirs. */
  const paperSized = (preset: string) => !["tiny", "small"].includes(preset);
  const log = (s: string) => process.stderr.write(`peers: ${s}\n`);
  const notes: string[] = [];
  const skipped = new Map<string, string>();
  const peers = PEERS.filter((p) => !opts.peers || opts.peers.includes(p.name)).filter((p) => {
    const why = oneLine(p.unavailable());
    if (why) {
      skipped.set(p.name, why);
      log(`SKIPPED ${p.name}: ${why}`);
    }
    return !why;
  });
  // PyTorch at its best: its OpenBLAS kernels chosen by measurement, not left to the environment
  const torchChoice = peers.some((p) => p.name === "torch-cpu") ? probeCoreTypes({ rounds: quick ? 1 : 2, log }) : null;
  if (torchChoice) log(torchChoice.summary);
  // the denominator of MFU: the native addon's GEMM peak, measured once here while no peer runs
  const addon = loadNativeAddon();
  const peak: GemmPeak | null = E.isRight(addon) ? measureGemmPeak(addon.right, quick ? 3 : 7) : null;
  if (peak)
    log(
      `measured GEMM peak ${peak.best.toFixed(1)} GFLOP/s (native matmul ${peak.bestShape}, ${peak.threads} threads, best)`,
    );
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-bench-peers-"));
  const rows: (string | number)[][] = [];
  const charts: SuiteChart[] = [];
  const data: Record<string, unknown> = {}; // one entry per "preset method"
  const machine: Record<string, unknown> = {};
  try {
    for (const preset of presets) {
      const tpsBars: BenchBar[] = [],
        rssBars: BenchBar[] = [];
      for (const method of METHODS) {
        const key = `${preset} ${method}`;
        const dir = path.join(tmp, `${preset}-${method}`);
        const paper = paperSized(preset);
        const here = paper ? peers.filter((p) => (PAPER.peers as readonly string[]).includes(p.name)) : peers;
        const model = E.flatMap((cfg: ModelConfig) => makeModel(method, cfg))(
          resolveConfig(preset, paper ? { batch: PAPER.batch } : {}),
        );
        const flopsPerToken = E.isRight(model) ? trainFlopsPerToken(model.right) : NaN;
        const made = spawnOk(
          process.execPath,
          [
            "--import",
            "tsx",
            "bench/peers/makeInputs.ts",
            dir,
            "--method",
            method,
            "--config",
            preset,
            "--steps",
            String(steps),
            "--lr",
            String(LR),
            "--wd",
            String(WD),
            "--seed",
            "0",
            ...(paper ? ["--batch", String(PAPER.batch)] : []),
          ],
          300_000,
        );
        if (made) {
          notes.push(`${key}: no peer ran: makeInputs failed: ${made}`);
          log(`${key}: makeInputs failed: ${made}`);
          continue;
        }
        const spec = JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8")) as {
          config: { batch: number; seq: number; vocab: number };
        };
        const tokens = spec.config.batch * spec.config.seq;
        const repeats = repeatsFor(preset);
        const cells = new Map<string, { runs: PeerResult[]; failures: string[] }>(
          here.map((p) => [p.name, { runs: [], failures: [] }]),
        );
        for (let r = 0; r < repeats; r++) {
          for (const p of here) {
            const out = path.join(dir, `${p.name}-${r}.json`);
            const [cmd, args, env] = p.command(dir, out, torchChoice);
            const failed = spawnOk(cmd, args, 600_000, env);
            const cell = cells.get(p.name)!;
            if (failed) {
              cell.failures.push(failed);
              log(`${key} ${p.name} run ${r + 1}: FAILED: ${failed}`);
              continue;
            }
            const res = JSON.parse(fs.readFileSync(out, "utf8")) as PeerResult;
            cell.runs.push(res);
            log(
              `${key} ${p.name} run ${r + 1}/${repeats}: ${(tokens / (median(res.stepMs.slice(WARM)) / 1000)).toFixed(0)} tokens/s, losses ${res.losses.map((l) => l.toFixed(4)).join(" ")}`,
            );
            if (p.name === "torch-cpu" && res.notes)
              machine.torch = res.notes
                .split("; ")
                .filter((n) => /^(PyTorch|BLAS:|OpenBLAS|OPENBLAS|no OpenBLAS)/.test(n))
                .join("; ");
            if (p.name === "jax-js-wasm") machine.jaxjs = `@jax-js/jax ${res.version}`;
            if (p.name === "tfjs-wasm") machine.tfjs = `@tensorflow/tfjs-core ${res.version}`;
          }
        }
        const summary: Cell[] = [...cells].map(([peer, c]) => {
          const tokensPerSec = stats(c.runs.map((x) => tokens / (median(x.stepMs.slice(WARM)) / 1000)));
          return {
            peer,
            ...c,
            tokensPerSec,
            mfu: mfu(tokensPerSec, flopsPerToken, peak?.best ?? NaN),
            rss: stats(c.runs.map((x) => x.peakRssBytes ?? x.peakMemoryBytes)),
            framework: stats(c.runs.map((x) => x.peakMemoryBytes)),
            ...(c.runs.some((x) => x.transfers) && {
              transfers: {
                written: stats(c.runs.flatMap((x) => x.transfers?.written ?? [])),
                read: stats(c.runs.flatMap((x) => x.transfers?.read ?? [])),
              },
            }),
            paramBytes: c.runs.find((x) => x.paramBytes !== undefined)?.paramBytes,
          };
        });
        const base = summary.find((c) => c.peer === BASE && c.runs.length) ?? summary.find((c) => c.runs.length);
        const baseLoss = base?.runs[0]?.losses;
        if (base && base.peer !== BASE)
          notes.push(`${key}: ${BASE} did not run, so the "vs ${BASE}" column and Δloss are against ${base.peer}.`);
        for (const c of summary) {
          const l = c.runs[0]?.losses;
          const agree =
            l && baseLoss && c !== base
              ? `${rel(l[0]!, baseLoss[0]!).toExponential(1)} / ${rel(l[l.length - 1]!, baseLoss[baseLoss.length - 1]!).toExponential(1)}`
              : "-";
          rows.push([
            key,
            c.peer,
            c.runs.length ? formatStat(c.tokensPerSec) : `failed: ${c.failures[0] ?? "?"}`,
            c.runs.length ? formatRatio(ratioOfMedians(c.tokensPerSec, base?.tokensPerSec)) : "n/a",
            c.runs.length ? formatMfu(c.mfu) : "n/a",
            c.runs.length ? mib(c.rss) : "n/a",
            c.runs.length ? mib(c.framework) : "n/a",
            c.transfers ? formatTransfers(c.transfers) : "-",
            c.paramBytes !== undefined ? formatBytes(c.paramBytes) : "-",
            l ? l[0]!.toFixed(5) : "n/a",
            l ? l[l.length - 1]!.toFixed(5) : "n/a",
            agree,
          ]);
          if (c.runs.length) {
            tpsBars.push({
              label: `${method} ${c.peer}`,
              method,
              value: c.tokensPerSec.median,
              error: [c.tokensPerSec.min, c.tokensPerSec.max],
            });
            rssBars.push({
              label: `${method} ${c.peer}`,
              method,
              value: c.rss.median / 2 ** 20,
              error: [c.rss.min / 2 ** 20, c.rss.max / 2 ** 20],
            });
          }
          if (c.failures.length)
            notes.push(`${key} ${c.peer}: ${c.failures.length} of ${repeats} runs failed: ${c.failures[0]}`);
        }
        const notHere = peers.filter((p) => !here.includes(p)).map((p) => p.name);
        for (const name of [...skipped.keys(), ...notHere])
          rows.push([
            key,
            name,
            skipped.has(name)
              ? `skipped (see notes): ${oneLine(skipped.get(name)!, 80)}`
              : `not run at ${preset} (see notes)`,
            "n/a",
            "n/a",
            "n/a",
            "n/a",
            "-",
            "-",
            "n/a",
            "n/a",
            "-",
          ]);
        notes.push(targetsLine(key, summary));
        data[key] = {
          preset,
          method,
          vocab: spec.config.vocab,
          trainFlopsPerToken: flopsPerToken,
          batch: spec.config.batch,
          seq: spec.config.seq,
          tokensPerStep: tokens,
          steps,
          warmup: WARM,
          repeats,
          peers: summary,
          skipped: Object.fromEntries(skipped),
        };
      }
      charts.push(
        {
          kind: "bar",
          file: `peers-${preset}-tokens.svg`,
          options: {
            title: `${preset}: training throughput per peer`,
            yLabel: "training throughput (tokens/s)",
            xLabel: BAR_CAPTION,
            bars: tpsBars,
          },
        },
        {
          kind: "bar",
          file: `peers-${preset}-memory.svg`,
          options: {
            title: `${preset}: peak memory per peer`,
            yLabel: "peak process RSS (MiB)",
            xLabel: BAR_CAPTION,
            bars: rssBars,
          },
        },
      );
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const [name, why] of skipped) notes.unshift(`SKIPPED ${name}: ${why}`);
  if (torchChoice) {
    notes.unshift(`PyTorch: ${torchChoice.summary}.`);
    machine.torchOpenblas = torchChoice.chosen
      ? `${torchChoice.chosen.candidate.label} (${torchChoice.chosen.kernel ?? "?"} kernels), ${torchChoice.chosen.gflops.median.toFixed(0)} GFLOP/s sgemm ${torchChoice.shape}`
      : "no candidate passed: the environment's setting";
  }
  if (presets.some(paperSized))
    notes.unshift(
      `${presets.filter(paperSized).join(", ")}: the paper config (vocabulary 32000) at batch ${PAPER.batch}x256 (the paper's 512 sequences do not fit a CPU step), for ${PAPER.peers.join(" and ")} only: the wasm peers run 1 thread and would take minutes per step.`,
    );
  notes.unshift(
    peak
      ? `MFU = 3 × the model's forward FLOPs per token (LanguageModel.forwardFlopsPerToken: matmul weights and attention) × tokens/s ÷ the GEMM peak measured at the start of this run: ${peak.best.toFixed(1)} GFLOP/s, the best repeat of rankfuse-native's own matmul on ${peak.threads} threads over ${Object.keys(peak.shapes).join(", ")} (${peak.bestShape}; ${peak.allThreads.n} repeats each); the same denominator for every peer, whatever its threads. Attention counts in full (4·seq·d per layer and token, as the usual MFU convention does) though a causal kernel can skip half of it, and the peak is one short measurement on a shared machine, so MFU near or above 100% says the step runs at the GEMM's pace, not that the figure is exact.${torchChoice?.chosen && torchChoice.chosen.gflops.max > peak.best ? ` PyTorch's OpenBLAS sgemm (${torchChoice.chosen.gflops.max.toFixed(0)} GFLOP/s at ${torchChoice.shape}) beats it: the machine's peak is higher than this denominator.` : ""}`
      : `MFU: n/a (the native addon did not load, so no GEMM peak was measured).`,
  );
  notes.unshift(
    `each peer: a fresh process trains ${steps} steps (AdamW lr ${LR}, wd ${WD} on 2-D weights, constant lr, no clipping) from rankfuse's init (seed 0) on the same Gutenberg batches (bench/peers/makeInputs.ts); step 1 is warm-up (compile/jit), tokens/s = median over steps ${WARM + 1}..${steps} per process, then median [min-max] over ${presets.map((p) => `${repeatsFor(p)} on ${p}`).join(", ")} processes per peer, repeats interleaved across peers.`,
    `"vs ${BASE}" is the ratio of medians from this run; "Δloss" is the relative difference from ${BASE}'s loss at step 1 (same weights, same batch: float32 rounding only) / at step ${steps} (after ${steps - 1} updates).`,
    `peak RSS: the process's own peak resident set (VmHWM; getrusage would count the bench's own peak, which Linux carries across fork+exec), the one memory figure every peer shares (it includes the runtime: Node+tsx, Python+torch); framework peak: what the framework reports (rankfuse: backend live bytes; tfjs: tf.memory().numBytes; jax-js, PyTorch: none, so RSS).`,
    `host↔backend bytes/step: what one rankfuse training step wrote to its backend (the batch's ids and targets, three optimizer scalars) and read back (loss, gradient norm), counted by the step itself (StepReport.transfers), median [min-max] over every step of every process; params and AdamW's moments stay on the backend ("params bytes" is their scale: the moments are twice that again). "-" for the peers that train in their own process's memory.`,
    `threads: rankfuse-native OpenMP over ${os.availableParallelism()} CPUs; wasm peers 1 thread (no Worker threads for wasm in Node); PyTorch torch.set_num_threads(${os.cpus().length}).`,
  );
  return {
    title: "peers: the same model trained in rankfuse, TensorFlow.js, jax-js and PyTorch",
    headers: [
      "model",
      "peer",
      "tokens/s",
      `vs ${BASE}`,
      "MFU",
      "peak RSS MiB",
      "framework peak MiB",
      "host↔backend bytes/step",
      "params bytes",
      "loss @1",
      `loss @${steps}`,
      "Δloss @1 / @last",
    ],
    rows,
    notes,
    charts,
    machine,
    data: {
      gemmPeak: peak,
      openblas: torchChoice && {
        chosen: torchChoice.chosen?.candidate ?? null,
        kernel: torchChoice.chosen?.kernel ?? null,
        shape: torchChoice.shape,
        measurements: torchChoice.measurements,
      },
      runs: data,
    },
  };
}

function median(xs: readonly number[]): number {
  return stats(xs).median;
}

/** The issue's targets, checked on this run's medians: rankfuse-wasm ≥ 1.5× tfjs-wasm, best rankfuse ≥ 2× jax-js and ≥ PyTorch. */
function targetsLine(key: string, cells: readonly Cell[]): string {
  const get = (n: string) => cells.find((c) => c.peer === n && c.runs.length)?.tokensPerSec;
  const best = [get("rankfuse-native"), get("rankfuse-wasm")]
    .filter((s): s is Stat => !!s)
    .sort((a, b) => b.median - a.median)[0];
  const check = (label: string, a: Stat | undefined, b: Stat | undefined, target: number) => {
    const r = ratioOfMedians(a, b);
    return `${label} ${formatRatio(r)} (target ${target}x: ${Number.isFinite(r) ? (r >= target ? "met" : "NOT met") : "not measured"})`;
  };
  return `${key} targets: ${[check("rankfuse-wasm/tfjs-wasm", get("rankfuse-wasm"), get("tfjs-wasm"), 1.5), check("best rankfuse/jax-js", best, get("jax-js-wasm"), 2), check("best rankfuse/PyTorch", best, get("torch-cpu"), 1)].join("; ")}.`;
}
